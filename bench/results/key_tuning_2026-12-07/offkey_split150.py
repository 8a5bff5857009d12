"""Scratch: a tracker's frame F1 (threshold 0.5, causal, mean over files) on the first 150 test phrases of
data/poly, split into the phrases whose instruments sound at their keys and those with an instrument that
`tuning.json` marks off its key. Usage: offkey_split150.py CKPT OUT"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE, read_mono
from export.poly.tracker import frame_pitches
from models.data.key_tuning import read_off_key
from models.evaluation.eval_poly import frame_scores, ours
from models.polypitch.labels import read_phrases, reference_grid
from models.training.checkpoint import load_model

torch.set_num_threads(1)
ckpt, out = sys.argv[1], sys.argv[2]
off = read_off_key(Path(__file__).with_name("tuning.json"))
model = load_model(Path(ckpt), "poly")[0].eval()
rows = []
for ph in read_phrases(Path("data/poly"), "test")[:150]:
    audio = read_mono(ph.audio_path, MODEL_RATE)
    ref = reference_grid(ph.notes, audio.shape[0] // 128, 128, MODEL_RATE)
    act, _ = ours(model, audio)
    f1 = frame_scores(ref, [frame_pitches(r, 0.5) for r in act])["f1"]
    rows.append(dict(phrase=ph.name, soundfont=ph.soundfont, programs=list(ph.programs), frame_f1=f1,
                     off_key=any((ph.soundfont, p) in off for p in ph.programs)))
offk = [r["frame_f1"] for r in rows if r["off_key"]]
onk = [r["frame_f1"] for r in rows if not r["off_key"]]
summary = dict(checkpoint=ckpt, files=len(rows), frame_f1_all=float(np.mean([r["frame_f1"] for r in rows])),
               off_key_files=len(offk), frame_f1_off_key=float(np.mean(offk)) if offk else None,
               on_key_files=len(onk), frame_f1_on_key=float(np.mean(onk)))
Path(out).write_text(json.dumps(dict(summary=summary, phrases=rows), indent=1) + "\n")
print(json.dumps(summary))
