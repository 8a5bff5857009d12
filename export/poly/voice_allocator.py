"""Voices from the multi-pitch tracker, frame by frame: which pitches sound and which voice slot carries each.

Input per control frame (128 samples at 16 kHz): the tracker's activations [264] (MIDI 21..108 at three bins
per semitone, bin b centred on MIDI 21 + b / 3) and, optionally, its onset activations [88].
Output per frame and slot: a pitch in fractional MIDI (0 for none yet), a gain target (0 or 1), whether the
slot plays the monophonic controls (`mono`), the peak activation it follows, and whether it was struck again.

Rules (every one is causal and frame by frame, so the result never depends on how frames were grouped):
- Peaks: local maxima of the activations at or above `off`, refined by a parabola through the neighbouring
  bins; peaks closer than `min_separation` semitones keep the stronger.
- A sounding slot keeps its pitch track: it takes the nearest unclaimed peak within `match` semitones (the
  strongest slots choose first) and ends when none is left (hysteresis: starting needs `on`, staying `off`).
- A new peak at or above `on` (or at or above `off` where the onset head fires at its semitone: an attack
  starts a voice before the pitch activation has fully risen; but `harmonic_on` where it lies at the 2nd to
  6th harmonic of a sounding voice or of another peak, whose own harmonics already play it: the tracker's
  commonest false note is a loud partial; and where it lies one or two octaves below one, whose harmonics are
  all harmonics of the lower pitch: the false notes the morph pays most for) takes a free slot: slot 0 first
  (so one note alone is always slot 0), then the free slot whose last pitch was nearest. With no free slot it
  replaces the weakest sounding slot when it is stronger.
- A sounding slot is struck again (`restruck`) in the frame where the onset activation at its semitone rises
  through `onset` (it was below in the previous frame): the note was plucked or bowed anew while it sounded,
  e.g. a strum repeating a chord.
- Slot 0 plays the monophonic controls (YIN f0, the input's whole loudness) when it is the only slot sounding,
  and also when no slot sounds at all (unpitched input, weak notes and silence pass as in the monophonic
  path). So with one note sounding the voices reduce to the monophonic path exactly, YIN's octave slips at
  attacks included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from export.poly.tracker import bin_midi, onset_index, refine_peak

HARMONIC_INTERVALS = 12 * np.log2(np.arange(2, 7))  # semitones from a fundamental to its 2nd..6th harmonics
# ... and one or two octaves below it (a sub-octave's harmonics include all of the note's). On 80 valid phrases,
# removing with the labels only the tracker's false frames an octave or two below sounding notes lifts the Basic
# Pitch note-onset F1 of `morph --voices poly` 0.462 -> 0.509, as much as removing all of them (0.506):
# bench/results/poly_eval_2026-12-07/morph_errors/
RELATED_INTERVALS = np.concatenate([HARMONIC_INTERVALS, [-12.0, -24.0]])


@dataclass(frozen=True)
class AllocatorConfig:
    voices: int = 6
    on: float = 0.5  # activation that starts a voice
    off: float = 0.3  # activation below which a voice ends
    onset: float = 0.5  # onset activation at a peak's semitone that lets it start from `off` (an attack)
    harmonic_on: float = 0.85  # what a peak at a harmonic (2nd..6th) of a sounding voice needs to start
    match: float = 1.0  # semitones a voice's pitch may move from one frame to the next
    min_separation: float = 0.7  # semitones: closer peaks are one note


@dataclass
class FrameVoices:
    """One frame's allocation, each [voices]: pitch (fractional MIDI, 0 = none yet), gain target, activation of
    the peak followed (0 when none), whether the slot plays the monophonic controls, and whether a sounding
    slot was struck again in this frame."""

    midi: np.ndarray
    gain: np.ndarray
    activation: np.ndarray
    mono: np.ndarray
    restruck: np.ndarray


def peaks(activations: np.ndarray, floor: float, min_separation: float) -> list[tuple[float, float]]:
    """(fractional MIDI, activation) of the local maxima at or above `floor`, strongest first, none closer than
    `min_separation` semitones to a stronger one."""
    a = activations.astype(np.float64)
    left = np.concatenate([[-1.0], a[:-1]])
    right = np.concatenate([a[1:], [-1.0]])
    found = np.flatnonzero((a >= floor) & (a >= left) & (a > right))
    kept: list[tuple[float, float]] = []
    for b in found[np.argsort(-a[found], kind="stable")]:
        midi = float(bin_midi(refine_peak(a, int(b))))
        if all(abs(midi - m) >= min_separation for m, _ in kept):
            kept.append((midi, float(a[b])))
    return kept


class VoiceAllocator:
    """See the module docstring. State: each slot's pitch, whether it sounds, and its last activation."""

    def __init__(self, config: AllocatorConfig) -> None:
        self.config = config
        n = config.voices
        self.midi = np.zeros(n)
        self.sounding = np.zeros(n, bool)
        self.activation = np.zeros(n)
        self.previous_onsets = np.zeros(88)

    def frame(self, activations: np.ndarray, onsets: np.ndarray | None = None) -> FrameVoices:
        """Advance one frame (see the module docstring); `onsets` [88] are the tracker's onset activations."""
        cfg = self.config
        found = peaks(activations, cfg.off, cfg.min_separation)
        claimed = [False] * len(found)
        strength = np.zeros(cfg.voices)
        restruck = np.zeros(cfg.voices, bool)
        rising = np.zeros(88, bool) if onsets is None else (onsets >= cfg.onset) & (self.previous_onsets < cfg.onset)
        for slot in sorted(np.flatnonzero(self.sounding), key=lambda s: -self.activation[s]):
            best = self._nearest(found, claimed, self.midi[slot], cfg.match, cfg.off)
            if best is None:
                self.sounding[slot] = False
                continue
            claimed[best] = True
            self.midi[slot], strength[slot] = found[best]
            restruck[slot] = rising[int(onset_index(self.midi[slot]))]
        for i, (midi, act) in enumerate(found):
            semitone = int(onset_index(midi))
            attack = onsets is not None and onsets[semitone] >= cfg.onset
            if self._harmonic(midi, [m for j, (m, _) in enumerate(found) if j != i]):
                needed = cfg.harmonic_on
            else:
                needed = cfg.off if attack else cfg.on
            if claimed[i] or act < needed:
                continue
            slot = self._free_slot(midi, act, strength)
            if slot is None:
                continue
            claimed[i] = True
            self.midi[slot], strength[slot], self.sounding[slot] = midi, act, True
        self.activation = strength
        if onsets is not None:
            self.previous_onsets = onsets.astype(np.float64)
        mono = np.zeros(cfg.voices, bool)
        if not self.sounding.any() or (self.sounding[0] and self.sounding.sum() == 1):
            mono[0] = True
        gain = self.sounding.astype(np.float32)
        gain[0] = max(gain[0], float(mono[0]))
        return FrameVoices(self.midi.copy(), gain, strength.copy(), mono, restruck)

    def _harmonic(self, midi: float, others: list[float]) -> bool:
        """Whether `midi` lies at the 2nd to 6th harmonic, or one or two octaves below (within 0.35 semitone), a
        sounding slot's pitch or another peak of this frame."""
        above = midi - np.concatenate([self.midi[self.sounding], others])
        return bool((np.abs(above[:, None] - RELATED_INTERVALS[None, :]) <= 0.35).any())

    @staticmethod
    def _nearest(found: list[tuple[float, float]], claimed: list[bool], midi: float, within: float,
                 floor: float) -> int | None:
        best, distance = None, within
        for i, (m, act) in enumerate(found):
            if not claimed[i] and act >= floor and abs(m - midi) <= distance:
                best, distance = i, abs(m - midi)
        return best

    def _free_slot(self, midi: float, act: float, strength: np.ndarray) -> int | None:
        free = np.flatnonzero(~self.sounding)
        if free.size:
            if free[0] == 0:
                return 0
            return int(free[np.argmin(np.abs(self.midi[free] - midi))])
        weakest = int(np.argmin(strength))
        return weakest if strength[weakest] < act else None
