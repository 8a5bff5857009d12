"""Per-instrument and first-N means of a `per_phrase.py` JSON, and the mean without the instruments a `dataset
tuning` report marks off their keys. `python per_instrument.py PER_PHRASE_JSON [TUNING_JSON]`."""

import json
import sys
from collections import defaultdict

import numpy as np

rows = json.load(open(sys.argv[1]))
off = set()
if len(sys.argv) > 2:
    off = {(r["soundfont"], r["program"]) for r in json.load(open(sys.argv[2]))["instruments"] if r["off_key"]}
by = defaultdict(list)
for r in rows:
    for name, program in zip(r["inst"], r["progs"], strict=True):
        by[(r["sf"], program, name)].append(r["f1"])
print("| SoundFont | program | instrument | phrases | frame F1 | off its key |\n| --- | --- | --- | --- | --- | --- |")
for (font, program, name), v in sorted(by.items(), key=lambda kv: np.mean(kv[1])):
    print(f"| {font} | {program} | {name} | {len(v)} | {np.mean(v):.3f} | {'yes' if (font, program) in off else ''} |")
for n in (150, 300, 1000, 2000, len(rows)):
    print(f"first {n} phrases: {np.mean([r['f1'] for r in rows[:n]]):.4f}")
kept = [r for r in rows if not any((r["sf"], p) in off for p in r["progs"])]
print(f"without the off-key instruments' phrases: {len(kept)} phrases, {np.mean([r['f1'] for r in kept]):.4f}")
