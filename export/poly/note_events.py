"""Notes from the multi-pitch tracker's frames, causally (frame by frame) or offline (the same rules, flushed).

Input per frame of 128 samples at 16 kHz: activations [264] (bin b = MIDI 21 + b / 3) and onsets [88]
(k = MIDI 21 + k). Semitone k is on in a frame when the largest of its bins 3 k - 1 .. 3 k + 1 is at or above
`frame`. A note starts where the onset crosses `onset` upward while the semitone is on (or at least at
`strike_floor`, for a struck note whose frames have not risen yet; that frame counts as on), or after
`held_start` frames at or above `sustain` without an onset (legato); a new onset on a sounding note that has
lasted `restrike_frames` re-strikes it; a note ends at the first of more than `gap` frames below `frame`. Notes
shorter than `min_frames` or whose mean activation is below `min_activation` are dropped (a note is reported when
it ends, so both are causal). Times: a note starting in frame i has onset i * 128 / 16000 s, moved back along
the semitone's rising edge (the earlier frames, at most `rise_frames` and none before the semitone's last note
ended, whose level is at or above `rise_floor` and below the next frame's): the activations start to rise a few
frames before they cross `frame`, and those past frames are known when the note starts, so this stays causal.
Its pitch is the mean parabola-refined peak (fractional MIDI) over its frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from export.poly.tracker import BINS_PER_SEMITONE, HOP, SEMITONES, bin_midi, midi_hz, refine_peak


@dataclass(frozen=True)
class NoteSettings:
    """Defaults chosen by `latentbridge eval poly --tune 60` for the bundled tracker (poly_onset, 2026-12-06):
    note-onset F1 0.678 on 60 valid phrases (bench/results/poly_eval_2026-12-06/tune_bundled_v4.json has every
    setting), against 0.613 without the rising edge (tune_bundled_v2.json), 0.520 with the first rules (min_frames
    6 for both the shortest note and the re-strike age, no activation floor, strikes only on frames already on,
    tune.json) and 0.322 with those of the tracker before it. The grid stops min_frames at 16 frames (128 ms),
    Basic Pitch's own shortest note."""

    onset: float = 0.5
    frame: float = 0.5
    sustain: float = 0.5
    held_start: int = 1  # frames
    gap: int = 6  # frames
    min_frames: int = 16  # 128 ms
    restrike_frames: int = 8  # 64 ms
    min_activation: float = 0.7
    strike_floor: float = 0.2  # at most `frame`
    rise_frames: int = 6  # 0: onsets where the rules start the note
    rise_floor: float = 0.01


@dataclass(frozen=True)
class NoteEvent:
    onset: float  # seconds
    offset: float  # seconds
    midi: float  # fractional MIDI
    activation: float  # mean activation over the note's frames

    @property
    def hz(self) -> float:
        return float(midi_hz(self.midi))


