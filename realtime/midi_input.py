"""MIDI input for the live engine (`live --midi-in PORT`, `latentbridge midi-devices`): a port opened through
rtmidi, drained by the worker at the start of each block, and routed to parameter changes (the chain's
`midi_map`, MIDI learn) or to the chain's MIDI stages, both as logged, replayable control changes.

API: JACK MIDI when a JACK server runs, else the ALSA sequencer (Linux), CoreMIDI (macOS: the IAC Driver bus
is how Ableton Live sends to another program) or Windows MM, whichever this rtmidi build has. A port is named
by a part of its name (one-line error listing the ports there are) or `virtual`: a port of our own,
`latentbridge-midi:latentbridge`, for others to connect to. Messages wait in rtmidi's own queue (filled in the
MIDI API's thread, JACK's process callback included, without the interpreter: a Python callback there would
have to take the interpreter lock inside the audio server's cycle) until the worker takes them; each keeps its
arrival time (seconds, the API's clock). Sysex, clock and active sensing are ignored. MIDI channels are 1..16
where users see them.
"""

from __future__ import annotations

import queue
from typing import Any

import rtmidi

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.midi_map import split_target
from realtime.control_log import PendingChange, midi_change, parameter_change
from realtime.devices import portaudio_messages

CLIENT_NAME, VIRTUAL_PORT = "latentbridge-midi", "latentbridge"
APIS = {name: api for name, api in (("JACK", rtmidi.API_UNIX_JACK), ("ALSA", rtmidi.API_LINUX_ALSA),
                                    ("CoreMIDI", rtmidi.API_MACOSX_CORE), ("Windows MM", rtmidi.API_WINDOWS_MM))
        if api in rtmidi.get_compiled_api()}
QUEUE_LIMIT = 4096  # messages rtmidi holds between two blocks before it drops (with a warning of its own)
CONTROL = 0xB0


def _open(api: str) -> rtmidi.MidiIn | None:
    """A MidiIn on `api`, or None where that API has no server/sequencer here (its chatter kept off stderr)."""
    with portaudio_messages():
        try:
            return rtmidi.MidiIn(APIS[api], name=CLIENT_NAME, queue_size_limit=QUEUE_LIMIT)
        except rtmidi.RtMidiError:
            return None


def list_ports() -> dict[str, list[str] | None]:
    """Input ports (other programs' outputs) per API; None where the API is not available."""
    out: dict[str, list[str] | None] = {}
    for api in APIS:
        midi_in = _open(api)
        out[api] = None if midi_in is None else list(midi_in.get_ports())
        if midi_in is not None:
            midi_in.delete()
    return out


def device_table() -> str:
    """What `latentbridge midi-devices` prints."""
    lines = []
    for api, ports in list_ports().items():
        if ports is None:
            why = {"JACK": "no JACK server running", "ALSA": "no ALSA sequencer (/dev/snd/seq)"}.get(api, "not usable")
            lines.append(f"{api}: not available ({why})")
        else:
            lines.append(f"{api}:" + ("" if ports else " no MIDI input ports"))
            lines.extend(f"  {i:3d} {name}" for i, name in enumerate(ports))
    return "\n".join(lines)


class MidiInput:
    """An open MIDI input port (see the module docstring); `drain()` takes what has arrived, oldest first."""

    def __init__(self, port: str) -> None:
        midi_in = None
        for api in APIS:
            if (midi_in := _open(api)) is not None:
                self.api = api
                break
        if midi_in is None:
            raise LatentbridgeError("no MIDI API available: start a JACK server, or load ALSA's sequencer "
                                    "(/dev/snd/seq); on macOS enable the IAC Driver")
        self.midi_in = midi_in
        midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
        if port == "virtual":
            midi_in.open_virtual_port(VIRTUAL_PORT)
            self.port = f"{CLIENT_NAME}:{VIRTUAL_PORT}"
        else:
            ports = list(midi_in.get_ports())
            found = [i for i, name in enumerate(ports) if port.lower() in name.lower()]
            if not found:
                midi_in.delete()
                raise LatentbridgeError(f"no {self.api} MIDI input port matches {port!r} (ports: "
                                        f"{', '.join(ports) or 'none'}; or `virtual`)")
            midi_in.open_port(found[0], VIRTUAL_PORT)
            self.port = ports[found[0]]
        self.received = 0
        self.clock = 0.0  # the arrival time of the last message (seconds since the first)

    def drain(self) -> list[tuple[bytes, float]]:
        """(message, arrival time) of everything that has arrived since the last call."""
        got = []
        while (item := self.midi_in.get_message()) is not None:
            message, delta = item
            self.clock += delta
            got.append((bytes(message), self.clock))
        self.received += len(got)
        return got

    def close(self) -> None:
        self.midi_in.close_port()
        self.midi_in.delete()


class MidiRouter:
    """Turns MIDI messages into pending changes for the worker: a CC the chain's `midi_map` maps sets those
    parameters; anything else goes to the chain's MIDI stages. MIDI learn: `request("learn", "stage/param")`
    maps the next CC that moves to it, `request("forget", ...)` drops its CCs (OSC calls these; the worker
    applies them, under the chain lock, before the block's messages)."""

    def __init__(self, source: MidiInput | None) -> None:
        self.source = source
        self.learning: tuple[str, str] | None = None
        self.requests: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()

    def request(self, kind: str, target: str, chain: Chain) -> None:
        """Learn or forget `target` ("stage/parameter", checked on `chain`: one-line error if unknown)."""
        if kind not in ("learn", "forget"):
            raise LatentbridgeError(f"MIDI request must be learn or forget, got {kind!r}")
        self.requests.put((kind, "/".join(split_target(chain, target))))

    def changes(self, chain: Chain, messages: list[bytes]) -> list[PendingChange]:
        """The pending changes of `messages` on `chain` (learn/forget requests first)."""
        while True:
            try:
                kind, target = self.requests.get_nowait()
            except queue.Empty:
                break
            stage, name = target.split("/")
            if kind == "learn":
                self.learning = (stage, name)
            else:
                chain.midi_map = chain.midi_map.forget(stage, name)
                if self.learning == (stage, name):
                    self.learning = None
        out = []
        for message in messages:
            if len(message) == 3 and message[0] & 0xF0 == CONTROL:
                channel, cc, value = (message[0] & 0x0F) + 1, message[1], message[2]
                if self.learning is not None:
                    chain.midi_map = chain.midi_map.learnt(cc, channel, *self.learning)
                    self.learning = None
                mapped = chain.midi_map.values(chain, channel, cc, value)
                if mapped:
                    out += [parameter_change(stage, name, v) for stage, name, v in mapped]
                    continue
            out.append(midi_change(message))
        return out

    def take(self, chain: Chain) -> list[PendingChange]:
        """What has arrived at the input since the last call, as pending changes on `chain`."""
        messages = [m for m, _ in self.source.drain()] if self.source is not None else []
        return self.changes(chain, messages)

    def status(self, chain: Chain) -> dict[str, Any]:
        src = self.source
        return {"port": src.port if src else None, "api": src.api if src else None,
                "received": src.received if src else 0,
                "learning": "/".join(self.learning) if self.learning else None, "map": chain.midi_map.rows()}

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
