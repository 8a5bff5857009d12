"""A held voice's loudness may not swell back up unless its note is struck: the poly voices' loudness, frame by frame.

Per control frame (128 samples at 16 kHz) and voice slot [N]: the loudness control in dB (the input's loudness
plus the voice's energy share), whether the slot sounds, whether it plays the monophonic controls, whether the
allocator marked it struck again, its f0 in Hz and the tracker's onset activation at its semitone. Once a tracked
voice has sounded `settle_frames` frames at one pitch (within half a semitone), its loudness rises by at most
`rise_db` per frame; falls pass at once. The count starts again where the voice starts, changes pitch, is
struck again or the onset activation at its semitone reaches `strike_onset` (an attack the re-strike rule, which
needs a rise through 0.5, may miss). Slots on the monophonic controls pass untouched, so one note alone stays the
monophonic path.

Why: Basic Pitch hears a held note of `morph --voices poly` as struck again where the voice's loudness swells
while other notes enter and leave the mixture: 513 such false notes on 80 valid phrases against the input's 218,
and 413 even with the labels in place of the tracker. With 8 frames (64 ms), 0.1 dB per frame and 0.35 (chosen
there among 0-0.5 dB, 4-8 frames, 0.2-0.5) its note-onset F1 goes 0.474 -> 0.508 at 50 ms and 0.575 -> 0.599 at
80 ms (bench/results/poly_eval_2026-12-07/onset_tolerance/).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HALF_SEMITONE_OCTAVES = 0.5 / 12


@dataclass(frozen=True)
class HeldLoudnessConfig:
    settle_frames: int = 8  # frames at one pitch before the rise is limited (64 ms)
    rise_db: float = 0.1  # largest loudness rise per frame after that
    strike_onset: float = 0.35  # onset activation at the voice's semitone that lets it swell again


class HeldLoudness:
    """See the module docstring. State per slot: frames held at one pitch, last loudness, last f0, sounding."""

    def __init__(self, voices: int, config: HeldLoudnessConfig | None = None) -> None:
        self.config = config or HeldLoudnessConfig()
        self.held = np.zeros(voices, int)
        self.loudness = np.zeros(voices)
        self.hz = np.ones(voices)
        self.sounding = np.zeros(voices, bool)

    def frame(self, loudness: np.ndarray, sounding: np.ndarray, mono: np.ndarray, restruck: np.ndarray,
              hz: np.ndarray, onset: np.ndarray) -> np.ndarray:
        """One frame's loudness [N] (dB) after the rule; every argument is [N]."""
        cfg = self.config
        steady = np.abs(np.log2(np.asarray(hz, np.float64) / self.hz)) < HALF_SEMITONE_OCTAVES
        kept = sounding & self.sounding & steady & ~restruck & (onset < cfg.strike_onset)
        self.held = np.where(kept, self.held + 1, 0)  # frames at one pitch, this one included
        limited = kept & ~mono & (self.held >= cfg.settle_frames)
        out = np.where(limited, np.minimum(loudness, self.loudness + cfg.rise_db), loudness)
        self.loudness, self.hz, self.sounding = out.astype(np.float64), np.asarray(hz, np.float64), sounding.copy()
        return out
