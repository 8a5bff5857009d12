"""`style --method nsynth`: Gatys-style transfer on the shipped encoder's ReLU activations (seed 004).

Domain `magnitude` (default): the log-magnitude STFT at the encoder's own n_fft and hop is optimised from the
content's (the encoder sees only |STFT| through its log-mel front end), each bin kept within `boost_db` above
and `cut_db` below the content's (so no partial is carved out or created and pitch survives), and the result is
resynthesised with the content's phase. Domain `waveform` (the seed's): the samples themselves in mu-law
units, from the content plus uniform noise of +-1e-6. Both with Adam. Content loss: mean square difference of
the last ReLU's activations; style loss: per-layer weighted mean square difference of Gram matrices (or of the
activations themselves, `l2`), plus `envelope_weight` times the mean square difference of the front end's mean
over frames: the spectral envelope in the encoder's scaled log-mel, a first-order statistic that the Gram
matrices carry only through ReLUs, many of them dead on quiet input (on by default in the magnitude domain).
Audio 1-D float32 at 16 kHz; the result has the content's length. Why the defaults are what they are:
bench/results/style_investigation.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from export.core.errors import LatentbridgeError
from models.spectral.features import istft, stft
from models.style.gram import gram, gram_distance, mean_square
from models.style.nsynth_features import Activations, EncoderActivations
from models.style.optimise import Step, Transfer, adam

MU = 255.0
NEPER_DB = 20.0 / math.log(10.0)  # dB per natural-log unit of magnitude
LR = {"magnitude": 0.07, "waveform": 0.05}  # Adam's default per domain (natural-log magnitude; mu-law units)
ENVELOPE = {"magnitude": 0.3, "waveform": 0.0}  # the envelope term's default weight per domain (the seed's: none)


@dataclass(frozen=True)
class NSynthStyleConfig:
    iterations: int = 100
    lr: float | None = None  # Adam; None: the domain's default (LR)
    domain: str = "magnitude"  # or "waveform"
    boost_db: float = 10.0  # magnitude: the most a bin may rise above the content's
    cut_db: float | None = 8.0  # magnitude: the most a bin may fall below the content's (None: no limit)
    content_weight: float = 1.0
    style_weight: float = 1.0
    style_loss: str = "gram"  # or "l2" (the activations themselves; style and content must be equally long)
    layer_weights: tuple[float, ...] = ()  # one per ReLU (2 per residual layer); empty: equal, summing to 1
    envelope_weight: float | None = None  # the spectral-envelope term (module docstring); None: ENVELOPE
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
        if cfg.domain not in LR:
            raise LatentbridgeError(f"unknown nsynth domain {cfg.domain!r} (choose {' or '.join(LR)})")
        front = net.encoder.logmel
        if cfg.domain == "magnitude" and front is None:
            raise LatentbridgeError("the magnitude domain needs an encoder with a log-mel front end")
        self.envelope_weight = cfg.envelope_weight if cfg.envelope_weight is not None else ENVELOPE[cfg.domain]
        if self.envelope_weight and front is None:
            raise LatentbridgeError("the envelope term needs an encoder with a log-mel front end")
        self.n_fft, self.hop = (front.n_fft, front.hop) if front is not None else (0, 0)
        self.lr = cfg.lr if cfg.lr is not None else LR[cfg.domain]
        weights = cfg.layer_weights or (1.0 / net.n_layers,) * net.n_layers
        if len(weights) != net.n_layers:
            raise LatentbridgeError(f"--layer-weights needs {net.n_layers} values (2 ReLUs per encoder layer), "
                                    f"got {len(weights)}")
        self.net, self.cfg, self.device, self.weights = net.to(device), cfg, device, weights
        with torch.no_grad():
            acts = self.features(torch.from_numpy(np.ascontiguousarray(style, np.float32)).to(device))
        self.style_relus = acts.relus
        self.style_grams = [gram(a) for a in acts.relus]
        self.style_envelope = acts.front.mean(dim=-1)

    def style_term(self, acts: Activations) -> Tensor:
        total = acts.front.new_zeros(())
        if self.envelope_weight:
            total = total + self.envelope_weight * mean_square(acts.front.mean(dim=-1), self.style_envelope)
        for w, a, s, g in zip(self.weights, acts.relus, self.style_relus, self.style_grams, strict=True):
            if w == 0.0:
                continue
            if self.cfg.style_loss == "gram":
                total = total + w * mean_square(gram(a), g)
            else:
                n = min(a.shape[-1], s.shape[-1])
                total = total + w * mean_square(a[..., :n], s[..., :n])
        return total

    def spectrum(self, audio: Tensor) -> Tensor:
        """[T] -> complex STFT [bins, frames] at the encoder front end's n_fft and hop (centred)."""
        return stft(audio.unsqueeze(0), self.n_fft, self.hop)[0]

    def features(self, audio: Tensor) -> Activations:
        """The activations the losses compare, in this config's domain (magnitude: via the centred STFT)."""
        if self.cfg.domain == "waveform":
            return self.net(audio)
        return self.net.from_power(self.spectrum(audio).abs().square())

    def transfer(self, content: np.ndarray, on_step: Step | None = None) -> Transfer:
        x_c = torch.from_numpy(np.ascontiguousarray(content, np.float32)).to(self.device)
        with torch.no_grad():
            target = self.features(x_c).content
        if self.cfg.domain == "magnitude":
            return self._transfer_magnitude(x_c, target, on_step)
        return self._transfer_waveform(x_c, target, on_step)

    def _transfer_magnitude(self, x_c: Tensor, target: Tensor, on_step: Step | None) -> Transfer:
        cfg = self.cfg
        spec = self.spectrum(x_c)
        log_mag = torch.log(spec.abs() + 1e-7)
        ceiling = log_mag + cfg.boost_db / NEPER_DB
        floor = log_mag - (cfg.cut_db if cfg.cut_db is not None else math.inf) / NEPER_DB
        var = log_mag.clone()

        def losses(v: Tensor) -> tuple[Tensor, Tensor]:
            acts = self.net.from_power(torch.exp(2.0 * v))
            return (cfg.content_weight * mean_square(acts.content, target),
                    cfg.style_weight * self.style_term(acts))

        content_curve, style_curve = adam(var, losses, cfg.iterations, self.lr, on_step,
                                          project=lambda v: torch.clamp(v, floor, ceiling, out=v))
        with torch.no_grad():
            phase = spec / spec.abs().clamp_min(1e-12)
            audio = istft((torch.exp(var) * phase).unsqueeze(0), self.n_fft, self.hop, x_c.numel())[0]
        return Transfer(audio.cpu().numpy().astype(np.float32), content_curve, style_curve)

    def _transfer_waveform(self, x_c: Tensor, target: Tensor, on_step: Step | None) -> Transfer:
        cfg = self.cfg
        generator = torch.Generator().manual_seed(cfg.seed)
        noise = (torch.rand(x_c.shape, generator=generator) * 2.0 - 1.0) * cfg.noise
        u = (mu_law(x_c) + noise.to(self.device)).detach()

        def losses(var: Tensor) -> tuple[Tensor, Tensor]:
            acts = self.net(mu_law_inverse(var))
            return (cfg.content_weight * mean_square(acts.content, target),
                    cfg.style_weight * self.style_term(acts))

        content_curve, style_curve = adam(u, losses, cfg.iterations, self.lr, on_step,
                                          project=lambda v: v.clamp_(-1.0, 1.0))
        audio = mu_law_inverse(u.detach()).cpu().numpy().astype(np.float32)
        return Transfer(audio, content_curve, style_curve)

    def gram_distance(self, audio: np.ndarray) -> float:
        """Mean over layers of ||G(audio) - G(style)|| / ||G(style)|| on the encoder's ReLUs (this domain's)."""
        with torch.no_grad():
            relus = self.features(torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(self.device)).relus
        return float(np.mean([gram_distance(a, g) for a, g in zip(relus, self.style_grams, strict=True)]))
