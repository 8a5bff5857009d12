"""Shared by the WaveNet runtime tests: a WaveNet of a named config exported to an ONNX step graph, and random
conditioning for every input its config takes (torch tensors; `as_numpy` for the runtimes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.exporting.onnx_export import export_checkpoint
from models.training.checkpoint import save_checkpoint
from models.wavenet.configs import get_config
from models.wavenet.model import WaveNet


def exported(name: str, tmp_path: Path, seed: int = 0) -> tuple[WaveNet, Path]:
    torch.manual_seed(seed)
    model = WaveNet(get_config(name)).eval()
    with torch.no_grad():  # larger than default-init weights, so the sequences are far from constant
        for p in model.parameters():
            p.mul_(2.0)
    save_checkpoint(tmp_path / name / "checkpoint.pt", "wavenet", model, None, 0, 0)
    (row,) = export_checkpoint(tmp_path / name, tmp_path / "onnx", name)
    return model, Path(row["path"])


def conditioning(model: WaveNet, batch: int, n: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """Per frame of `hop` samples: local frames, periods in [2, max_period]; per voice: global id / vector."""
    cfg, g = model.cfg, torch.Generator().manual_seed(seed)
    frames = -(-n // cfg.hop)
    cond: dict[str, torch.Tensor] = {}
    if cfg.local_channels:
        cond["local"] = torch.randn(batch, cfg.local_channels, frames, generator=g)
    if cfg.global_classes:
        cond["global_id"] = torch.randint(0, cfg.global_classes, (batch,), generator=g)
    if cfg.global_dim:
        cond["global_vec"] = torch.randn(batch, cfg.global_dim, generator=g)
    if cfg.period_input:
        cond["period"] = torch.randint(2, cfg.max_period + 1, (batch, frames), generator=g)
    return cond


def as_numpy(cond: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in cond.items()}
