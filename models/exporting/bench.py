"""`latentbridge bench generate`: WaveNet generation speed, every backend measured side by side in one run.

Backends: naive (the teacher-forced network re-run over the receptive field for every new sample), torch
queue generation, an ONNX Runtime loop over the exported step graph, the native kernel at batch 1, 4 and 8
with 1 and 2 threads (and its portable-C loops, half-precision weights and int8 weights beside it: one
`native_int8_<simd>` row per SIMD path of this CPU at batch 1, the best path at batch 8; for a config with the
period input, `native_lpc` rows: the kernel's LPC mode, order 16, fp32 and int8, batch 1), and, where a CUDA
device is usable, the ONNX Runtime CUDA step loop with the state bound on the device at batch 1 and 64.
Configs: the shipped default decoder (its weights when bundled, else the
`ae_small` config with fresh weights; the speed does not depend on the weights) and the reference config
(20 layers, residual 64, skip 128, 256 classes, dilations 1..512 twice). Rows: us per sample (per voice),
audio seconds produced per wall second per voice at 16 kHz, and the ratio to the native kernel at batch 1 on
one thread of the same config.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.onnx.providers import cuda_device_count
from export.wavenet.kernel import NativeWaveNet, f16c_available, read_weights, simd_paths
from export.wavenet.step_generator import StepGenerator
from models.exporting.onnx_export import export_checkpoint
from models.training.checkpoint import load_model, save_checkpoint
from models.wavenet.configs import get_config
from models.wavenet.incremental import StepModule, init_state, step
from models.wavenet.model import WaveNet

RATE = 16000


def _conditioning(model: WaveNet, batch: int, n: int) -> dict[str, np.ndarray]:
    cfg = model.cfg
    frames = -(-n // cfg.hop)
    cond: dict[str, np.ndarray] = {}
    if cfg.local_channels:
        cond["local"] = np.zeros((batch, cfg.local_channels, frames), np.float32)
    if cfg.global_classes:
        cond["global_id"] = np.zeros(batch, np.int64)
    if cfg.global_dim:
        cond["global_vec"] = np.zeros((batch, cfg.global_dim), np.float32)
    if cfg.period_input:
        cond["period"] = np.full((batch, frames), 100, np.int64)
    return cond


def _row(config: str, backend: str, batch: int, threads: int, seconds: float, samples: int) -> dict[str, Any]:
    us = seconds / samples * 1e6
    return {"config": config, "backend": backend, "batch": batch, "threads": threads, "us_per_sample": us,
            "realtime_factor_16k": 1e6 / us / RATE}


@torch.no_grad()
def _naive(model: WaveNet, n: int) -> float:
    """Every sample from a teacher-forced pass over the last receptive-field samples (no caching; the
    conditioning is zeros of the window's size, which costs the same as real conditioning)."""
    rf = model.receptive_field
    cond = {k: torch.from_numpy(v) for k, v in _conditioning(model, 1, rf).items()}
    if "period" in cond:
        cond["period"] = torch.full((1, rf), 100, dtype=torch.long)
    x = torch.full((1, rf + n), 128, dtype=torch.long)
    began = time.perf_counter()
    for t in range(n):
        logits = model(x[:, t: t + rf], **cond)
        x[0, t + rf] = logits[0, :, -1].argmax()
    return time.perf_counter() - began


@torch.no_grad()
def _torch_queues(model: WaveNet, n: int) -> float:
    cond = {k: torch.from_numpy(v) for k, v in _conditioning(model, 1, n).items()}
    state, x = init_state(model, 1), torch.full((1,), 128, dtype=torch.long)
    began = time.perf_counter()
    for t in range(n):
        frame = t // model.cfg.hop
        logits, state = step(model, x, cond["local"][:, :, frame] if "local" in cond else None,
                             cond.get("global_id"), cond.get("global_vec"),
                             cond["period"][:, frame] if "period" in cond else None, state)
        x = logits.argmax(-1)
    return time.perf_counter() - began


def _onnx_loop(model: WaveNet, path: Path, n: int) -> float:
    from export.onnx.loader import open_model

    session = open_model(path, allow_gpu=False)
    wrapper = StepModule(model)
    feeds = {name: t.numpy() for name, t in zip(wrapper.input_names, wrapper.example_inputs(1), strict=True)}
    state_names = wrapper.state_names
    began = time.perf_counter()
    for _ in range(n):
        out = session.run(**feeds)
        feeds["x_prev"] = out["logits"].argmax(-1).astype(np.int64)
        for name in state_names:
            feeds[name] = out[f"{name}_out"]
    return time.perf_counter() - began


def _native(path: Path, model: WaveNet, batch: int, threads: int, n: int, precision: str = "fp32",
            portable: bool = False, simd: str | None = None) -> float:
    kernel = NativeWaveNet(read_weights(path), batch=batch, precision=precision, portable=portable, simd=simd)
    cond = _conditioning(model, batch, n)
    kernel.generate(min(n, 1600), temperature=1.0, threads=threads, **cond)  # warm-up: caches, page faults
    kernel.reset()
    began = time.perf_counter()
    kernel.generate(n, temperature=1.0, threads=threads, **cond)
    return time.perf_counter() - began


def _native_lpc(path: Path, model: WaveNet, n: int, precision: str) -> float:
    """The LPC mode (order 16, a stable filter, two per-sample features) at batch 1 on one thread."""
    rng = np.random.default_rng(0)
    proj = (0.1 * rng.standard_normal((2, model.cfg.residual_channels))).astype(np.float32)
    kernel = NativeWaveNet(read_weights(path), batch=1, precision=precision, feature_proj=proj)
    cond = _conditioning(model, 1, n)
    frames = cond["period"].shape[1]
    coefficients = np.zeros((1, frames, 17), np.float32)
    coefficients[:, :, 0], coefficients[:, :, 1] = 1.0, -0.9
    harmonic = (0.1 * np.sin(np.arange(n) * 0.05))[None].astype(np.float32)
    limit = np.full((1, frames), 0.1, np.float32)
    args = (cond.get("local"), cond["period"], harmonic, coefficients, limit, 0.85, 1.0)
    kernel.generate_lpc(min(n, 1600), *args)  # warm-up
    kernel.reset()
    began = time.perf_counter()
    kernel.generate_lpc(n, *args)
    return time.perf_counter() - began


def bench_config(label: str, model: WaveNet, work: Path, naive_samples: int, loop_samples: int,
                 native_seconds: float) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    save_checkpoint(work / label / "checkpoint.pt", "wavenet", model, None, 0, 0)
    (row,) = export_checkpoint(work / label, work / "onnx", label, force=True)
    path = Path(row["path"])
    rows = [_row(label, "naive", 1, 1, _naive(model, naive_samples), naive_samples),
            _row(label, "torch_queues", 1, 1, _torch_queues(model, loop_samples), loop_samples),
            _row(label, "onnxruntime_step", 1, 1, _onnx_loop(model, path, loop_samples), loop_samples)]
    n = int(native_seconds * RATE)
    for batch in (1, 4, 8):
        for threads in (1, 2):
            if threads > batch:
                continue
            seconds = _native(path, model, batch, threads, n)
            rows.append(_row(label, "native", batch, threads, seconds, n))
    # the same kernel with its plain-C inner loops, and with half-precision weights
    rows.append(_row(label, "native_portable", 1, 1, _native(path, model, 1, 1, n, portable=True), n))
    if f16c_available():
        for batch, threads in ((1, 1), (8, 2)):
            seconds = _native(path, model, batch, threads, n, precision="fp16")
            rows.append(_row(label, "native_fp16", batch, threads, seconds, n))
    paths = [p for p in simd_paths() if p != "portable"] or ["portable"]
    for simd, batch, threads in [(p, 1, 1) for p in paths] + [(paths[-1], 8, 2)]:
        seconds = _native(path, model, batch, threads, n, precision="int8", simd=simd)
        rows.append(_row(label, f"native_int8_{simd}", batch, threads, seconds, n))
    if model.cfg.period_input:
        for precision in ("fp32", "int8"):
            rows.append(_row(label, f"native_lpc_{precision}", 1, 1, _native_lpc(path, model, n, precision), n))
    if cuda_device_count() > 0:  # the offline GPU path: ONNX Runtime CUDA with the state bound on the device
        for batch in (1, 64):
            generator = StepGenerator(path, batch=batch, allow_gpu=True)
            cond = _conditioning(model, batch, loop_samples)
            began = time.perf_counter()
            generator.generate(loop_samples, temperature=1.0, **cond)
            rows.append(_row(label, "onnxruntime_cuda_iobinding", batch, 1, time.perf_counter() - began,
                             loop_samples))
    base = next(r for r in rows if r["backend"] == "native" and r["batch"] == 1 and r["threads"] == 1)
    for r in rows:
        r["ratio_to_native"] = r["us_per_sample"] / base["us_per_sample"]
    return rows


def default_decoder() -> tuple[str, WaveNet]:
    """The bundled note WaveNet when one ships, else `ae_small` with fresh weights."""
    from export.onnx.bundled import bundled_models

    for bundled in bundled_models():
        if bundled.kind == "wavenet" and bundled.card.get("config_name") == "ae_small" and bundled.path.is_file():
            model, _ = load_model(bundled.path, "wavenet")
            return f"default ({bundled.name})", model
    torch.manual_seed(0)
    return "default (ae_small)", WaveNet(get_config("ae_small")).eval()


def bench_generate(naive_samples: int, loop_samples: int, native_seconds: float) -> list[dict[str, Any]]:
    """Every row of the benchmark (see the module docstring)."""
    torch.manual_seed(0)
    configs = [default_decoder(), ("reference_20L_r64_s128", WaveNet(get_config("reference_bench")).eval())]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, model in configs:
            name = label.split(" ")[0]
            rows += [{**r, "config": label} for r in bench_config(name, model.eval(), Path(tmp), naive_samples,
                                                                  loop_samples, native_seconds)]
    return rows
