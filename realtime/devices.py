"""Audio devices through sounddevice (PortAudio): listing with host APIs, choosing a duplex pair, checking a
rate, and naming the JACK client, with one-line errors for missing, busy or unsupported devices.

`latentbridge devices` prints what `python -m sounddevice` prints, grouped by host API, with the default
rate and channel counts. A device is given by index or by a case-insensitive part of its name; `hostapi`
restricts the choice to one host API (e.g. "JACK", "ALSA") and defaults to that API's own devices.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from export.core.errors import LatentbridgeError

log = logging.getLogger(__name__)

JACK_CLIENT_NAME = "latentbridge"
_client_name = ctypes.create_string_buffer(64)  # PortAudio keeps the pointer, so the buffer must outlive it


def _sd() -> Any:
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise LatentbridgeError(f"PortAudio is not available ({exc}); sudo apt-get install libportaudio2") from exc
    return sd


def name_jack_client(name: str = JACK_CLIENT_NAME) -> None:
    """Make PortAudio register as JACK client `name` (instead of "PortAudio"): re-initialises PortAudio."""
    sd = _sd()
    try:
        lib = ctypes.CDLL(sd._libname)
        setter = lib.PaJack_SetClientName
    except (OSError, AttributeError):
        return  # no JACK support compiled in: nothing to name
    sd._terminate()
    _client_name.value = name.encode()[:63]
    setter.argtypes = [ctypes.c_char_p]
    setter(_client_name)
    sd._initialize()


def hostapi_index(name: str) -> int:
    sd = _sd()
    apis = sd.query_hostapis()
    for i, api in enumerate(apis):
        if name.lower() in api["name"].lower():
            return i
    raise LatentbridgeError(f"no host API matching {name!r} (available: {', '.join(a['name'] for a in apis)}); "
                            "for JACK, start a JACK server first")


def find_device(spec: str | int | None, kind: str, hostapi: int | None) -> int:
    """The index of the input or output (`kind`) device `spec` (index, name part, or None for the default)."""
    sd = _sd()
    devices = sd.query_devices()
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [(i, d) for i, d in enumerate(devices)
              if d[channels] > 0 and (hostapi is None or d["hostapi"] == hostapi)]
    if spec is None:
        if hostapi is not None:
            default = sd.query_hostapis(hostapi)[f"default_{kind}_device"]
            if default >= 0:
                return int(default)
            if usable:
                return usable[0][0]
        else:
            default = sd.default.device[0 if kind == "input" else 1]
            if default is not None and default >= 0:
                return int(default)
        raise LatentbridgeError(f"no {kind} device available" + (" on that host API" if hostapi is not None else ""))
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if not any(i == index for i, _ in usable):
            raise LatentbridgeError(f"no {kind} device {index} (see `latentbridge devices`)")
        return index
    matches = [i for i, d in usable if str(spec).lower() in d["name"].lower()]
    if not matches:
        names = ", ".join(d["name"] for _, d in usable) or "none"
        raise LatentbridgeError(f"no {kind} device matching {spec!r} (available: {names})")
    return matches[0]


def check_settings(input_device: int, output_device: int, samplerate: int, channels: int) -> None:
    sd = _sd()
    try:
        sd.check_input_settings(device=input_device, channels=channels, samplerate=samplerate, dtype="float32")
        sd.check_output_settings(device=output_device, channels=channels, samplerate=samplerate, dtype="float32")
    except sd.PortAudioError as exc:
        raise LatentbridgeError(f"the device cannot do {samplerate} Hz with {channels} channel(s): {exc}") from exc


def device_table() -> str:
    """What `latentbridge devices` prints."""
    sd = _sd()
    lines = []
    devices = sd.query_devices()
    for a, api in enumerate(sd.query_hostapis()):
        lines.append(f"{api['name']}:")
        for i, d in enumerate(devices):
            if d["hostapi"] != a:
                continue
            mark = ("<" if i == sd.default.device[0] else " ") + (">" if i == sd.default.device[1] else " ")
            lines.append(f" {mark}{i:3d} {d['name']} ({d['max_input_channels']} in, {d['max_output_channels']} out, "
                         f"{d['default_samplerate']:.0f} Hz)")
    return "\n".join(lines)


@contextlib.contextmanager
def portaudio_messages() -> Iterator[list[str]]:
    """Collect what PortAudio itself prints to stderr (file descriptor 2) inside the block, so its diagnostics
    cannot break a one-line error; the list holds those lines once the block has ended (logged at debug)."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line for line in sink.read().decode(errors="replace").splitlines() if line.strip())
            for line in lines:
                log.debug("PortAudio: %s", line)


def open_error(exc: Exception, said: list[str]) -> LatentbridgeError:
    """The one-line error for a stream PortAudio would not open, from its exception and what it printed."""
    text = str(exc)
    if any("jack_port_register" in line for line in said):
        why = "the JACK server refused the stream's ports (it is full: other clients hold every port it allows)"
    elif "Device unavailable" in text or "-9985" in text:
        why = f"the device is busy (another program holds it): {text}"
    else:
        why = f"{text} (busy, or a setting it cannot do?)"
    return LatentbridgeError(f"cannot open the audio device: {why}")
