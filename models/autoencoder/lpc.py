"""Linear prediction from the harmonic decoder's spectral envelope (LPCNet-style), no gradients: per frame,
harmonic lines + noise bands -> power spectrum on a grid -> pre-emphasis -> autocorrelation -> Levinson-Durbin.

Rate 16 kHz, frames of `frame_hop` (128) samples as in the autoencoder. Coefficients a [..., order + 1] with
a[0] = 1 define the prediction p[t] = -sum_{k=1..order} a[k] s[t - k] of the pre-emphasised signal
s[t] = x[t] - c x[t - 1]; the excitation is e[t] = s[t] - p[t]. Lag windowing, a white-noise floor and bandwidth
expansion (a[k] * gamma ** k) keep every synthesis filter 1 / A(z) stable with poles inside radius gamma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from export.core.errors import LatentbridgeError

NOISE_VARIANCE = 1.0 / 3.0  # the synthesiser's noise tables are uniform white noise in [-1, 1], split into bands


@dataclass(frozen=True)
class LPCConfig:
    """Order, pre-emphasis coefficient c, bandwidth expansion gamma, Gaussian lag window (its width in Hz in
    the spectrum), white-noise floor (relative to the frame's power), grid of `bins` frequencies 0..Nyquist."""

    order: int = 16
    preemphasis: float = 0.85
    bandwidth: float = 0.94
    lag_window_hz: float = 100.0
    noise_floor: float = 1e-4
    bins: int = 257

    def __post_init__(self) -> None:
        if self.order < 1 or self.bins < 2:
            raise LatentbridgeError(f"LPCConfig needs order >= 1 and bins >= 2, got {self.order}, {self.bins}")
        if not 0.0 <= self.preemphasis < 1.0 or not 0.0 < self.bandwidth <= 1.0:
            raise LatentbridgeError(f"LPCConfig needs 0 <= preemphasis < 1 and 0 < bandwidth <= 1, got "
                                    f"{self.preemphasis}, {self.bandwidth}")
        if self.lag_window_hz < 0 or self.noise_floor < 0:
            raise LatentbridgeError("LPCConfig.lag_window_hz and noise_floor must be >= 0")


def levinson(r: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """Autocorrelation r [..., >= order + 1] -> (a [..., order + 1] with a[0] = 1, reflection coefficients
    [..., order]), float64. Reflection coefficients are clamped to +-0.9999, so 1 / A(z) is always stable."""
    r = r.double()
    shape = r.shape[:-1]
    a = torch.zeros(*shape, order + 1, dtype=torch.float64, device=r.device)
    a[..., 0] = 1.0
    error = r[..., 0].clamp_min(1e-30)
    reflections = []
    for i in range(1, order + 1):
        acc = (a[..., :i] * r[..., 1: i + 1].flip(-1)).sum(-1)
        k = (-acc / error).clamp(-0.9999, 0.9999)
        previous = a[..., :i + 1].clone()
        a[..., 1: i + 1] = previous[..., 1: i + 1] + k.unsqueeze(-1) * previous[..., :i].flip(-1)
        error = error * (1.0 - k * k)
        reflections.append(k)
    return a, torch.stack(reflections, dim=-1)


def autocorrelation(x: np.ndarray, order: int) -> np.ndarray:
    """Biased autocorrelation r[0..order] of a signal [..., T] (float64)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    return np.stack([(x[..., : n - k] * x[..., k:]).sum(-1) for k in range(order + 1)], axis=-1) / n


def envelope_power(f0: Tensor, amplitudes: Tensor, noise: Tensor, sample_rate: int, bins: int) -> Tensor:
    """Per-frame power spectrum [B, F, bins] on frequencies 0..sr/2: each harmonic k (amplitude a_k at k f0,
    power a_k^2 / 2) split linearly between its two neighbouring bins, plus the noise bands' power density
    (the same triangular bands as the synthesiser, magnitudes interpolated between band centres).

    f0 [B, F] Hz, amplitudes [B, H, F] (per harmonic, zero above Nyquist), noise [B, N, F]."""
    f0, amplitudes, noise = f0.double(), amplitudes.double(), noise.double()
    batch, frames = f0.shape
    nyquist = sample_rate / 2.0
    spacing = nyquist / (bins - 1)
    k = torch.arange(1, amplitudes.shape[1] + 1, dtype=torch.float64, device=f0.device)
    position = (k[None, :, None] * f0[:, None, :] / spacing).clamp(0.0, bins - 1.0)  # [B, H, F] in bins
    lower = position.floor().long().clamp(max=bins - 2)
    frac = position - lower
    line = 0.5 * amplitudes.square()
    power = torch.zeros(batch, frames, bins, dtype=torch.float64, device=f0.device)
    power.scatter_add_(2, lower.transpose(1, 2), (line * (1.0 - frac)).transpose(1, 2))
    power.scatter_add_(2, (lower + 1).transpose(1, 2), (line * frac).transpose(1, 2))
    band_at_bin = torch.linspace(0.0, noise.shape[1] - 1.0, bins, dtype=torch.float64, device=f0.device)
    left = band_at_bin.floor().long().clamp(max=noise.shape[1] - 2)
    w = band_at_bin - left
    magnitude = noise[:, left] * (1.0 - w)[:, None] + noise[:, left + 1] * w[:, None]  # [B, bins, F]
    return power + (NOISE_VARIANCE / (bins - 1)) * magnitude.square().transpose(1, 2)


def lpc_from_power(power: Tensor, cfg: LPCConfig, sample_rate: int) -> Tensor:
    """Power spectra [..., bins] (0..Nyquist) -> bandwidth-expanded coefficients [..., order + 1] of the
    pre-emphasised signal (float64)."""
    bins = power.shape[-1]
    omega = torch.linspace(0.0, math.pi, bins, dtype=torch.float64, device=power.device)
    c = cfg.preemphasis
    emphasised = power.double() * (1.0 + c * c - 2.0 * c * torch.cos(omega))
    lags = torch.arange(cfg.order + 1, dtype=torch.float64, device=power.device)
    r = emphasised @ torch.cos(omega[:, None] * lags[None, :])
    sigma = 2.0 * math.pi * cfg.lag_window_hz / sample_rate
    r = r * torch.exp(-0.5 * (sigma * lags) ** 2)
    r[..., 0] = r[..., 0] * (1.0 + cfg.noise_floor) + 1e-12
    a, _ = levinson(r, cfg.order)
    return a * cfg.bandwidth ** lags


def lpc_from_envelope(f0: Tensor, amplitudes: Tensor, noise: Tensor, cfg: LPCConfig,
                      sample_rate: int) -> Tensor:
    """f0 [B, F], harmonic amplitudes [B, H, F], noise magnitudes [B, N, F] -> coefficients [B, F, order + 1]
    (float32), frame i's for the samples of frame i."""
    power = envelope_power(f0, amplitudes, noise, sample_rate, cfg.bins)
    return lpc_from_power(power, cfg, sample_rate).float()


def predict(signal: Tensor, coefficients: Tensor, hop: int) -> Tensor:
    """Teacher-forced prediction p[t] = -sum_k a_k s[t - k] from the past of `signal` [B, T] (zeros before
    it) with per-frame coefficients [B, >= ceil(T / hop), order + 1] (sample t uses frame t // hop)."""
    order = coefficients.shape[-1] - 1
    length = signal.shape[-1]
    past = torch.nn.functional.pad(signal, (order, 0)).unfold(-1, order, 1)[:, :length]  # s[t-order .. t-1]
    per_sample = coefficients[:, : -(-length // hop), 1:].repeat_interleave(hop, dim=1)[:, :length]
    return -(past * per_sample.flip(-1).to(signal.dtype)).sum(-1)


def preemphasis(x: Tensor, coefficient: float) -> Tensor:
    """s[t] = x[t] - c x[t - 1] (x[-1] = 0) along the last axis."""
    return x - coefficient * torch.nn.functional.pad(x, (1, 0))[..., :-1]

