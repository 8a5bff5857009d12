"""The engine's status as a one-line live display and as a JSON file rewritten atomically (at most 2 Hz)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def status_line(status: dict[str, Any], tags: list[tuple[str, float]] | None = None) -> str:
    w = status["worker_fraction"]
    text = (f"{status['chain']['name']} | latency {status['added_latency_ms']:.1f} ms | late {status['late_blocks']}"
            f" | xruns {status['xruns']} | cpu {100 * status['cpu_load']:.0f}% | worker {100 * w['mean']:.0f}%"
            f" (p99 {100 * w['p99']:.0f}%, max {100 * w['max']:.0f}%)")
    for stage in status["chain"]["stages"].values():
        if "targets" in stage:
            text += f" | {stage['targets']['target']} {stage['parameters']['amount']:.2f} @ midi {stage['midi']:.0f}"
    if status.get("tempo_bpm") is not None:
        text += f" | {status['tempo_bpm']:.1f} BPM"
    if tags:
        text += " | " + " ".join(f"{t} {p:.2f}" for t, p in tags[:3])
    return text


def write_status(path: str | Path, status: dict[str, Any]) -> None:
    """Rewrite `path` atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(status, indent=1), encoding="utf-8")
    os.replace(tmp, path)
