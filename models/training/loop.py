"""The training loop every model kind shares: Adam, resumable checkpoints, CSV log, signals, DDP, progress.

Deterministic: the weights start from `seed`, and a task draws batch `step` from (seed, step) only, with the
torch RNG re-seeded from (seed, step) before each step, so `--resume` continues the same loss curve. Writes to
`out`: checkpoint.pt + config.json (atomically, every few minutes and at exit, SIGTERM / SIGINT included) and
log.csv (step, loss, seconds, audio_seconds_per_s). Under torchrun (WORLD_SIZE > 1) the model is wrapped in
DistributedDataParallel (gloo on CPU, nccl on CUDA), each rank takes its share of the global batch, and only
rank 0 writes. On CUDA the task's loss runs under bfloat16 autocast.

Optional task hooks (single process only; the tagger uses them): `lr_scale(step)` multiplies --lr before
each step; `after_step(model, step)` may validate and returns "best" (the loop then writes best.pt, a checkpoint of
these weights, beside checkpoint.pt), "stop" (early stopping: save and end) or None; `state()` /
`load_state(dict)` carry the hooks' state (best score, patience, LR scale) through checkpoints.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from export.core.errors import LatentbridgeError
from export.core.progress import bar, progress_enabled
from models.training.checkpoint import CHECKPOINT, config_hash, load_checkpoint, save_checkpoint, stored_config

LOG = "log.csv"
BEST = "best.pt"
LOG_FIELDS = ("step", "loss", "seconds", "audio_seconds_per_s")


@dataclass(frozen=True)
class LoopOptions:
    out: Path
    steps: int = 1000
    resume: bool = False
    force: bool = False
    threads: int = 1
    seed: int = 0
    ckpt_every_min: float = 3.0
    lr: float = 1e-3
    grad_clip: float = 3.0
    max_minutes: float | None = None


class TrainTask(Protocol):
    """What a model kind supplies to the loop."""

    kind: str
    model: nn.Module

    def settings(self) -> dict[str, Any]:
        """Run settings that a resumed run must share with the run that wrote the checkpoint."""

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        """Build data caches (called on rank 0 first, then on every rank); returns facts for the summary."""

    def audio_seconds(self) -> float:
        """Audio seconds one process sees per step (for the throughput column)."""

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        """The scalar loss of batch `step` for this rank (the task draws the batch from (seed, step))."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM / SIGINT while the block runs (handlers restored afterwards)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _open_log(path: Path, keep_until: int) -> tuple[TextIO, csv.DictWriter[str]]:
    """Open log.csv for appending, dropping rows after step `keep_until` (logged after the checkpoint)."""
    rows: list[dict[str, str]] = []
    if keep_until > 0 and path.is_file():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= keep_until]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("w", newline="", buffering=1)
    writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return handle, writer


