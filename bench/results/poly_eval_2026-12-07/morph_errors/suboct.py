"""Scratch: eval voices with a peak one or two octaves below a sounding voice / other peak needing SUB to start
(as run against the allocator before 9a4ad36, which has since made the same rule its own with SUB = 0.85)."""
import sys

import numpy as np

import export.poly.voice_allocator as va
from export.app.cli import main

SUB, split, files, out = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
orig_frame = va.VoiceAllocator.frame

def sub_octave(self, midi, others):
    below = np.concatenate([self.midi[self.sounding], others]) - midi
    return bool((np.abs(below[:, None] - np.array([12.0, 24.0])[None, :]) <= 0.35).any())

def frame(self, activations, onsets=None):
    # run the allocator with a per-call harmonic test that flags sub-octaves for the SUB threshold
    cfg = self.config
    found = va.peaks(activations, cfg.off, cfg.min_separation)
    masked = activations.copy()
    for i, (m, act) in enumerate(found):
        others = [mm for j, (mm, _) in enumerate(found) if j != i]
        if act < SUB and sub_octave(self, m, others) and not self._near_sounding(m):
            c = (m - va.LOWEST_MIDI) * 3
            lo, hi = int(np.floor(c - 1)), int(np.ceil(c + 1))
            masked[max(lo, 0): hi + 1] = np.minimum(masked[max(lo, 0): hi + 1], cfg.off - 1e-3)
    return orig_frame(self, masked, onsets)

def near_sounding(self, m):
    return bool((np.abs(self.midi[self.sounding] - m) <= self.config.match).any())

va.VoiceAllocator.frame = frame
va.VoiceAllocator._near_sounding = near_sounding

sys.exit(main(["eval", "voices", "--data", "data/poly", "--split", split, "--files", files, "--align-attacks", "48",
               "--threads", "1", "--out", out]))
