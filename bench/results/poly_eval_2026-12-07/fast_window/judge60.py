"""Scratch: a tracker checkpoint on valid phrases: frame F1 (0.5, causal and one frame ahead, per style) and how
late its activation reaches 0.5 at each labelled note's pitch (frames of 8 ms after the onset; never within 480 ms)."""

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
model = load_model(Path(ckpt), "poly")[0].eval()
rows = []
for ph in read_phrases(Path("data/poly"), split)[:files]:
    audio = read_mono(ph.audio_path, MODEL_RATE)
    frames = audio.shape[0] // 128
    ref = reference_grid(ph.notes, frames, 128, MODEL_RATE)
    act, on = ours(model, audio)
    act2, _ = one_frame_ahead(act, on)
    lags = []
    for n in ph.notes:
        f0, b = int(round(n.onset * 125)), int(round((n.pitch - 21) * 3))
        if not 0 <= b < 264:
            continue
        end = min(frames, int(round(n.offset * 125)) + 1, f0 + 60)
        seg = act[max(f0 - 3, 0) : end, max(b - 1, 0) : b + 2].max(axis=1)
        hit = np.flatnonzero(seg >= 0.5)
        lags.append(int((hit[0] + max(f0 - 3, 0) - f0) * 8) if hit.size else None)
    rows.append(
        dict(
            phrase=ph.name,
            style=ph.style,
            causal=frame_scores(ref, [frame_pitches(r, 0.5) for r in act])["f1"],
            ahead=frame_scores(ref, [frame_pitches(r, 0.5) for r in act2])["f1"],
            lags_ms=lags,
        )
    )


def summary(sel):
    lags = [lag for r in sel for lag in r["lags_ms"]]
    got = np.array([lag for lag in lags if lag is not None])
    return dict(
        files=len(sel),
        frame_f1=float(np.mean([r["causal"] for r in sel])),
        frame_f1_one_frame_ahead=float(np.mean([r["ahead"] for r in sel])),
        notes=len(lags),
        never=int(sum(lag is None for lag in lags)),
        late_40ms_or_never=float((np.sum(got >= 40) + sum(lag is None for lag in lags)) / max(1, len(lags))),
        lag_percentiles_10_25_50_75_90_ms=np.percentile(got, [10, 25, 50, 75, 90]).tolist() if got.size else None,
    )


styles = sorted({r["style"] for r in rows})
report = dict(
    checkpoint=ckpt,
    split=split,
    files=files,
    all=summary(rows),
    per_style={s: summary([r for r in rows if r["style"] == s]) for s in styles},
    per_phrase=rows,
)
Path(out).write_text(json.dumps(report, indent=1))
print(json.dumps(dict(all=report["all"], per_style=report["per_style"]), indent=1))
