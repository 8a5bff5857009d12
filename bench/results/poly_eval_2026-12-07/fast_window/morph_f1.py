"""Scratch (run from the repository root): poly morph amount 0 note-onset F1 (Basic Pitch) for PolyConfig variants,
per phrase; the inputs' analysis and Basic Pitch F1 are cached in runs/."""

import argparse
import json
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import MODEL_RATE, read_mono
from export.poly.offline import decode_voices
from export.poly.poly_synth import PolyConfig
from export.poly.tracker import PolyTracker
from models.evaluation.eval_poly import basic_pitch_model, basic_pitch_transcription, note_scores
from models.evaluation.eval_voices import balanced
from models.polypitch.labels import read_phrases

p = argparse.ArgumentParser()
p.add_argument("--split", default="valid")
p.add_argument("--files", type=int, default=40)
p.add_argument("--align", type=float, default=64)
p.add_argument("--tracker")
p.add_argument("--style")
p.add_argument("--out")
p.add_argument("variants", nargs="+", help="NAME=JSON overrides of PolyConfig")
a = p.parse_args()
ae = OnnxAutoencoder.open()
tracker = PolyTracker.open(a.tracker)
bp = basic_pitch_model()
phrases = read_phrases(Path("data/poly"), a.split)
if a.style:
    phrases = [q for q in phrases if q.style == a.style]
phrases = balanced(phrases, a.files)
cache = Path(f"runs/morph_f1_analysis_{a.split}.pkl")
store = pickle.loads(cache.read_bytes()) if cache.exists() else {}
advance = round(a.align * MODEL_RATE / 1000)


def f1_of(signal, phrase, tmp):
    path = Path(tmp) / "x.wav"
    soundfile.write(path, signal, MODEL_RATE, subtype="FLOAT")
    t, _ = basic_pitch_transcription(path, signal.shape[0] // 128, bp)
    return note_scores(phrase.notes, t.notes, 0.05)["f1"], len(t.notes)


results = {}
with tempfile.TemporaryDirectory() as tmp:
    for q in phrases:
        if q.name not in store:
            audio = read_mono(q.audio_path, MODEL_RATE)
            controls = ae.controls(audio)
            z = ae.align(ae.encode(audio), controls.frames)
            store[q.name] = dict(controls=controls, z=z.astype(np.float32), input=f1_of(audio, q, tmp)[0])
    cache.write_bytes(pickle.dumps(store))
    for v in a.variants:
        name, _, js = v.partition("=")
        cfg = replace(PolyConfig(), **json.loads(js or "{}"))
        t0 = time.time()
        per = {}
        for q in phrases:
            audio = read_mono(q.audio_path, MODEL_RATE)
            s = store[q.name]
            out = decode_voices(ae, audio, s["z"], s["controls"], mode="poly", config=cfg, tracker=tracker)
            out = np.pad(out[advance:], (0, max(0, audio.shape[0] - out[advance:].shape[0])))[: audio.shape[0]]
            f1, n = f1_of(out, q, tmp)
            per[q.name] = dict(style=q.style, f1=f1, input=s["input"], notes=n)
        styles = sorted({r["style"] for r in per.values()})
        mean = float(np.mean([r["f1"] for r in per.values()]))
        inp = float(np.mean([r["input"] for r in per.values()]))
        by = {st: round(float(np.mean([r["f1"] for r in per.values() if r["style"] == st])), 3) for st in styles}
        empty = sum(r["notes"] == 0 for r in per.values())
        print(
            f"{name}: F1 {mean:.3f} input {inp:.3f} x{mean / inp:.3f} empty {empty} {by} ({time.time() - t0:.0f}s)",
            flush=True,
        )
        results[name] = dict(
            config=json.loads(js or "{}"),
            f1=mean,
            input=inp,
            ratio=mean / inp,
            empty=empty,
            per_style=by,
            per_phrase=per,
        )
if a.out:
    Path(a.out).write_text(
        json.dumps(dict(split=a.split, files=a.files, align_ms=a.align, tracker=a.tracker, results=results), indent=1)
    )
