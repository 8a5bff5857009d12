"""A-weighted loudness per causal frame in torch (ONNX opset-17 exportable): audio -> dB.

Audio [B, T] float32 at `sample_rate` (16 kHz). Frame i (F = T // hop) is the Hann-windowed span
audio[(i + 1) * hop - n_fft : (i + 1) * hop], zeros before the start. Loudness [B, F] in dB relative to a
full-scale mean square: 10 log10(mean over rfft bins of A-weight * |X|^2 / sum(hann^2)), floored at
`floor_db`: a full-scale 1 kHz sine reads -3 dB, white noise of variance v about 10 log10(v * mean A-weight).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from export.errors import LatentbridgeError
from models.controls.pitch import frames


@dataclass(frozen=True)
class LoudnessConfig:
    """Frame hop and DFT length (samples), rate (Hz) and the floor (dB) of `a_weighted_loudness`."""

    sample_rate: int = 16000
    hop: int = 128
    n_fft: int = 1024
    floor_db: float = -100.0

    def __post_init__(self) -> None:
        if self.hop < 1 or self.hop > self.n_fft:
            raise LatentbridgeError(f"LoudnessConfig.hop must be in [1, n_fft={self.n_fft}], got {self.hop}")
        if self.n_fft < 2:
            raise LatentbridgeError(f"LoudnessConfig.n_fft must be >= 2, got {self.n_fft}")


def a_weighting_db(freqs: Tensor) -> Tensor:
    """IEC 61672-1 A-weighting A(f) in dB (0 dB at 1 kHz, -inf at 0 Hz) of frequencies in Hz."""
    f2 = freqs.double() ** 2
    ra = (12194.0 ** 2 * f2 ** 2) / ((f2 + 20.6 ** 2) * torch.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
                                     * (f2 + 12194.0 ** 2))
    return (20.0 * torch.log10(ra) + 2.0).to(freqs.dtype)


@functools.lru_cache(maxsize=8)
def _basis(cfg: LoudnessConfig, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Hann-windowed real DFT [n_fft, 2K] (cos | sin) and power weights [K]: A-weight / sum(hann^2) / K."""
    n = cfg.n_fft
    t = torch.arange(n, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n)  # periodic Hann
    k = torch.arange(n // 2 + 1, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(t, k) / n
    basis = hann[:, None] * torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)
    freqs = k * cfg.sample_rate / n
    weight = 10.0 ** (a_weighting_db(freqs) / 10.0)  # exactly 0 at DC
    weight = weight / hann.square().sum() / k.numel()
    return basis.to(device, dtype), weight.to(device, dtype)


def a_weighted_loudness(audio: Tensor, cfg: LoudnessConfig = LoudnessConfig()) -> Tensor:
    """audio [B, T] -> loudness [B, T // hop] in dB (see the module docstring)."""
    if audio.dim() != 2:
        raise LatentbridgeError(f"a_weighted_loudness expects audio [batch, samples], "
                                f"got shape {tuple(audio.shape)}")
    basis, weight = _basis(cfg, audio.device, audio.dtype)
    spec = frames(audio, cfg.hop, cfg.n_fft) @ basis
    k = weight.shape[0]
    power = spec[..., :k].square() + spec[..., k:].square()
    mean = power @ weight
    return 10.0 * torch.log10(mean.clamp_min(10.0 ** (cfg.floor_db / 10.0)))
