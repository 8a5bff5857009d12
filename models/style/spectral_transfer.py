"""`style --method stft-gram` (seed 000's baseline) and `--method random-cnn` (one layer of random filters).

Both optimise a log1p-magnitude STFT X [bins, frames] from the content's, then take the phase by
Griffin-Lim. stft-gram: content loss on X itself, style loss between Gram matrices of X's frames (bins by
bins), Adam. random-cnn: X through one 1-D conv of `filters` random filters of `width` frames (bins as input
channels) and a ReLU; content loss on those activations, style loss on their Gram matrix; L-BFGS.
Audio 1-D float32 at 16 kHz; the result has the content's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from export.core.errors import LatentbridgeError
from models.spectral.features import stft
from models.spectral.griffin_lim import griffin_lim
from models.style.gram import gram, gram_distance, mean_square
from models.style.optimise import Step, Transfer, adam, lbfgs


@dataclass(frozen=True)
class SpectralStyleConfig:
    method: str = "stft-gram"  # or "random-cnn"
    n_fft: int = 1024
    hop: int = 256
    iterations: int = 100
    lr: float = 0.05  # Adam (stft-gram); L-BFGS takes unit steps with a line search
    content_weight: float = 1.0
    style_weight: float = 1.0
    filters: int = 4096  # random-cnn
    width: int = 11  # random-cnn, in frames
    griffin_lim_iters: int = 100
    seed: int = 0


STFT_GRAM = SpectralStyleConfig()
RANDOM_CNN = SpectralStyleConfig(method="random-cnn", n_fft=2048, hop=512, content_weight=0.01)


def log_magnitude(audio: Tensor, n_fft: int, hop: int) -> Tensor:
    """[T] -> log1p |STFT| [n_fft // 2 + 1, 1 + T // hop]."""
    return torch.log1p(stft(audio.unsqueeze(0), n_fft, hop).abs())[0]


class SpectralStyle:
    """Style statistics of one style clip for either spectral method."""

    def __init__(self, style: np.ndarray, cfg: SpectralStyleConfig, device: str = "cpu") -> None:
        if cfg.method not in ("stft-gram", "random-cnn"):
            raise LatentbridgeError(f"unknown spectral style method {cfg.method!r}")
        if style.size < cfg.n_fft:
            raise LatentbridgeError(f"the style is shorter than one STFT frame ({cfg.n_fft} samples)")
        self.cfg, self.device = cfg, device
        self.filters: Tensor | None = None
        if cfg.method == "random-cnn":
            bins = cfg.n_fft // 2 + 1
            generator = torch.Generator().manual_seed(cfg.seed)
            std = math.sqrt(2.0) * math.sqrt(2.0 / ((bins + cfg.filters) * cfg.width))
            self.filters = (torch.randn(cfg.filters, bins, cfg.width, generator=generator) * std).to(device)
        with torch.no_grad():
            self.style_gram = gram(self.features(self.analyse(style)))

    def analyse(self, audio: np.ndarray) -> Tensor:
        x = torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(self.device)
        return log_magnitude(x, self.cfg.n_fft, self.cfg.hop)

    def features(self, spectrogram: Tensor) -> Tensor:
        """[bins, frames] -> the features whose Gram is the style: the spectrogram, or random-filter ReLUs."""
        if self.filters is None:
            return spectrogram
        return F.relu(F.conv1d(spectrogram.unsqueeze(0), self.filters, padding=self.cfg.width // 2))[0]

    def transfer(self, content: np.ndarray, on_step: Step | None = None) -> Transfer:
        cfg = self.cfg
        if content.size < cfg.n_fft:
            raise LatentbridgeError(f"the content is shorter than one STFT frame ({cfg.n_fft} samples)")
        target_spec = self.analyse(content)
        with torch.no_grad():
            target = self.features(target_spec)
        x = target_spec.detach().clone().contiguous()

        def losses(var: Tensor) -> tuple[Tensor, Tensor]:
            features = self.features(var)
            return (cfg.content_weight * mean_square(features, target),
                    cfg.style_weight * mean_square(gram(features), self.style_gram))

        if cfg.method == "stft-gram":
            content_curve, style_curve = adam(x, losses, cfg.iterations, cfg.lr, on_step,
                                              project=lambda v: v.clamp_(min=0.0))
        else:
            content_curve, style_curve = lbfgs(x, losses, cfg.iterations, on_step)
        magnitude = torch.expm1(x.detach().clamp_min(0.0)).unsqueeze(0)
        audio = griffin_lim(magnitude, cfg.n_fft, cfg.hop, content.size, cfg.griffin_lim_iters, seed=cfg.seed)
        return Transfer(audio[0].cpu().numpy().astype(np.float32), content_curve, style_curve)

    def gram_distance(self, audio: np.ndarray) -> float:
        """||G(audio) - G(style)|| / ||G(style)|| in this method's feature space (the audio re-analysed)."""
        with torch.no_grad():
            return gram_distance(self.features(self.analyse(audio)), self.style_gram)