def train(task: TrainTask, opts: LoopOptions) -> dict[str, Any]:
    """Run (or resume) training; returns a summary (steps, last loss, audio-seconds per second, paths)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    torch.set_num_threads(opts.threads)
    try:
        return _train(task, opts, world, rank, device)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _restore(task: TrainTask, opts: LoopOptions, optimizer: torch.optim.Optimizer, ckpt_path: Path) -> tuple[
        int, float]:
    state = load_checkpoint(ckpt_path, task.kind)
    if stored_config(state, ckpt_path) != task.model.cfg:
        raise LatentbridgeError(f"{ckpt_path}: written for another config (hash {state['config_hash']}, "
                                f"this run's config is {config_hash(task.model.cfg)})")
    saved = state["extra"].get("settings")
    if saved != {**task.settings(), "seed": opts.seed, "lr": opts.lr}:
        raise LatentbridgeError(f"{ckpt_path}: --resume needs the same batch, crop, seed, lr and data subset "
                                f"as the run that wrote it ({saved})")
    task.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if hasattr(task, "load_state") and "task_state" in state["extra"]:
        task.load_state(state["extra"]["task_state"])
    return int(state["step"]), float(state["extra"].get("seconds", 0.0))


def _train(task: TrainTask, opts: LoopOptions, world: int, rank: int, device: torch.device) -> dict[str, Any]:
    out = Path(opts.out)
    ckpt_path, log_path = out / CHECKPOINT, out / LOG
    if opts.steps < 1:
        raise LatentbridgeError("--steps must be >= 1")
    if ckpt_path.exists() and not (opts.resume or opts.force):
        raise LatentbridgeError(f"{ckpt_path}: already exists (use --resume to continue or --force to "
                                "restart)")
    model = task.model
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    start, seconds = _restore(task, opts, optimizer, ckpt_path) if opts.resume else (0, 0.0)
    model.to(device)
    for group in optimizer.state.values():
        for key, value in group.items():
            if isinstance(value, torch.Tensor) and key != "step":
                group[key] = value.to(device)
    if rank == 0:
        task.prepare(rank, world)
    if world > 1:
        dist.barrier()
    facts = task.prepare(rank, world)
    model.train()
    net: nn.Module = DistributedDataParallel(model) if world > 1 else model
    log = _open_log(log_path, start) if rank == 0 else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else \
        contextlib.nullcontext()
    audio_seconds = task.audio_seconds() * world
    began = last_save = time.monotonic()
    step, loss_value, speeds = start, float("nan"), []
    plain = rank == 0 and not progress_enabled()
    settings = {**task.settings(), "seed": opts.seed, "lr": opts.lr}
    hooks = world == 1
    lr_scale = getattr(task, "lr_scale", None) if hooks else None
    after_step = getattr(task, "after_step", None) if hooks else None

    def checkpoint(path: Path = ckpt_path) -> None:
        task_state = {"task_state": task.state()} if hasattr(task, "state") else {}
        save_checkpoint(path, task.kind, model, optimizer, step, opts.seed,
                        {"seconds": seconds, "settings": settings, "world": world, **facts, **task_state})

    try:
        with _stop_on_signals() as stop, bar(f"train {task.kind}", total=opts.steps, unit="step") as pbar:
            pbar.update(start)
            while step < opts.steps:
                t0 = time.monotonic()
                torch.manual_seed(opts.seed * 1_000_003 + step)
                if lr_scale is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = opts.lr * lr_scale(step)
                with autocast:
                    loss = task.loss(net, step, rank, world, device)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
                optimizer.step()
                verdict = after_step(model, step + 1) if after_step is not None else None
                if verdict is not None:
                    model.train()
                flags = torch.tensor([loss.item(), float(stop.is_set() or _over(opts, began)
                                                         or verdict == "stop")])
                if world > 1:
                    dist.all_reduce(flags)
                    flags[0] /= world
                loss_value, step = float(flags[0]), step + 1
                if verdict == "best" and rank == 0:
                    checkpoint(out / BEST)
                elapsed = time.monotonic() - t0
                seconds += elapsed
                speeds.append(audio_seconds / elapsed)
                if log is not None:
                    log[1].writerow({"step": step, "loss": f"{loss_value:.6f}", "seconds": f"{seconds:.3f}",
                                     "audio_seconds_per_s": f"{speeds[-1]:.3f}"})
                    pbar.update(1)
                    pbar.set_postfix(loss=f"{loss_value:.4f}", audio_s_per_s=f"{speeds[-1]:.1f}")
                    if plain and (step % 100 == 0 or step == opts.steps):
                        print(f"step {step}/{opts.steps} loss {loss_value:.4f} "
                              f"audio-s/s {sum(speeds[-100:]) / len(speeds[-100:]):.2f}", flush=True)
                    if time.monotonic() - last_save >= 60.0 * opts.ckpt_every_min:
                        checkpoint()
                        last_save = time.monotonic()
                if flags[1] > 0:
                    break
    finally:
        if log is not None:
            if step > start or not ckpt_path.exists():
                checkpoint()
            log[0].close()
    return {"kind": task.kind, "steps": step, "start_step": start, "loss": loss_value, "world": world,
            "audio_seconds_per_s": sum(speeds) / len(speeds) if speeds else 0.0,
            "checkpoint": str(ckpt_path), "log": str(log_path), "config_hash": config_hash(model.cfg), **facts}


def _over(opts: LoopOptions, began: float) -> bool:
    return opts.max_minutes is not None and time.monotonic() - began >= 60.0 * opts.max_minutes
