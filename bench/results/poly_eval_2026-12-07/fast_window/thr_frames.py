"""Frame F1 of a tracker checkpoint at several thresholds, causal and one frame ahead (scratch)."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE, read_mono
from export.poly.tracker import frame_pitches
from models.evaluation.eval_poly import frame_scores, one_frame_ahead, ours
from models.polypitch.labels import read_phrases, reference_grid
from models.training.checkpoint import load_model

torch.set_num_threads(1)

ckpt, split, files, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
models = [load_model(Path(c), "poly")[0].eval() for c in ckpt.split(",")]
thr = [0.4, 0.5, 0.6, 0.7, 0.8]
res = {f"{m}_{t}": [] for m in ("causal", "ahead") for t in thr}
styles = []
for ph in read_phrases(Path("data/poly"), split)[:files]:
    audio = read_mono(ph.audio_path, MODEL_RATE)
    frames = audio.shape[0] // 128
    ref = reference_grid(ph.notes, frames, 128, MODEL_RATE)
    outs = [ours(m, audio) for m in models]
    act = np.mean([o[0] for o in outs], 0)
    on = np.mean([o[1] for o in outs], 0)
    act2, _ = one_frame_ahead(act, on)
    styles.append(ph.style)
    for t in thr:
        res[f"causal_{t}"].append(frame_scores(ref, [frame_pitches(r, t) for r in act])["f1"])
        res[f"ahead_{t}"].append(frame_scores(ref, [frame_pitches(r, t) for r in act2])["f1"])
summary = {k: float(np.mean(v)) for k, v in res.items()}
json.dump(
    {"checkpoint": ckpt, "split": split, "files": files, "mean_frame_f1": summary, "per_file": res, "styles": styles},
    open(out, "w"),
    indent=1,
)
print(json.dumps(summary, indent=1))
