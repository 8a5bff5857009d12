"""`style --method nsynth`: Gatys-style transfer on the shipped encoder's ReLU activations (seed 004).

The waveform itself is optimised, in mu-law units (the seed encodes all audio with 8-bit mu-law first), from
the content plus uniform noise of +-1e-6, with Adam. Content loss: mean square difference of the last ReLU's
activations; style loss: per-layer weighted mean square difference of Gram matrices (or of the activations
themselves, `l2`). Audio 1-D float32 at 16 kHz; the result has the content's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from export.core.errors import LatentbridgeError
from models.style.gram import gram, gram_distance, mean_square
from models.style.nsynth_features import EncoderActivations
from models.style.optimise import Step, Transfer, adam

MU = 255.0


@dataclass(frozen=True)
class NSynthStyleConfig:
    iterations: int = 100
    lr: float = 0.05
    content_weight: float = 1.0
    style_weight: float = 1.0
    style_loss: str = "gram"  # or "l2" (the activations themselves; style and content must be equally long)
    layer_weights: tuple[float, ...] = ()  # one per ReLU (2 per residual layer); empty: equal, summing to 1
    noise: float = 1e-6
    seed: int = 0


def mu_law(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.log1p(MU * x.abs()) / math.log1p(MU)


def mu_law_inverse(u: Tensor) -> Tensor:
    return torch.sign(u) * torch.expm1(u.abs().clamp(max=1.0) * math.log1p(MU)) / MU


class NSynthStyle:
    """Style features of one style clip, ready to transfer onto content windows."""

    def __init__(self, net: EncoderActivations, style: np.ndarray, cfg: NSynthStyleConfig,
                 device: str = "cpu") -> None:
        if cfg.style_loss not in ("gram", "l2"):
            raise LatentbridgeError(f"unknown style loss {cfg.style_loss!r} (choose gram or l2)")
        weights = cfg.layer_weights or (1.0 / net.n_layers,) * net.n_layers
        if len(weights) != net.n_layers:
            raise LatentbridgeError(f"--layer-weights needs {net.n_layers} values (2 ReLUs per encoder layer), "
                                    f"got {len(weights)}")
        self.net, self.cfg, self.device, self.weights = net.to(device), cfg, device, weights
        with torch.no_grad():
            relus, _ = self.net(torch.from_numpy(style).to(device))
        self.style_relus = relus
        self.style_grams = [gram(a) for a in relus]

    def style_term(self, relus: list[Tensor]) -> Tensor:
        total = relus[0].new_zeros(())
        for w, a, s, g in zip(self.weights, relus, self.style_relus, self.style_grams, strict=True):
            if w == 0.0:
                continue
            if self.cfg.style_loss == "gram":
                total = total + w * mean_square(gram(a), g)
            else:
                n = min(a.shape[-1], s.shape[-1])
                total = total + w * mean_square(a[..., :n], s[..., :n])
        return total

    def transfer(self, content: np.ndarray, on_step: Step | None = None) -> Transfer:
        cfg = self.cfg
        x_c = torch.from_numpy(content).to(self.device)
        with torch.no_grad():
            _, target = self.net(x_c)
        generator = torch.Generator().manual_seed(cfg.seed)
        noise = (torch.rand(x_c.shape, generator=generator) * 2.0 - 1.0) * cfg.noise
        u = (mu_law(x_c) + noise.to(self.device)).detach()

        def losses(var: Tensor) -> tuple[Tensor, Tensor]:
            relus, content_features = self.net(mu_law_inverse(var))
            return (cfg.content_weight * mean_square(content_features, target),
                    cfg.style_weight * self.style_term(relus))

        content_curve, style_curve = adam(u, losses, cfg.iterations, cfg.lr, on_step,
                                          project=lambda v: v.clamp_(-1.0, 1.0))
        audio = mu_law_inverse(u.detach()).cpu().numpy().astype(np.float32)
        return Transfer(audio, content_curve, style_curve)

    def gram_distance(self, audio: np.ndarray) -> float:
        """Mean over layers of ||G(audio) - G(style)|| / ||G(style)|| on the encoder's ReLUs."""
        with torch.no_grad():
            relus, _ = self.net(torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(self.device))
        return float(np.mean([gram_distance(a, g) for a, g in zip(relus, self.style_grams, strict=True)]))
