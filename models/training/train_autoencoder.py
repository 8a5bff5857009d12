"""Training task of the autoencoder: cached note crops with controls -> multi-scale spectral loss (+ KL).

Audio crops [batch, crop] at 16 kHz with f0 / periodicity / loudness [batch, crop // frame_hop] from the note
cache (`note_batches`); the loop (`loop.train`) does the rest.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from export.core.errors import LatentbridgeError
from models.autoencoder.configs import AutoencoderConfig
from models.autoencoder.losses import multiscale_spectral_loss
from models.autoencoder.model import Autoencoder
from models.training.note_batches import NoteCache, NoteSubset, build_cache


class AutoencoderTask:
    kind = "autoencoder"

    def __init__(self, cfg: AutoencoderConfig, data: Path, cache_dir: Path, subset: NoteSubset, batch: int,
                 crop_seconds: float, seed: int) -> None:
        self.cfg = cfg
        self.model = Autoencoder(cfg)
        self.data, self.cache_dir, self.subset, self.batch = data, cache_dir, subset, batch
        self.crop_seconds, self.seed = crop_seconds, seed
        self.crop = int(round(crop_seconds * cfg.sample_rate)) // cfg.encoder.hop * cfg.encoder.hop
        if self.crop < cfg.encoder.hop:
            raise LatentbridgeError(f"--crop-seconds {crop_seconds} is shorter than one latent frame")
        if batch < 1:
            raise LatentbridgeError("--batch must be >= 1")
        self.cache: NoteCache | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "crop_seconds": self.crop_seconds, "subset": asdict(self.subset)}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        self.cache = build_cache(self.data, self.subset, self.model, self.cache_dir)
        return {"data": str(self.data), "notes": len(self.cache)}

    def audio_seconds(self) -> float:
        return self.batch * self.crop / self.cfg.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.cache is not None, "prepare() first"
        crops = self.cache.batch(step, self.batch, self.crop, self.seed, rank, world)
        audio, f0, periodicity, loudness = (x.to(device) for x in crops)
        recon, kl = net(audio, f0, periodicity, loudness, sample=True)
        loss = multiscale_spectral_loss(recon.float(), audio, self.cfg.fft_sizes, self.cfg.log_weight)
        if self.cfg.encoder.variational:
            loss = loss + self.cfg.kl_weight * kl.float()
        return loss