class NoteTracker:
    """See the module docstring; `push` returns the notes that ended in the pushed frames, `flush` ends the
    rest (offline use: push everything, then flush)."""

    def __init__(self, settings: NoteSettings | None = None, hop: int = HOP, sample_rate: int = 16000) -> None:
        self.settings = settings or NoteSettings()
        self.seconds_per_frame = hop / sample_rate
        self.frame = 0
        self.start = np.full(SEMITONES, -1)
        self.below = np.zeros(SEMITONES, int)
        self.held = np.zeros(SEMITONES, int)
        self.previous_onset = np.zeros(SEMITONES)
        self.pitch_sum = np.zeros(SEMITONES)
        self.level_sum = np.zeros(SEMITONES)
        self.count = np.zeros(SEMITONES, int)
        self.onset_frame = np.full(SEMITONES, -1)  # the reported onset (the rising edge), per sounding semitone
        self.last_end = np.full(SEMITONES, -1)
        self.past_levels = np.zeros((self.settings.rise_frames, SEMITONES))  # the last frames' levels, oldest first

    def _finish(self, k: int, end: int) -> NoteEvent | None:
        start, count, onset = int(self.start[k]), int(self.count[k]), int(self.onset_frame[k])
        self.start[k], self.below[k], self.last_end[k] = -1, 0, end
        if end - start < self.settings.min_frames or count == 0:
            return None
        if self.level_sum[k] / count < self.settings.min_activation:
            return None
        return NoteEvent(onset * self.seconds_per_frame, end * self.seconds_per_frame,
                         float(self.pitch_sum[k] / count), float(self.level_sum[k] / count))

    def _rising_edge(self, k: int, frame: int, level: float) -> int:
        """The earliest frame <= `frame` reached by walking back along semitone k's rising edge (see the module
        docstring); `level` is k's level in the current frame, which is `frame` or later."""
        s, now = self.settings, self.frame
        levels = {now: level, **{now - 1 - j: float(self.past_levels[-1 - j, k])
                                 for j in range(self.past_levels.shape[0])}}
        first = max(now - s.rise_frames, int(self.last_end[k]), 0)
        while frame > first and s.rise_floor <= levels[frame - 1] < levels[frame]:
            frame -= 1
        return frame

    def _begin(self, k: int, frame: int, level: float = 0.0) -> None:
        self.onset_frame[k] = self._rising_edge(k, frame, level) if self.settings.rise_frames else frame
        self.start[k], self.below[k], self.held[k] = frame, 0, 0
        self.pitch_sum[k] = self.level_sum[k] = 0.0
        self.count[k] = 0

    def push(self, activations: np.ndarray, onsets: np.ndarray) -> list[NoteEvent]:
        s, done = self.settings, []
        for row, onset_row in zip(activations, onsets, strict=True):
            i = self.frame
            padded = np.concatenate([[0.0], row, [0.0]])[: SEMITONES * BINS_PER_SEMITONE]
            level = padded.reshape(SEMITONES, BINS_PER_SEMITONE).max(axis=1)
            peak = padded.reshape(SEMITONES, BINS_PER_SEMITONE).argmax(axis=1) + np.arange(SEMITONES) * 3 - 1
            struck = (onset_row >= s.onset) & (self.previous_onset < s.onset)
            for k in np.flatnonzero((self.start >= 0) | (level >= s.frame) | struck):
                on = level[k] >= s.frame or (struck[k] and level[k] >= s.strike_floor)
                if self.start[k] >= 0 and struck[k] and on and i - self.start[k] >= s.restrike_frames:
                    done.append(self._finish(k, i))
                    self._begin(k, i, float(level[k]))
                elif self.start[k] < 0:
                    self.held[k] = self.held[k] + 1 if level[k] >= s.sustain else 0
                    if struck[k] and on:
                        self._begin(k, i, float(level[k]))
                    elif self.held[k] >= s.held_start:
                        self._begin(k, i - s.held_start + 1, float(level[k]))
                if self.start[k] < 0:
                    continue
                if on:
                    self.below[k] = 0
                    self.pitch_sum[k] += float(bin_midi(refine_peak(row, int(max(peak[k], 0)))))
                    self.level_sum[k] += float(level[k])
                    self.count[k] += 1
                else:
                    self.below[k] += 1
                    if self.below[k] > s.gap:
                        done.append(self._finish(k, i - int(self.below[k]) + 1))
            self.held[level < s.sustain] = 0
            if s.rise_frames:
                self.past_levels = np.concatenate([self.past_levels[1:], level[None]])
            self.previous_onset = onset_row.astype(np.float64)
            self.frame += 1
        return [n for n in done if n is not None]

    def flush(self) -> list[NoteEvent]:
        """End every sounding note at the end of its last frame at or above `frame`."""
        done = [self._finish(k, self.frame - int(self.below[k])) for k in np.flatnonzero(self.start >= 0)]
        return [n for n in done if n is not None]


def extract_notes(activations: np.ndarray, onsets: np.ndarray, settings: NoteSettings | None = None,
                  hop: int = HOP, sample_rate: int = 16000) -> list[NoteEvent]:
    """Every note of a whole signal's frames, by onset time (the causal rules, flushed at the end)."""
    tracker = NoteTracker(settings, hop, sample_rate)
    notes = tracker.push(activations, onsets) + tracker.flush()
    return sorted(notes, key=lambda n: (n.onset, n.midi))
