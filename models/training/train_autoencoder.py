"""Training loop of the autoencoder: cached note crops -> multi-scale spectral loss -> Adam, resumable.

Deterministic: the weights start from `seed`, batch `step` is drawn from (seed, step) and the torch RNG is
re-seeded from (seed, step) before each step, so `--resume` continues the same loss curve. Writes to `out`:
checkpoint.pt + config.json (atomically, every few minutes and at exit, SIGTERM / SIGINT included) and
log.csv (step, loss, seconds, audio_seconds_per_s). Under torchrun (WORLD_SIZE > 1) the model is wrapped in
DistributedDataParallel (gloo on CPU, nccl on CUDA), each rank takes its share of the global batch, and
only rank 0 writes. CUDA runs the networks under bfloat16 autocast; the synthesiser and loss stay float32.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from export.errors import LatentbridgeError
from export.progress import bar, progress_enabled
from models.autoencoder.configs import DEFAULT_CONFIG, get_config
from models.autoencoder.losses import multiscale_spectral_loss
from models.autoencoder.model import Autoencoder
from models.training.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from models.training.note_batches import NoteSubset, build_cache

LOG = "log.csv"
LOG_FIELDS = ("step", "loss", "seconds", "audio_seconds_per_s")
GRAD_CLIP = 3.0


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    out: Path
    config: str = DEFAULT_CONFIG
    steps: int = 1000
    batch: int = 8
    crop_seconds: float = 1.0
    resume: bool = False
    force: bool = False
    threads: int = 1
    seed: int = 0
    ckpt_every_min: float = 3.0
    lr: float = 1e-3
    max_minutes: float | None = None
    cache: Path | None = None
    subset: NoteSubset = field(default_factory=NoteSubset)

    def run_settings(self) -> dict[str, Any]:
        """What must match for a resumed run to continue the same curve."""
        return {"batch": self.batch, "crop_seconds": self.crop_seconds, "seed": self.seed, "lr": self.lr,
                "subset": asdict(self.subset)}


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
    handle = path.open("w", newline="", buffering=1)
    writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return handle, writer


def train(opts: TrainOptions) -> dict[str, Any]:
    """Run (or resume) training; returns a summary (steps, last loss, audio-seconds per second, paths)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    torch.set_num_threads(opts.threads)
    try:
        return _train(opts, world, rank, device)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(opts: TrainOptions, world: int, rank: int, device: torch.device) -> dict[str, Any]:
    cfg = get_config(opts.config)
    out = Path(opts.out)
    ckpt_path, log_path = out / CHECKPOINT, out / LOG
    crop = int(round(opts.crop_seconds * cfg.sample_rate)) // cfg.encoder.hop * cfg.encoder.hop
    if crop < cfg.encoder.hop:
        raise LatentbridgeError(f"--crop-seconds {opts.crop_seconds} is shorter than one latent frame")
    if opts.batch < 1 or opts.steps < 1:
        raise LatentbridgeError("--batch and --steps must be >= 1")
    if ckpt_path.exists() and not (opts.resume or opts.force):
        raise LatentbridgeError(f"{ckpt_path}: already exists (use --resume to continue or --force to "
                                "restart)")
    torch.manual_seed(opts.seed)
    model = Autoencoder(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    start, seconds = 0, 0.0
    if opts.resume:
        state = load_checkpoint(ckpt_path)
        if state["config_hash"] != cfg.hash():
            raise LatentbridgeError(f"{ckpt_path}: written for another config (hash {state['config_hash']}, "
                                    f"--config {opts.config} is {cfg.hash()})")
        saved = state["extra"].get("settings")
        if saved != opts.run_settings():
            raise LatentbridgeError(f"{ckpt_path}: --resume needs the same batch, crop, seed, lr and subset "
                                    f"as the run that wrote it ({saved})")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, seconds = int(state["step"]), float(state["extra"].get("seconds", 0.0))
    model.to(device)
    for group in optimizer.state.values():
        for key, value in group.items():
            if isinstance(value, torch.Tensor) and key != "step":
                group[key] = value.to(device)
    cache_dir = Path(opts.cache) if opts.cache else out / "cache"
    if rank == 0:
        build_cache(opts.data, opts.subset, model, cache_dir)
    if world > 1:
        dist.barrier()
    cache = build_cache(opts.data, opts.subset, model, cache_dir)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    net: torch.nn.Module = DistributedDataParallel(model) if world > 1 else model
    log = _open_log(log_path, start) if rank == 0 else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else \
        contextlib.nullcontext()
    audio_seconds = opts.batch * world * crop / cfg.sample_rate
    began = last_save = time.monotonic()
    step, loss_value, speeds = start, float("nan"), []
    plain = rank == 0 and not progress_enabled()

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, model, optimizer, step, opts.seed,
                        {"seconds": seconds, "settings": opts.run_settings(), "data": str(opts.data),
                         "notes": len(cache), "world": world})

    try:
        with _stop_on_signals() as stop, bar("train autoencoder", total=opts.steps, unit="step") as pbar:
            pbar.update(start)
            while step < opts.steps:
                t0 = time.monotonic()
                crops = cache.batch(step, opts.batch, crop, opts.seed, rank, world)
                audio, f0, periodicity, loudness = (x.to(device) for x in crops)
                torch.manual_seed(opts.seed * 1_000_003 + step)
                with autocast:
                    recon, kl = net(audio, f0, periodicity, loudness, sample=True)
                loss = multiscale_spectral_loss(recon.float(), audio, cfg.fft_sizes, cfg.log_weight)
                if cfg.encoder.variational:
                    loss = loss + cfg.kl_weight * kl.float()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
                optimizer.step()
                flags = torch.tensor([loss.item(), float(stop.is_set() or _over(opts, began))])
                if world > 1:
                    dist.all_reduce(flags)
                    flags[0] /= world
                loss_value, step = float(flags[0]), step + 1
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
    return {"steps": step, "start_step": start, "loss": loss_value, "notes": len(cache), "world": world,
            "audio_seconds_per_s": sum(speeds) / len(speeds) if speeds else 0.0,
            "checkpoint": str(ckpt_path), "log": str(log_path), "config": opts.config,
            "config_hash": cfg.hash()}


def _over(opts: TrainOptions, began: float) -> bool:
    return opts.max_minutes is not None and time.monotonic() - began >= 60.0 * opts.max_minutes
