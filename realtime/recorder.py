"""Writes what the engine played to a WAV file from a background thread: the audio callback only copies each
block into a ring (`BlockRing`), the thread drains it to disk as 32-bit float WAV (format 3) under a temporary
name, renamed into place when the recording stops. Plain file writes release the interpreter lock during the
system call (an audio-file library that holds it stalled the worker), so the header is written first with
placeholder sizes and patched on close. Blocks are float32 [blocksize, channels] at the device rate. With the
native audio stream the callback writes its own ring and the engine points `source` at it.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

from export.core.errors import LatentbridgeError
from realtime.block_ring import BlockRing, Blocks

HEADER = 44


def wav_header(samplerate: int, channels: int, frames: int) -> bytes:
    """The 44-byte header of a 32-bit float WAV with `frames` frames."""
    data = frames * channels * 4
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 3, channels, samplerate, samplerate * channels * 4, channels * 4, 32) +
            b"data" + struct.pack("<I", data))


class Recorder:
    def __init__(self, path: str | Path, samplerate: int, blocksize: int, channels: int, force: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not force:
            raise LatentbridgeError(f"{self.path} exists (use --force to replace it)")
        if not self.path.parent.is_dir():
            raise LatentbridgeError(f"{self.path.parent}: no such folder for the recording")
        self.samplerate, self.channels = samplerate, channels
        self.ring = BlockRing(max(64, 4 * samplerate // blocksize), blocksize, channels)  # >= 4 s of slack
        self.source: Blocks = self.ring  # where the thread drains from (set before the first block is written)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")
        self.file = open(self.tmp, "wb")  # noqa: SIM115 (closed in close())
        self.file.write(wav_header(samplerate, channels, 0))
        self.next, self.dropped, self.frames = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="recorder", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            stopping = self._stop.is_set()
            while self.next <= self.source.newest:
                block = self.source.get(self.next)
                if block is None:  # overwritten: the thread fell more than the ring behind
                    self.dropped += 1
                else:
                    self.file.write(block.astype("<f4").tobytes())
                    self.frames += block.shape[0]
                self.next += 1
            if stopping:
                return
            self._stop.wait(0.05)

    def close(self) -> Path:
        self._stop.set()
        self._thread.join()
        self.file.seek(0)
        self.file.write(wav_header(self.samplerate, self.channels, self.frames))
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path
