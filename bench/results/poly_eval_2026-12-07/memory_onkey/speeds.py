"""Scratch: training speed (audio-s per s) of the three runs from their committed log.csv, with the CPU that ran
them (the runs shared the 2-core VM, one thread each, two at a time). Usage: speeds.py OUT"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

from export.core.bench_results import cpu_info

rows = {}
for run in ("poly_fast_memory", "poly_fast_long", "poly_fast_onkey"):
    with open(Path("checkpoints") / run / "log.csv") as f:
        log = list(csv.DictReader(f))
    speed = np.array([float(r["audio_seconds_per_s"]) for r in log])
    rows[run] = dict(steps=len(log), minutes=float(log[-1]["seconds"]) / 60.0,
                     audio_seconds_per_s_median=float(np.median(speed)),
                     audio_seconds_per_s_p10_p90=np.percentile(speed, [10, 90]).tolist())
Path(sys.argv[1]).write_text(json.dumps(dict(cpu=cpu_info(), threads_per_run=1, runs=rows), indent=1) + "\n")
print(json.dumps(rows, indent=1))
