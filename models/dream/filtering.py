"""DreamSound's hard-cut filter: a 0/1 mask over STFT bins whose max-normalised magnitude exceeds a threshold,
and the two update directions built from it (the gradient kept in its strongest bins; the input gated there).

16 kHz mono float32 [T] in and out, same length. STFT: 512-point periodic Hann, hop 128 (32 ms / 8 ms);
the inverse is torch's least-squares overlap-add, so a masked spectrum's inverse has a non-negative inner
product with the gradient (each direction climbs the objective to first order).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

N_FFT = 512
HOP = 128


def _window() -> Tensor:
    return torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)


def stft(audio: np.ndarray) -> Tensor:
    """[T] -> complex [N_FFT // 2 + 1, frames] (centred frames, reflect-padded ends)."""
    return torch.stft(torch.from_numpy(np.asarray(audio, np.float64)), N_FFT, HOP, window=_window(),
                      center=True, return_complex=True)


def istft(spec: Tensor, length: int) -> np.ndarray:
    """Inverse of `stft`, cut to `length` samples (float32)."""
    return torch.istft(spec, N_FFT, HOP, window=_window(), center=True, length=length).numpy().astype(np.float32)


def hard_cut(magnitude: Tensor, threshold: float) -> Tensor:
    """1 where magnitude / max(magnitude) > threshold, else 0 (all 0 for an all-zero magnitude)."""
    peak = float(magnitude.max()) if magnitude.numel() else 0.0
    if peak <= 0.0:
        return torch.zeros_like(magnitude)
    return (magnitude / peak > threshold).to(magnitude.dtype)


def filtered_gradient(gradient: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The gradient with only its strongest bins kept (`hard_cut` of its own magnitude); and the fraction of
    bins kept."""
    spec = stft(gradient)
    mask = hard_cut(spec.abs(), threshold)
    return istft(spec * mask, gradient.shape[0]), float(mask.mean())


def gated_input(audio: np.ndarray, gradient: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The input's own magnitude in the gradient's strongest bins, on the gradient's phase (so adding it climbs
    the objective); elsewhere nothing. Returns the direction and the fraction of bins kept."""
    grad_spec = stft(gradient)
    mask = hard_cut(grad_spec.abs(), threshold)
    phase = torch.polar(torch.ones_like(mask), grad_spec.angle())
    return istft(mask * stft(audio).abs() * phase, gradient.shape[0]), float(mask.mean())
