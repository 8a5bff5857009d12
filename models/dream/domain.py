"""Between a file's audio and the tagger's: the mono mix at 16 kHz in; a 16 kHz change out, resampled to the
file's rate, fitted to its exact length and added to every channel (so the mix the tagger hears moves by it).

File audio: float32 (channels, frames) at its own rate; model audio: 16 kHz mono float32 [T]. `FileAudio.heard`
is the output's mix back at 16 kHz, as `read_mono` will read it (the resampler's round trip is not exactly
the identity: it shifts by a fraction of a sample), so a dream is judged on the file it writes.
"""

from __future__ import annotations

import numpy as np

from export.core.audio_io import MODEL_RATE, fit_length, mono_at, resample
from export.core.errors import LatentbridgeError

MIN_SECONDS = 0.1  # shorter clips have no full STFT frame or filterbank window to dream on


def check_length(audio: np.ndarray, rate: int, name: str) -> None:
    """A one-line error for a clip too short to dream on."""
    if audio.shape[1] < MIN_SECONDS * rate:
        n = audio.shape[1]
        raise LatentbridgeError(f"{name}: too short to dream on ({n} sample{'s' if n != 1 else ''} at {rate} Hz; "
                                f"at least {MIN_SECONDS:g} s)")


class FileAudio:
    """An input's audio (channels, frames) at `rate`, its 16 kHz mix `model`, and outputs made from a change."""

    def __init__(self, audio: np.ndarray, rate: int) -> None:
        self.audio, self.rate = audio, rate
        self.mix = audio.mean(axis=0)
        self.model = mono_at(audio, rate)

    def upsampled(self, change: np.ndarray) -> np.ndarray:
        """The 16 kHz change at the file's rate and exact length [frames]."""
        if self.rate == MODEL_RATE:
            return fit_length(np.asarray(change, np.float32), self.audio.shape[1])
        return fit_length(resample(np.asarray(change, np.float32), MODEL_RATE, self.rate), self.audio.shape[1])

    def output(self, change: np.ndarray) -> np.ndarray:
        """The output file's audio: the change added to every channel."""
        return (self.audio + self.upsampled(change)[None, :]).astype(np.float32)

    def heard(self, change: np.ndarray) -> np.ndarray:
        """What the tagger hears of `output(change)`: its mix at 16 kHz, [T] (the length of `model`)."""
        if not np.any(change):
            return self.model
        if self.rate == MODEL_RATE:
            return (self.model + fit_length(np.asarray(change, np.float32), self.model.shape[0])).astype(np.float32)
        mix = (self.mix + self.upsampled(change)).astype(np.float32)
        return fit_length(resample(mix, self.rate, MODEL_RATE), self.model.shape[0]).astype(np.float32)
