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

from export.core.errors import LatentbridgeError
from models.framed_dft import causal_dft, frame_dft


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
def _window_and_weight(cfg: LoudnessConfig) -> tuple[Tensor, Tensor]:
    """Periodic Hann window [n_fft] and power weights [K]: A-weight / sum(hann^2) / K (float64)."""
    n = cfg.n_fft
    t = torch.arange(n, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n)
    k = torch.arange(n // 2 + 1, dtype=torch.float64)
    weight = 10.0 ** (a_weighting_db(k * cfg.sample_rate / n) / 10.0)  # exactly 0 at DC
    return hann, weight / hann.square().sum() / k.numel()


def a_weighted_loudness(audio: Tensor, cfg: LoudnessConfig = LoudnessConfig()) -> Tensor:
    """audio [B, T] -> loudness [B, T // hop] in dB (see the module docstring)."""
    if audio.dim() != 2:
        raise LatentbridgeError(f"a_weighted_loudness expects audio [batch, samples], "
                                f"got shape {tuple(audio.shape)}")
    hann, weight = _window_and_weight(cfg)
    real, imag = causal_dft(audio, cfg.n_fft, cfg.hop, hann.to(audio.device))
    mean = (real.square() + imag.square()) @ weight.to(audio.device, audio.dtype)
    return 10.0 * torch.log10(mean.clamp_min(10.0 ** (cfg.floor_db / 10.0)))


def frame_loudness(x: Tensor, cfg: LoudnessConfig = LoudnessConfig()) -> Tensor:
    """Frames already cut [B, F, n_fft] -> loudness [B, F] in dB (the streaming form of `a_weighted_loudness`)."""
    hann, weight = _window_and_weight(cfg)
    real, imag = frame_dft(x, cfg.n_fft, hann.to(x.device))
    mean = (real.square() + imag.square()) @ weight.to(x.device, x.dtype)
    return 10.0 * torch.log10(mean.clamp_min(10.0 ** (cfg.floor_db / 10.0)))
