"""Training task of the spectral autoencoder baseline: whole notes -> log-magnitude -> frequency-weighted MSE.

The notes are those the note classifier trains on (`classifier_notes`: up to `per_instrument` per training
instrument), cut to the config's `n_samples`; each step draws `batch` of them from (seed, step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from export.core.errors import LatentbridgeError
from models.classifier.model import DEFAULT_CONFIG as CLASSIFIER_RANGE
from models.spectral.model import SpectralAEConfig, SpectralAutoencoder
from models.training.audio_cache import audio_cache
from models.training.train_classifier import classifier_notes


class SpectralTask:
    kind = "spectral"

    def __init__(self, cfg: SpectralAEConfig, data: Path, cache_dir: Path, per_instrument: int, batch: int,
                 seed: int) -> None:
        if batch < 1 or per_instrument < 1:
            raise LatentbridgeError("--batch and --per-instrument must be >= 1")
        self.cfg, self.model = cfg, SpectralAutoencoder(cfg)
        self.data, self.cache_dir, self.per_instrument = data, cache_dir, per_instrument
        self.batch, self.seed = batch, seed
        self.audio: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "per_instrument": self.per_instrument}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        notes = classifier_notes(self.data, "train", CLASSIFIER_RANGE, self.per_instrument, self.seed)
        self.audio = audio_cache([e.audio_path for e in notes], self.cfg.n_samples, self.cache_dir, "notes")
        return {"data": str(self.data), "notes": len(notes)}

    def audio_seconds(self) -> float:
        return self.batch * self.cfg.n_samples / self.cfg.spectrogram.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.audio is not None, "prepare() first"
        rng = np.random.default_rng([self.seed, step])
        rows = rng.integers(0, self.audio.shape[0], size=self.batch * world)[rank * self.batch:
                                                                              (rank + 1) * self.batch]
        target = self.model.prepare(torch.from_numpy(np.asarray(self.audio[rows])).to(device))
        return self.model.loss(net(target), target)
