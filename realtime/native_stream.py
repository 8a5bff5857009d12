"""The native audio backend: a PortAudio duplex stream whose callback is C (`realtime/native/audio_stream.c`) and
never takes the interpreter lock, and `Blocks` views of its rings for the engine's worker and the recorders.

Blocks are float32 at the device rate: [blocksize, 1] in the input and output rings (the mono mix, the chain's
output), [blocksize, channels] in the recording taps. Device indices are sounddevice's: both load the same
libportaudio.so.2 (`sounddevice._libname`), so they share one PortAudio (devices, JACK client, init count).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from realtime.devices import open_error, portaudio_messages

INPUT, OUTPUT, RECORDED_OUTPUT, RECORDED_INPUT = range(4)  # the stream's rings, as the C side numbers them


def load() -> Any:
    """The extension module with PortAudio loaded into it; a LatentbridgeError that says why not."""
    try:
        from realtime import _audio_native
    except ImportError as exc:
        raise LatentbridgeError(f"the native audio stream is not built ({exc}; run `pip install -e .`)") from exc
    try:
        import sounddevice as sd

        _audio_native.load(sd._libname)
    except (ImportError, OSError) as exc:
        raise LatentbridgeError(f"PortAudio cannot be loaded for the native audio stream ({exc})") from exc
    return _audio_native


def unavailable() -> str | None:
    """Why the native stream cannot be used here, or None when it can."""
    try:
        load()
    except LatentbridgeError as exc:
        return str(exc)
    return None


class NativeRing:
    """One of the stream's rings as `Blocks`: `get` copies a block out; only the output ring takes `put`."""

    def __init__(self, stream: Any, which: int, blocksize: int, channels: int = 1) -> None:
        self.stream, self.which, self.shape = stream, which, (blocksize, channels)

    @property
    def newest(self) -> int:
        return int(self.stream.newest(self.which))

    def get(self, seq: int) -> np.ndarray | None:
        block = np.empty(self.shape, np.float32)
        return block if self.stream.get(self.which, seq, block) else None

    def put(self, seq: int, block: np.ndarray) -> None:
        if self.which != OUTPUT:
            raise LatentbridgeError("only the output ring is written from Python (the callback writes the others)")
        self.stream.put_output(seq, np.ascontiguousarray(block, np.float32).reshape(-1))


def open_stream(input_device: int | None, output_device: int | None, samplerate: int, blocksize: int,
                channels: int, prefill: int, slots: int, fade_in: np.ndarray, record_slots: tuple[int, int],
                priority: int) -> Any:
    """Open (not start) the native duplex stream at sounddevice's `latency="low"` for these devices (None: the
    default); `record_slots` (output, input) of 0 leave a recording tap out. LatentbridgeError when refused."""
    native = load()
    import sounddevice as sd

    devices, latencies = [], []
    try:
        with portaudio_messages() as said:
            for device, kind in ((input_device, "input"), (output_device, "output")):
                info = sd.query_devices(device, kind)
                devices.append(int(info["index"]))
                latencies.append(float(info[f"default_low_{kind}_latency"]))
            return native.Stream(devices[0], devices[1], float(samplerate), blocksize, channels, prefill, slots,
                                 np.ascontiguousarray(fade_in, np.float32), latencies[0], latencies[1],
                                 record_slots[0], record_slots[1], priority)
    except (ValueError, OSError, sd.PortAudioError) as exc:
        raise open_error(exc, said) from exc
