"""Scratch: eval voices with the tracker's false frames removed by kind (harmonically related to a sounding note,
release tails of ended notes, or the rest), through a patched MixedStream("clean")."""
import sys

import numpy as np

import models.evaluation.label_tracker as lt
from export.app.cli import main
from export.core.audio_io import MODEL_RATE

KIND = sys.argv[1]  # related | tail | other
RELATED = {"oct_below": (-24, -12), "oct_above": (12, 24), "fifths": (-7, 7, 19, 28, 31)}.get(
    KIND, (-24, -12, -7, 7, 12, 19, 24, 28, 31))
orig_push = lt.MixedStream.push
orig_init = lt.MixedStream.__init__

def init(self, labels, tracker, part):
    orig_init(self, labels, tracker, part)
    self.t0 = 0

def push(self, audio):
    label_act, _ = self.labels.push(audio)
    act, onsets = self.tracker.push(audio)
    k = act.shape[0]
    notes = self.labels.notes
    out = act.copy()
    for i in range(k):
        t = (self.t0 + i + 0.5) * 128 / MODEL_RATE
        sounding = [n.pitch for n in notes if n.onset <= t < n.offset]
        ended = [n.pitch for n in notes if n.offset <= t < n.offset + 0.5 and n.pitch not in sounding]
        near = label_act[i] >= lt.NEAR_LABEL
        def mask(pitches):
            m = np.zeros(act.shape[1], bool)
            for p in pitches:
                c = int(round((p - 21) * 3))
                m[max(c - 2, 0): c + 3] = True
            return m
        related = mask([p + d for p in sounding for d in RELATED]) & ~near
        tail = mask(ended) & ~near & ~related
        other = ~near & ~related & ~tail
        drop = {"tail": tail, "other": other}.get(KIND, related)
        out[i, drop] = 0.0
    self.t0 += k
    return out.astype(np.float32), onsets

lt.MixedStream.__init__ = init
lt.MixedStream.push = push

sys.exit(main(["eval", "voices", "--data", "data/poly", "--split", "valid", "--files", "80", "--align-attacks", "48",
               "--oracle-tracker", "clean", "--threads", "1", "--out",
               f"/work/scratch/s10/oracle_clean_{KIND}_valid80_L48.json"]))
