"""`latentbridge bench style`: each style method as a whole command (process start, model load, optimisation,
judging) on the bundled 3-s speech and reed note, side by side in one run; and each bundled feed-forward style
network (`export/bundled/style_*.style_gains.onnx`) on the same speech, judged against its own style phrase.

random-cnn (4096 random filters) is timed over a few iterations and its 100-iteration time extrapolated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR

CONTENT, STYLE = BUNDLED_DIR / "demo_speech.wav", BUNDLED_DIR / "demo_reed_note.wav"


def _run(method: str, out: Path, extra: list[str]) -> tuple[dict[str, Any], float]:
    style = [] if "--style" in extra else ["--style", str(STYLE)]
    cmd = [sys.executable, "-m", "export.app.cli", "style", "--content", str(CONTENT), *style,
           "--out", str(out), "--method", method, "--content-kind", "speech", "--json", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise LatentbridgeError(f"style --method {method} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout), wall


def bench_style(random_cnn_iterations: int = 5) -> list[dict[str, Any]]:
    rows = []
    runs: list[tuple[str, list[str]]] = [("nsynth", []), ("stft-gram", []),
                                         ("random-cnn", ["--iterations", str(random_cnn_iterations)])]
    for model in sorted(BUNDLED_DIR.glob("style_*.style_gains.onnx")):  # judged against its own style phrase
        phrase = BUNDLED_DIR / f"{model.name.split('.')[0]}_phrase.wav"
        runs.append(("feedforward", ["--model", str(model), "--style", str(phrase)]))
    with tempfile.TemporaryDirectory() as tmp:
        for method, extra in runs:
            report, wall = _run(method, Path(tmp) / f"{method}{len(rows)}.wav", extra)
            label = Path(report["model"]).name.split(".")[0] if "model" in report else None
            row = {"method": method, "model": label, "iterations": report["iterations"], "command_s": round(wall, 2),
                   "optimise_s": report["seconds"], "style_loss_fall": report["style_loss_fall"],
                   "gram_before": report["gram_distance"]["before"], "gram_after": report["gram_distance"]["after"],
                   "moved": report["moved"], "stoi": report.get("stoi")}
            if method == "random-cnn":
                per_iteration = report["seconds"] / report["iterations"]
                row["extrapolated_100_iterations_s"] = round(100 * per_iteration, 1)
            rows.append(row)
    return rows
