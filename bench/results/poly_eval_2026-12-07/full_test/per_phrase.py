"""Scratch harness (as run): every phrase of a split through a tracker checkpoint, frame F1 (mir_eval, 50 cents,
threshold 0.5, causal) with its SoundFont, programs, instruments and pitch range, written as JSON; prints the 40
worst phrases and the mean. From the repository root:

    python bench/results/poly_eval_2026-12-07/full_test/per_phrase.py checkpoints/poly_fast/step1750.pt test 4500 OUT

`per_instrument.py OUT` summarises the JSON.
"""
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
ckpt, split, files, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = load_model(Path(ckpt), "poly")[0].eval()
rows = []
for ph in read_phrases(Path("data/poly"), split)[:files]:
    audio = read_mono(ph.audio_path, MODEL_RATE)
    frames = audio.shape[0] // 128
    ref = reference_grid(ph.notes, frames, 128, MODEL_RATE)
    act = ours(m, audio)[0]
    s = frame_scores(ref, [frame_pitches(r, 0.5) for r in act])
    meta = json.loads(ph.audio_path.with_suffix(".json").read_text())
    rows.append(dict(name=ph.name, style=ph.style, sf=ph.soundfont, inst=[i["instrument"] for i in meta["instruments"]],
                     progs=list(ph.programs), pitches=[min(n.pitch for n in ph.notes), max(n.pitch for n in ph.notes)],
                     **s))
json.dump(rows, open(out, "w"), indent=1)
rows.sort(key=lambda r: r["f1"])
for r in rows[:40]:
    print(f'{r["f1"]:.3f} P{r.get("precision", 0):.2f} R{r.get("recall", 0):.2f} {r["name"]} {r["style"]:12s}',
          r["sf"][:10], r["progs"], r["inst"], r["pitches"])
print("mean", np.mean([r["f1"] for r in rows]))
