"""`latentbridge bench tracker`: what a wider multi-pitch tracker costs, to size it by measurement (torch, ONNX
Runtime).

One run measures, side by side on this machine with one thread each, `poly_onset` at several channel widths
(the `channels` and `onset_channels` of `models.polypitch.model.PolyPitchConfig`; 16 is `poly_onset`, 24 is
`poly_wide`), freshly initialised (the cost does not depend on the weights):
- training: audio seconds per second of `train poly`'s step (batch 8, crops of 128 frames of 128 samples at
  16 kHz plus 16 warm-up frames and the front end's history, BCE on activations and onsets, Adam), on a
  deterministic noisy tone mixture, after two warm-up steps;
- streaming: the exported `tracker` graph on ONNX Runtime, one 128-sample frame per call with the state carried
  (as the live poly stages push it), milliseconds per frame and the share of a frame's 8 ms.
Plus the bundled tracker's graph streamed the same way. Rows: {"config", "channels", "parameters",
"train_audio_s_per_s", "stream_ms_per_frame", "stream_share_of_frame"} (training fields are null for the bundled
graph's row).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from export.core.audio_io import MODEL_RATE
from export.onnx.loader import FORMAT_VERSION, PREFIX
from export.poly.tracker import PolyTracker, PolyTrackerStream
from models.exporting.onnx_export import export_graph, graphs
from models.polypitch.model import PolyPitchNet, get_config

WIDTHS = (16, 24, 32)
BATCH, CROP, WARMUP = 8, 128, 16


def _mixture(samples: int, rows: int, seed: int = 0) -> np.ndarray:
    """[rows, samples] three-note harmonic mixtures with a little noise (the front end does real work)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / MODEL_RATE
    out = np.zeros((rows, samples), np.float32)
    for row in range(rows):
        for midi in rng.integers(40, 80, size=3):
            f0 = 440.0 * 2.0 ** ((midi - 69) / 12)
            out[row] += sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)).astype(np.float32) * 0.1
    return out + rng.normal(0.0, 0.01, out.shape).astype(np.float32)


def train_speed(net: PolyPitchNet, steps: int) -> float:
    """Audio seconds (the loss frames) per second of training step, one thread."""
    cfg, context = net.cfg, net.stack.context
    audio = torch.from_numpy(_mixture(context + (WARMUP + CROP) * cfg.hop, BATCH))
    act_target = (torch.rand(BATCH, CROP, cfg.n_bins, generator=torch.Generator().manual_seed(0)) > 0.98).float()
    onset_target = (torch.rand(BATCH, CROP, cfg.semitones, generator=torch.Generator().manual_seed(1)) > 0.99).float()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step() -> None:
        act, onset = net(audio[:, context:], audio[:, :context])
        loss = (F.binary_cross_entropy_with_logits(act[:, WARMUP:], act_target)
                + F.binary_cross_entropy_with_logits(onset[:, WARMUP:], onset_target))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    for _ in range(2):
        step()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH * CROP * cfg.hop / MODEL_RATE / (time.perf_counter() - began)


def stream_ms(tracker: PolyTracker, frames: int) -> float:
    """Milliseconds per 128-sample frame, one frame per call with the state carried."""
    audio = _mixture(frames * tracker.hop, 1, seed=2)[0]
    stream = PolyTrackerStream(tracker)
    for i in range(8):  # warm-up
        stream.push(audio[i * tracker.hop: (i + 1) * tracker.hop])
    stream = PolyTrackerStream(tracker)
    began = time.perf_counter()
    for i in range(frames):
        stream.push(audio[i * tracker.hop: (i + 1) * tracker.hop])
    return (time.perf_counter() - began) / frames * 1000.0


def _row(config: str, channels: int | None, parameters: int | None, train: float | None,
         ms: float, hop: int) -> dict[str, Any]:
    return {"config": config, "channels": channels, "parameters": parameters, "train_audio_s_per_s": train,
            "stream_ms_per_frame": ms, "stream_share_of_frame": ms / (hop / MODEL_RATE * 1000.0)}


def bench_tracker(widths: tuple[int, ...] = WIDTHS, train_steps: int = 5, frames: int = 1000) -> list[dict[str, Any]]:
    """Every row of the benchmark (see the module docstring); torch runs on one thread meanwhile."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        rows = [_width_row(width, train_steps, frames) for width in widths]
    finally:
        torch.set_num_threads(threads)
    bundled = PolyTracker.open(None, threads=1)
    return [*rows, _row("bundled poly_default", None, None, None, stream_ms(bundled, frames), bundled.hop)]


def _width_row(width: int, train_steps: int, frames: int) -> dict[str, Any]:
    cfg = replace(get_config("poly_onset"), channels=width, onset_channels=width)
    net = PolyPitchNet(cfg)
    parameters = sum(p.numel() for p in net.parameters())
    train = train_speed(net, train_steps)
    net.eval()
    metadata = {f"{PREFIX}format_version": str(FORMAT_VERSION), f"{PREFIX}kind": "poly", f"{PREFIX}graph": "tracker",
                "hop": str(cfg.hop)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"w{width}.tracker.onnx"
        export_graph(graphs("poly", net)[0], path, metadata, force=True)
        ms = stream_ms(PolyTracker.open(path, threads=1), frames)
    name = {16: "poly_onset", 24: "poly_wide"}.get(width, f"poly_onset, {width} channels")
    return _row(name, width, parameters, train, ms, cfg.hop)
