"""Phrases for the multi-pitch tracker and their frame targets (numpy).

Phrases come from `models.data.poly_reader` (a `latentbridge dataset poly` render: DIR/phrases.json,
DIR/SPLIT/NAME.wav + NAME.json with the notes; onset / offset in seconds, bend as (seconds, semitones)).
Frame i covers samples [i * hop, (i + 1) * hop); a note sounds in frame i when onset < (i + 1) * hop / sr and
offset > i * hop / sr, at its pitch plus the bend in force at the frame's centre. Targets: activations
[F, 264] (a Gaussian of `sigma` bins around the bent pitch, bin b = MIDI 21 + b / 3, the maximum over notes)
and onsets [F, 88] (1 in the frame holding the onset and the next). A re-strike is an onset at a semitone whose
previous note was let go less than RESTRIKE_GAP before (its release still rings: a strum repeating a chord);
`restrikes` marks its onset frames. `activation_weights` marks where a causal tracker errs most (issue 16): the
frames just after a key-up at the released note's bins, where the SoundFont's release still rings but the target
is 0, and the first frames of each note; optionally the bins an octave below and an octave, a twelfth and two
octaves above each sounding note (HARMONIC_INTERVALS), where organ stops, pads and overtones make a tracker hear
notes that are not played.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.data.poly_midi import NoteLabel
from models.data.poly_reader import PolyPhrase, read_poly

LOWEST_MIDI, BINS_PER_SEMITONE, SEMITONES = 21, 3, 88
BINS = SEMITONES * BINS_PER_SEMITONE
ONSET_FRAMES = 2
RESTRIKE_GAP = 0.1  # seconds
HARMONIC_INTERVALS = (-12, 12, 19, 24)  # semitones from a sounding note where false notes cluster


def bend_at(note: NoteLabel, times: np.ndarray) -> np.ndarray:
    """Semitones of bend in force at each time (0 before the first bend event)."""
    if not note.bend:
        return np.zeros_like(times, dtype=np.float64)
    events = sorted(note.bend)
    at, value = np.array([b[0] for b in events]), np.array([b[1] for b in events])
    index = np.searchsorted(at, times, side="right") - 1
    return np.where(index >= 0, value[np.maximum(index, 0)], 0.0)


def read_phrases(root: Path, split: str) -> list[PolyPhrase]:
    """The phrases of one split (models/data/poly_reader.py), sorted by name."""
    return read_poly(root, split)


def note_frames(note: NoteLabel, hop: int, sample_rate: int) -> tuple[int, int]:
    """[first, last) frames in which the note sounds."""
    first = int(np.floor(note.onset * sample_rate / hop))
    last = int(np.ceil(note.offset * sample_rate / hop))
    return max(first, 0), max(last, first + 1)


def _mark_onset(grid: np.ndarray, note: NoteLabel, semitone: int, first: int, hop: int, sample_rate: int) -> None:
    """Set `grid` [frames, 88] (frame 0 = `first`) to 1 at MIDI `semitone` in the note's ONSET_FRAMES onset
    frames that fall inside it."""
    k, start = semitone - LOWEST_MIDI, int(np.floor(note.onset * sample_rate / hop))
    if 0 <= k < SEMITONES:
        for i in range(max(start, first), min(start + ONSET_FRAMES, first + grid.shape[0])):
            grid[i - first, k] = 1.0


def frame_targets(notes: tuple[NoteLabel, ...], first: int, frames: int, hop: int, sample_rate: int,
                  sigma: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """(activations [frames, 264], onsets [frames, 88]) for frames first .. first + frames - 1."""
    activations = np.zeros((frames, BINS), np.float32)
    onsets = np.zeros((frames, SEMITONES), np.float32)
    bins = np.arange(BINS)
    for note in notes:
        lo, hi = note_frames(note, hop, sample_rate)
        lo, hi = max(lo, first), min(hi, first + frames)
        if lo < hi:
            centre = (np.arange(lo, hi) + 0.5) * hop / sample_rate
            midi = note.pitch + bend_at(note, centre)
            bump = np.exp(-0.5 * ((bins[None, :] - (midi[:, None] - LOWEST_MIDI) * BINS_PER_SEMITONE) / sigma) ** 2)
            rows = slice(lo - first, hi - first)
            activations[rows] = np.maximum(activations[rows], bump.astype(np.float32))
        semitone = int(round(note.pitch + float(bend_at(note, np.array([note.onset]))[0])))
        _mark_onset(onsets, note, semitone, first, hop, sample_rate)
    return activations, onsets


def restrikes(notes: tuple[NoteLabel, ...], first: int, frames: int, hop: int, sample_rate: int) -> np.ndarray:
    """[frames, 88] 1 in the onset frames (as in `frame_targets`) of re-struck notes (see the module docstring),
    else 0."""
    marks = np.zeros((frames, SEMITONES), np.float32)
    for note in notes:
        semitone = note.pitch
        if not any(other.pitch == semitone and other.onset < note.onset < other.offset + RESTRIKE_GAP
                   for other in notes):
            continue
        _mark_onset(marks, note, semitone, first, hop, sample_rate)
    return marks


def activation_weights(notes: tuple[NoteLabel, ...], first: int, frames: int, hop: int, sample_rate: int,
                       tail_frames: int, tail_weight: float, attack_frames: int, attack_weight: float,
                       harmonic_weight: float = 1.0,
                       harmonic_intervals: tuple[float, ...] = HARMONIC_INTERVALS) -> np.ndarray:
    """[frames, 264] loss weights for the activation targets of frames first .. first + frames - 1: 1, times
    `tail_weight` in the `tail_frames` frames after each key-up at the bins within one semitone of the note's
    final (bent) pitch, `attack_weight` in each note's first `attack_frames` frames at the bins within one
    semitone of its pitch, and `harmonic_weight` in every frame a note sounds at the bins within one semitone of
    its (bent) pitch plus each of `harmonic_intervals` semitones (the largest where they meet). Where another note
    sounds at those bins the target is positive there; the weight applies all the same (the frames are as hard)."""
    weights = np.ones((frames, BINS), np.float32)
    for note in notes:
        lo, hi = note_frames(note, hop, sample_rate)
        spans = ((hi, hi + tail_frames, tail_weight, note.offset), (lo, min(hi, lo + attack_frames), attack_weight,
                                                                     note.onset))
        for start, stop, weight, at in spans:
            start, stop = max(start, first), min(stop, first + frames)
            if start >= stop or weight == 1.0:
                continue
            centre = (note.pitch + float(bend_at(note, np.array([at]))[0]) - LOWEST_MIDI) * BINS_PER_SEMITONE
            bins = slice(max(int(np.ceil(centre - BINS_PER_SEMITONE)), 0),
                         min(int(np.floor(centre + BINS_PER_SEMITONE)) + 1, BINS))
            rows = slice(start - first, stop - first)
            weights[rows, bins] = np.maximum(weights[rows, bins], weight)
        start, stop = max(lo, first), min(hi, first + frames)
        if harmonic_weight != 1.0 and start < stop:
            midi = note.pitch + bend_at(note, (np.arange(start, stop) + 0.5) * hop / sample_rate)
            sounding = weights[start - first: stop - first]  # a view: the marks land in `weights`
            for interval in harmonic_intervals:
                centre = (midi + interval - LOWEST_MIDI) * BINS_PER_SEMITONE
                near = np.abs(np.arange(BINS)[None, :] - centre[:, None]) <= BINS_PER_SEMITONE
                sounding[near] = np.maximum(sounding[near], harmonic_weight)
    return weights


def reference_grid(notes: tuple[NoteLabel, ...], frames: int, hop: int, sample_rate: int) -> list[np.ndarray]:
    """Per frame, the sounding (bent) pitches in fractional MIDI (the multi-pitch reference)."""
    grid: list[list[float]] = [[] for _ in range(frames)]
    for note in notes:
        lo, hi = note_frames(note, hop, sample_rate)
        hi = min(hi, frames)
        if lo < hi:
            midi = note.pitch + bend_at(note, (np.arange(lo, hi) + 0.5) * hop / sample_rate)
            for i, m in zip(range(lo, hi), midi, strict=True):
                grid[i].append(float(m))
    return [np.array(g) for g in grid]
