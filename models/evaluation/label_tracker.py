"""A stand-in for the multi-pitch tracker that reads a phrase's labels: what a perfect, zero-latency tracker would
give the voices (`eval voices --oracle-tracker`, a diagnostic of where the voices lose notes, not a system).

Frames of 128 samples at 16 kHz, frame i = samples [i * 128, (i + 1) * 128): activations [264] are the training
targets (models/polypitch/labels.py: a Gaussian of 0.7 bins around each sounding note's bent pitch, onset to
key-up) and onsets [88] are 1 in a note's first two frames; frames past the labels' phrase length are silent.
"""

from __future__ import annotations

import numpy as np

from export.core.audio_io import MODEL_RATE
from export.poly.tracker import BINS, HOP, SEMITONES
from models.data.poly_midi import NoteLabel
from models.polypitch.labels import frame_targets


class LabelStream:
    """`push(audio [k * 128])` -> the labels' (activations [k, 264], onsets [k, 88]) of the next k frames."""

    def __init__(self, notes: tuple[NoteLabel, ...]) -> None:
        self.notes, self.frame = notes, 0

    def push(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = audio.shape[0] // HOP
        if frames == 0:
            return np.zeros((0, BINS), np.float32), np.zeros((0, SEMITONES), np.float32)
        activations, onsets = frame_targets(self.notes, self.frame, frames, HOP, MODEL_RATE)
        self.frame += frames
        return activations, onsets


class LabelTracker:
    """The labels of the phrase being judged (`use(notes)` before each one); `stream()` starts at its frame 0."""

    def __init__(self) -> None:
        self.notes: tuple[NoteLabel, ...] = ()

    def use(self, notes: tuple[NoteLabel, ...]) -> None:
        self.notes = notes

    def stream(self) -> LabelStream:
        return LabelStream(self.notes)
