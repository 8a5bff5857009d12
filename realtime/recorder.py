"""Writes what the engine played to a WAV file from a background thread: the audio callback only copies each
block into a ring (`BlockRing`), the thread drains it into `pedalboard.io.AudioFile` under a temporary name,
renamed into place when the recording stops (an interrupted session still leaves a complete file).
Blocks are float32 [blocksize, channels] at the device rate; the file is 32-bit float.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pedalboard.io import AudioFile

from export.errors import LatentbridgeError
from realtime.block_ring import BlockRing


class Recorder:
    def __init__(self, path: str | Path, samplerate: int, blocksize: int, channels: int, force: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not force:
            raise LatentbridgeError(f"{self.path} exists (use --force to replace it)")
        if not self.path.parent.is_dir():
            raise LatentbridgeError(f"{self.path.parent}: no such folder for the recording")
        self.ring = BlockRing(max(64, 4 * samplerate // blocksize), blocksize, channels)  # >= 4 s of slack
        self.tmp = self.path.with_name(f".{self.path.name}.partial.wav")
        self.file = AudioFile(str(self.tmp), "w", samplerate, channels, bit_depth=32)
        self.next, self.dropped, self.blocks = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="recorder", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            stopping = self._stop.is_set()
            while self.next <= self.ring.newest:
                block = self.ring.get(self.next)
                if block is None:  # overwritten: the thread fell more than the ring behind
                    self.dropped += 1
                else:
                    self.file.write(block.T)
                    self.blocks += 1
                self.next += 1
            if stopping:
                return
            self._stop.wait(0.05)

    def close(self) -> Path:
        self._stop.set()
        self._thread.join()
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path
