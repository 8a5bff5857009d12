"""The exported multi-pitch tracker at run time (ONNX Runtime only): activations and onsets per control frame.

Audio is float32 mono at 16 kHz; frame i covers samples [i * 128, (i + 1) * 128) and depends only on audio up
to its end (zero look-ahead). Outputs per frame: activations [264] (sigmoid; bin b centred on MIDI 21 + b / 3,
so bin 3 k is MIDI 21 + k and bin 261 is MIDI 108) and onsets [88] (sigmoid; k is MIDI 21 + k). The graph
`NAME.tracker.onnx` takes `audio` [1, k * 128] and its state (`tail`, `cache_*`) and returns `activations`,
`onsets` and `NAME_out` for each state tensor, so blocks of any size with the carried state equal one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.bundled import bundled_graph
from export.onnx.loader import OnnxModel, filled_input, open_model

LOWEST_MIDI, BINS_PER_SEMITONE, SEMITONES = 21, 3, 88
BINS = SEMITONES * BINS_PER_SEMITONE
HOP = 128
BLOCK_FRAMES = 512  # frames per call of the offline path (4.1 s)


def bin_midi(bins: np.ndarray | float) -> np.ndarray:
    """Fractional MIDI of (fractional) activation bins."""
    return LOWEST_MIDI + np.asarray(bins, np.float64) / BINS_PER_SEMITONE


def midi_bin(midi: np.ndarray | float) -> np.ndarray:
    """The (fractional) activation bin of a MIDI pitch."""
    return (np.asarray(midi, np.float64) - LOWEST_MIDI) * BINS_PER_SEMITONE


def onset_index(midi: np.ndarray | float) -> np.ndarray:
    """The onset output (0 .. 87) of the semitone nearest a MIDI pitch, clipped to MIDI 21..108."""
    return np.clip(np.round(np.asarray(midi, np.float64)).astype(int) - LOWEST_MIDI, 0, SEMITONES - 1)


def midi_hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def refine_peak(row: np.ndarray, peak: int) -> float:
    """Fractional bin of the peak at `peak` of one frame's activations: the vertex of the parabola through it
    and its two neighbours (within half a bin; the bin itself at the edges or on a flat top)."""
    if peak <= 0 or peak >= row.shape[0] - 1:
        return float(peak)
    left, mid, right = (float(v) for v in row[peak - 1: peak + 2])
    curvature = left - 2.0 * mid + right
    if curvature >= 0.0:
        return float(peak)
    return float(peak + np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def frame_pitches(row: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Fractional MIDI of every local maximum of one frame's activations at or above `threshold`."""
    padded = np.concatenate([[-np.inf], row, [-np.inf]])
    peaks = np.flatnonzero((row >= threshold) & (row >= padded[:-2]) & (row > padded[2:]))
    return bin_midi(np.array([refine_peak(row, int(p)) for p in peaks]))


class FrameStream(Protocol):
    """What the voices read per push: `push(audio [k * 128])` -> (activations [k, 264], onsets [k, 88])."""

    def push(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class FrameSource(Protocol):
    """A tracker as the voices use it: a fresh stream from silence (`PolyTracker`, or a judge's stand-in)."""

    def stream(self) -> FrameStream: ...


class PolyTracker:
    """One opened tracker graph; `activations(audio)` runs a whole signal in blocks."""

    def __init__(self, graph: OnnxModel) -> None:
        self.graph = graph
        self.hop = int(graph.metadata.get("hop", HOP))
        outputs = {o.name: o.shape for o in graph.session.get_outputs()}
        if outputs.get("activations", [None])[-1] != BINS or outputs.get("onsets", [None])[-1] != SEMITONES:
            raise LatentbridgeError(f"{graph.path}: not a {BINS}-bin / {SEMITONES}-onset tracker graph")

    @classmethod
    def open(cls, path: str | Path | None = None, threads: int = 1) -> PolyTracker:
        """Open `path` (a `NAME.tracker.onnx`; default: the bundled tracker); a one-line error when it is
        missing, unreadable or another kind of graph."""
        path = bundled_graph("poly", "tracker") if path is None else Path(path)
        return cls(open_model(path, kind="poly", graph="tracker", threads=threads))

    def stream(self) -> PolyTrackerStream:
        return PolyTrackerStream(self)

    def initial_state(self) -> dict[str, np.ndarray]:
        return {i.name: filled_input(i, 1) for i in self.graph.session.get_inputs() if i.name != "audio"}

    def activations(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(activations [F, 264], onsets [F, 88]) of mono 16 kHz audio [T], F = T // 128 (a partial last
        frame is left out), computed in blocks of `BLOCK_FRAMES` frames."""
        stream = PolyTrackerStream(self)
        frames = audio.shape[0] // self.hop
        parts = [stream.push(audio[first * self.hop: min(frames, first + BLOCK_FRAMES) * self.hop])
                 for first in range(0, frames, BLOCK_FRAMES)]
        if not parts:
            return np.zeros((0, BINS), np.float32), np.zeros((0, SEMITONES), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class PolyTrackerStream:
    """The tracker on a live stream: `push(audio [k * 128])` -> (activations [k, 264], onsets [k, 88]) of the k
    frames it completes; starts from silence."""

    def __init__(self, tracker: PolyTracker) -> None:
        self.tracker = tracker
        self.state = tracker.initial_state()

    def push(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hop = self.tracker.hop
        if audio.ndim != 1 or audio.shape[0] % hop:
            raise LatentbridgeError(f"tracker blocks must be 1-D multiples of {hop} samples, got shape "
                                    f"{audio.shape}")
        if audio.shape[0] == 0:
            return np.zeros((0, BINS), np.float32), np.zeros((0, SEMITONES), np.float32)
        out = self.tracker.graph.run(audio=audio[None].astype(np.float32), **self.state)
        self.state = {name: out[f"{name}_out"] for name in self.state}
        return out["activations"][0], out["onsets"][0]
