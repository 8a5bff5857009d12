"""Training checkpoints: model + optimizer state, step, RNG, config (as JSON) and its hash, atomically.

One file, `checkpoint.pt` (torch.save of a dict of tensors and plain Python values), plus `config.json` beside
it. Written to a temporary file in the same directory and renamed, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from export.errors import LatentbridgeError
from models.autoencoder.configs import AutoencoderConfig
from models.autoencoder.model import Autoencoder

FORMAT = "latentbridge-autoencoder-checkpoint"
VERSION = 1
CHECKPOINT = "checkpoint.pt"


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(name)
        os.chmod(name, 0o644)
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def save_checkpoint(path: str | Path, model: Autoencoder, optimizer: torch.optim.Optimizer, step: int,
                    seed: int, extra: dict[str, Any] | None = None) -> Path:
    """Write `path` (a checkpoint.pt) and `config.json` beside it, each atomically."""
    path = Path(path)
    cfg = model.cfg
    state = {"format": FORMAT, "version": VERSION, "config": cfg.to_dict(), "config_hash": cfg.hash(),
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "seed": seed,
             "torch_rng": torch.get_rng_state(), "extra": dict(extra or {})}
    _atomic_write(path, lambda name: torch.save(state, name))
    text = json.dumps({"config": cfg.to_dict(), "config_hash": cfg.hash()}, indent=1)
    _atomic_write(path.parent / "config.json", lambda name: Path(name).write_text(text))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict; LatentbridgeError if missing, unreadable or of an unknown format / version."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise LatentbridgeError(f"{path}: cannot read checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise LatentbridgeError(f"{path}: not a latentbridge autoencoder checkpoint")
    if state.get("version") != VERSION:
        raise LatentbridgeError(f"{path}: checkpoint version {state.get('version')} is not supported "
                                f"(this build reads version {VERSION})")
    return state


def load_model(path: str | Path) -> tuple[Autoencoder, dict[str, Any]]:
    """An Autoencoder (eval mode, CPU) rebuilt from the config stored in the checkpoint, and the dict."""
    state = load_checkpoint(path)
    cfg = AutoencoderConfig.from_dict(state["config"])
    if cfg.hash() != state["config_hash"]:
        raise LatentbridgeError(f"{path}: config hash mismatch (checkpoint written by another version?)")
    model = Autoencoder(cfg)
    model.load_state_dict(state["model"])
    return model.eval(), state
