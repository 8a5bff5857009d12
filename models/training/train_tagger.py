"""Training task of the sample-level CNN tagger: random windows of MagnaTagATune-layout clips -> BCE loss.

Clips are decoded once into an audio cache (16 kHz, the clip length of the first clip); each step draws
`batch` (clip, window start) pairs from (seed, step) and their 0/1 tag rows. Tags: the `top` most frequent
tags of the training split that have at least `min_count` positives (rarer ones cannot be learnt or scored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError
from models.data.mtat_reader import MTATDataset
from models.tagger.configs import TaggerConfig, with_tags
from models.tagger.model import SampleCNN
from models.training.audio_cache import audio_cache


@dataclass(frozen=True)
class TagChoice:
    top: int = 50
    min_count: int = 10


def choose_tags(data: Path, choice: TagChoice) -> tuple[str, ...]:
    """The tags to learn, most frequent first (see the module docstring)."""
    train = MTATDataset(data, "train")
    counts = train.label_matrix().sum(axis=0)
    tags = [t for t in train.top_tags(min(choice.top, len(train.tag_names)))
            if counts[train.tag_names.index(t)] >= choice.min_count
            and counts[train.tag_names.index(t)] < len(train)]
    if not tags:
        raise LatentbridgeError(f"{data}: no tag has {choice.min_count} or more positives in the train split")
    return tuple(tags)


class TaggerTask:
    kind = "tagger"

    def __init__(self, cfg: TaggerConfig, data: Path, cache_dir: Path, choice: TagChoice, batch: int,
                 seed: int) -> None:
        if batch < 1:
            raise LatentbridgeError("--batch must be >= 1")
        self.cfg = with_tags(cfg, choose_tags(data, choice))
        self.model = SampleCNN(self.cfg)
        self.data, self.cache_dir, self.choice, self.batch, self.seed = data, cache_dir, choice, batch, seed
        self.audio: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "tags": list(self.cfg.tag_names)}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        train = MTATDataset(self.data, "train", tags=self.cfg.tag_names)
        if not len(train):
            raise LatentbridgeError(f"{self.data}: the train split has no clips")
        first = train[0][1]
        samples = max(first.shape[0], self.cfg.n_samples)
        self.audio = audio_cache([c.audio_path for c in train.clips], samples, self.cache_dir, "clips")
        self.labels = train.label_matrix().astype(np.float32)
        return {"data": str(self.data), "clips": len(train), "tags": len(self.cfg.tag_names)}

    def audio_seconds(self) -> float:
        return self.batch * self.cfg.n_samples / self.cfg.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.audio is not None and self.labels is not None, "prepare() first"
        rng = np.random.default_rng([self.seed, step])
        total, window = self.batch * world, self.cfg.n_samples
        clips = rng.integers(0, self.audio.shape[0], size=total)
        starts = rng.integers(0, self.audio.shape[1] - window + 1, size=total)
        rows = slice(rank * self.batch, (rank + 1) * self.batch)
        x = np.stack([self.audio[c, s: s + window] for c, s in zip(clips[rows], starts[rows], strict=True)])
        y = torch.from_numpy(self.labels[clips[rows]]).to(device)
        logits = net(torch.from_numpy(x).to(device))
        return F.binary_cross_entropy_with_logits(logits.float(), y)
