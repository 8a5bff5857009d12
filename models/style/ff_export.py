"""A trained feed-forward style network -> `NAME.style_gains.onnx` (parity-checked against torch) and its model
card `NAME.json` beside it; and the judge the card carries: the network beside the 100-iteration optimisation
on held-out content.

Audio mono float32 at 16 kHz. Judge rows: moved (mean log-mel toward the style), STOI (speech) or CREPE pitch
agreement (music), and the relative Gram distance to the style before and after, per clip and method.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from export.core.audio_io import atomic_output
from export.onnx.loader import FORMAT_VERSION, PREFIX
from export.onnx.style_net import GRAPH, KIND, StyleNetwork
from models.exporting.onnx_export import Graph, export_graph
from models.style.feedforward import SpectralGainNet
from models.style.nsynth_transfer import NSynthStyle


class _Gains(nn.Module):
    def __init__(self, model: SpectralGainNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, magnitude: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.gains(magnitude, state)


def export_style(model: SpectralGainNet, out: Path, name: str, card: dict[str, Any], force: bool = True) -> Path:
    """Write out/NAME.style_gains.onnx (metadata: config and `card`) and return its path."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    probes = (0.2 * torch.rand(2, 9, cfg.bins, generator=g), 0.5 * torch.randn(1, 2, cfg.hidden, generator=g))
    graph = Graph(GRAPH, _Gains(model.eval()), (torch.zeros(1, 4, cfg.bins), torch.zeros(1, 1, cfg.hidden)),
                  ["magnitude", "state"], ["gains", "state_out"],
                  {"magnitude": {0: "batch", 1: "frames"}, "state": {1: "batch"}, "gains": {0: "batch", 1: "frames"},
                   "state_out": {1: "batch"}}, cfg.hop, probes=probes,
                  tolerance={"gains": (1e-4, 1e-4), "state_out": (1e-4, 0.0)})
    path = out / f"{name}.{GRAPH}.onnx"
    metadata = {f"{PREFIX}format_version": str(FORMAT_VERSION), f"{PREFIX}kind": KIND, f"{PREFIX}graph": GRAPH,
                "sample_rate": str(cfg.sample_rate), "hop": str(cfg.hop), "n_fft": str(cfg.n_fft), "mu_law": "",
                "config": json.dumps(cfg.to_dict()), "model_card": json.dumps(card)}
    export_graph(graph, path, metadata, force)
    return path


def write_card(out: Path, name: str, card: dict[str, Any]) -> Path:
    path = out / f"{name}.json"
    with atomic_output(path, force=True) as tmp:
        tmp.write_text(json.dumps(card, indent=1), encoding="utf-8")
    return path


def hardware() -> dict[str, Any]:
    from export.core.bench_results import cpu_info

    cpu = cpu_info()
    return {"machine": platform.machine(), "cpu": cpu.get("model_name") or platform.processor(),
            "cpu_family_model": f"{cpu.get('family')}/{cpu.get('model')}", "torch_threads": torch.get_num_threads(),
            "device": "cpu"}


def judge_clip(objective: NSynthStyle, style: np.ndarray, content: np.ndarray, result: np.ndarray,
               kind: str) -> dict[str, Any]:
    from models.style.judges import moved, pitch_agreement, stoi

    row: dict[str, Any] = {"gram_before": objective.gram_distance(content),
                           "gram_after": objective.gram_distance(result), "moved": moved(content, style, result)}
    if kind == "speech":
        row["stoi"] = stoi(content, result)
    else:
        row["pitch_agreement"] = pitch_agreement(content, result)
    return row


def judge(network: StyleNetwork, objective: NSynthStyle, style: np.ndarray,
          clips: list[tuple[str, str, np.ndarray]], optimise: bool = True) -> list[dict[str, Any]]:
    """One row per (clip, method): the network's result, and (optimise) the optimisation's on the same clip."""
    rows = []
    for name, kind, audio in clips:
        began = time.perf_counter()
        result = network.offline(audio)
        rows.append({"clip": name, "kind": kind, "method": "feedforward",
                     "seconds": round(time.perf_counter() - began, 3),
                     **judge_clip(objective, style, audio, result, kind)})
        if optimise:
            began = time.perf_counter()
            optimised = objective.transfer(audio).audio
            rows.append({"clip": name, "kind": kind, "method": f"nsynth-{objective.cfg.iterations}",
                         "seconds": round(time.perf_counter() - began, 3),
                         **judge_clip(objective, style, audio, optimised, kind)})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method and content kind: mean moved / STOI / pitch / Gram fall; and the network's Gram fall as a share
    of the optimisation's on the same clips: the total over clips (robust where the optimisation itself barely
    moves a clip, which makes that clip's own ratio explode), the per-clip median, and how many clips reach half."""
    out: dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        for kind in ("speech", "music"):
            chosen = [r for r in rows if r["method"] == method and r["kind"] == kind]
            if not chosen:
                continue
            key = "stoi" if kind == "speech" else "pitch_agreement"
            out[f"{method}/{kind}"] = {
                "clips": len(chosen), "moved": float(np.mean([r["moved"] for r in chosen])),
                key: float(np.mean([r[key] for r in chosen if r[key] is not None] or [np.nan])),
                "gram_fall": float(np.mean([r["gram_before"] - r["gram_after"] for r in chosen]))}
    opt = {r["clip"]: r for r in rows if r["method"] != "feedforward"}
    pairs = [(r["gram_before"] - r["gram_after"], opt[r["clip"]]["gram_before"] - opt[r["clip"]]["gram_after"])
             for r in rows if r["method"] == "feedforward" and r["clip"] in opt]
    if pairs and sum(o for _, o in pairs) > 0:
        falls = np.array(pairs)
        shares = [f / o for f, o in pairs if o > 0]
        out["feedforward_gram_fall_share"] = {
            "total": float(falls[:, 0].sum() / falls[:, 1].sum()),
            "per_clip_median": float(np.median(shares)) if shares else None,
            "clips_at_half_or_more": int(sum(f >= 0.5 * o for f, o in pairs)), "clips": len(pairs)}
    return out
