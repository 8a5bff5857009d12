"""A stand-in for the multi-pitch tracker that reads a phrase's labels: what a perfect, zero-latency tracker would
give the voices (`eval voices --oracle-tracker`, a diagnostic of where the voices lose notes, not a system).
A part of it (`ORACLE_PARTS`): "all" gives both outputs from the labels; "frames" the labels' activations beside
the real tracker's onsets, "onsets" the real tracker's activations beside the labels' onsets (which of the
tracker's two outputs the voices miss most). Two more split the tracker's activation errors, both with its own
onsets: "clean" keeps its activations only near a sounding labelled note (its false frames removed: release
tails, octaves, neighbours; its misses and late starts kept), "filled" raises them to the labels' wherever those
are higher (its misses and late starts removed, its false frames kept).

Frames of 128 samples at 16 kHz, frame i = samples [i * 128, (i + 1) * 128): activations [264] are the training
targets (models/polypitch/labels.py: a Gaussian of 0.7 bins around each sounding note's bent pitch, onset to
key-up) and onsets [88] are 1 in a note's first two frames; frames past the labels' phrase length are silent.
"""

from __future__ import annotations

import numpy as np

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from export.poly.tracker import BINS, HOP, SEMITONES, FrameSource, FrameStream
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


ORACLE_PARTS = ("all", "frames", "onsets", "clean", "filled")
NEAR_LABEL = 0.01  # "clean": a bin counts as near a sounding note where the labels' Gaussian reaches this (+-2 bins)


class MixedStream:
    """The tracker's outputs with one of them replaced or corrected by the labels (`part`: "frames", "onsets",
    "clean" or "filled", as in the module docstring)."""

    def __init__(self, labels: LabelStream, tracker: FrameStream, part: str) -> None:
        self.labels, self.tracker, self.part = labels, tracker, part

    def push(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (label_act, label_onsets), (act, onsets) = self.labels.push(audio), self.tracker.push(audio)
        if self.part == "frames":
            return label_act, onsets
        if self.part == "onsets":
            return act, label_onsets
        if self.part == "clean":
            return np.where(label_act >= NEAR_LABEL, act, 0.0).astype(np.float32), onsets
        return np.maximum(act, label_act), onsets


class LabelTracker:
    """The labels of the phrase being judged (`use(notes)` before each one); `stream()` starts at its frame 0.
    For the other parts the tracker's outputs come from `tracker`."""

    def __init__(self, part: str = "all", tracker: FrameSource | None = None) -> None:
        if part not in ORACLE_PARTS:
            raise LatentbridgeError(f"oracle part must be one of {ORACLE_PARTS}, got {part!r}")
        if (part == "all") != (tracker is None):
            raise LatentbridgeError("a tracker goes with every part but 'all'")
        self.part, self.tracker = part, tracker
        self.notes: tuple[NoteLabel, ...] = ()

    def use(self, notes: tuple[NoteLabel, ...]) -> None:
        self.notes = notes

    def stream(self) -> FrameStream:
        labels = LabelStream(self.notes)
        return labels if self.tracker is None else MixedStream(labels, self.tracker.stream(), self.part)
