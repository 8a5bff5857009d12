"""Multi-scale spectral loss (DDSP): sum over FFT sizes of L1(|X| - |Y|) + w * L1(log|X| - log|Y|).

Audio [B, T] at any rate; Hann windows, hop = n_fft / 4, magnitudes of torch.stft (centred, reflect-padded).
Each term is a mean over bins and frames, so the loss does not scale with the signal length.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def magnitudes(audio: Tensor, n_fft: int) -> Tensor:
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, center=True, pad_mode="reflect",
                      return_complex=True)
    return spec.abs()


def multiscale_spectral_loss(pred: Tensor, target: Tensor,
                             fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                             log_weight: float = 1.0, eps: float = 1e-7) -> Tensor:
    """pred, target [B, T] -> scalar loss (0 for identical signals)."""
    total = pred.new_zeros(())
    for n_fft in fft_sizes:
        p, t = magnitudes(pred, n_fft), magnitudes(target, n_fft)
        total = total + (p - t).abs().mean()
        if log_weight:
            total = total + log_weight * (torch.log(p + eps) - torch.log(t + eps)).abs().mean()
    return total
