"""Training a feed-forward style network (`latentbridge style train`): the seed-004 losses over many content clips.

Audio mono float32 at 16 kHz. Each step draws `batch` crops of `clip_s` seconds from a cache of content clips
(from (seed, step), each at a random level in `GAIN_DB`), styles them with `SpectralGainNet` and scores the
result through the shipped encoder's magnitude path (`models.style.nsynth_transfer.NSynthStyle`): the content loss
(the last ReLU against the clip's own) plus the style loss (Gram matrices of every ReLU against those of the
style files, taken together, and the spectral-envelope term). The shared loop (`models.training.loop`) makes
it resumable and writes log.csv.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.style.feedforward import FeedForwardConfig, SpectralGainNet
from models.style.ff_data import ContentSource, training_clips
from models.style.gram import mean_square
from models.style.nsynth_transfer import NSynthStyle

GAIN_DB = (-12.0, 0.0)


@dataclass(frozen=True)
class StyleTrainSettings:
    batch: int = 4
    clip_s: float = 1.5
    clips_per_source: int = 96
    content_weight: float = 1.0
    style_weight: float = 1.0
    envelope_weight: float | None = None  # None: the nsynth magnitude domain's default


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def style_objective(style: np.ndarray, content_weight: float, style_weight: float,
                    envelope_weight: float | None = None) -> NSynthStyle:
    """The losses of `style --method nsynth` toward `style` (mono 16 kHz, the style files joined) on the
    shipped encoder: the seed-004 content and Gram terms plus the spectral-envelope term."""
    from models.style.transfer import StyleSettings, build_method

    method = build_method(StyleSettings(method="nsynth", content_weight=content_weight, style_weight=style_weight,
                                        envelope_weight=envelope_weight), style, "cpu")
    assert isinstance(method, NSynthStyle)
    return method


def losses(objective: NSynthStyle, content: Tensor, styled: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted (content, style) losses, means over the batch [B, T]."""
    cfg = objective.cfg
    content_loss, style_loss = styled.new_zeros(()), styled.new_zeros(())
    for x, y in zip(content, styled, strict=True):
        with torch.no_grad():
            target = objective.features(x).content
        acts = objective.features(y)
        content_loss = content_loss + mean_square(acts.content, target)
        style_loss = style_loss + objective.style_term(acts)
    n = content.shape[0]
    return cfg.content_weight * content_loss / n, cfg.style_weight * style_loss / n


class StyleTask:
    """The `models.training.loop.TrainTask` of a feed-forward style network."""

    kind = "style"

    def __init__(self, cfg: FeedForwardConfig, settings: StyleTrainSettings, style_files: list[str],
                 style: np.ndarray, sources: list[ContentSource], seed: int) -> None:
        self.model = SpectralGainNet(cfg)
        self.settings_ = settings
        self.style_hashes = [file_sha256(p) for p in style_files]
        self.objective = style_objective(style, settings.content_weight, settings.style_weight,
                                         settings.envelope_weight)
        self.sources, self.seed = sources, seed
        self.clips = np.zeros((0, 0), np.float32)
        self.last: tuple[float, float] = (float("nan"), float("nan"))

    def initialise(self, path: Path) -> None:
        """Start from the weights of another style run's checkpoint (its frames may differ: the buffers are
        this config's)."""
        from models.training.checkpoint import load_checkpoint

        state = load_checkpoint(path, "style")["model"]
        own = dict(self.model.named_parameters())
        missing = [k for k in own if k not in state or state[k].shape != own[k].shape]
        if missing:
            raise LatentbridgeError(f"{path}: not a style network of this size (mismatched {', '.join(missing)})")
        self.model.load_state_dict({k: state[k] for k in own}, strict=False)

    def settings(self) -> dict[str, Any]:
        return {**asdict(self.settings_), "style_sha256": self.style_hashes,
                "content": [f"{s.layout}:{s.root.name}" for s in self.sources]}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        if world != 1:
            raise LatentbridgeError("style training runs in one process (no torchrun)")
        if not self.clips.size:
            s = self.settings_
            self.clips = training_clips(self.sources, s.clips_per_source, s.clip_s, self.seed)
        return {"content_clips": int(self.clips.shape[0])}

    def audio_seconds(self) -> float:
        return self.settings_.batch * self.settings_.clip_s

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> Tensor:
        rng = np.random.default_rng([self.seed, step])
        pick = rng.choice(self.clips.shape[0], size=self.settings_.batch, replace=False)
        level = 10.0 ** (rng.uniform(*GAIN_DB, size=(self.settings_.batch, 1)) / 20.0)
        x = torch.from_numpy((self.clips[pick] * level).astype(np.float32)).to(device)
        content_loss, style_loss = losses(self.objective, x, net(x))
        self.last = (float(content_loss.detach()), float(style_loss.detach()))
        return content_loss + style_loss
