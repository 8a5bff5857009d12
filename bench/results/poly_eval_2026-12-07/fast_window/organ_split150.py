"""Scratch (run from the repository root): a tracker's frame F1 on the first 150 test phrases, split by phrases holding
GM program 18 (the test split's FluidR3 rock organ), and the organ phrases' false frames an octave below a reference."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE, read_mono
from export.poly.tracker import frame_pitches
from models.evaluation.eval_poly import frame_scores, ours
from models.polypitch.labels import read_phrases, reference_grid
from models.training.checkpoint import load_model

torch.set_num_threads(1)
model = load_model(Path(sys.argv[1]), "poly")[0].eval()
org, rest, fp, octfp = [], [], 0, 0
for ph in read_phrases(Path("data/poly"), "test")[:150]:
    audio = read_mono(ph.audio_path, MODEL_RATE)
    frames = audio.shape[0] // 128
    ref = reference_grid(ph.notes, frames, 128, MODEL_RATE)
    act, _ = ours(model, audio)
    est = [frame_pitches(a, 0.5) for a in act]
    s = frame_scores(ref, est)["f1"]
    is_org = any(n.program == 18 for n in ph.notes)
    (org if is_org else rest).append(s)
    if is_org:
        for r, e in zip(ref, est, strict=True):
            for m in e:
                if r.size == 0 or np.min(np.abs(r - m)) > 0.5:
                    fp += 1
                    if r.size and np.min(np.abs(r - 12 - m)) <= 0.5:
                        octfp += 1
out = dict(
    checkpoint=sys.argv[1],
    organ_phrases=len(org),
    organ_frame_f1=float(np.mean(org)),
    other_phrases=len(rest),
    other_frame_f1=float(np.mean(rest)),
    all_frame_f1=float(np.mean(org + rest)),
    organ_false_frames=fp,
    organ_false_frames_an_octave_below=octfp,
)
Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
print(out)
