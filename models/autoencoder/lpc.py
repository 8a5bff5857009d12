"""Linear prediction for training, on tensors: the envelope analysis of `export.autoencoder.lpc_envelope` (the one
implementation, numpy, no gradients) wrapped for tensors, and the teacher-forced prediction and pre-emphasis.

Rate 16 kHz, frames of `frame_hop` (128) samples as in the autoencoder; coefficients a [..., order + 1] with
a[0] = 1 as in `export.autoencoder.lpc_envelope`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from export.autoencoder import lpc_envelope
from export.autoencoder.lpc_envelope import LPCConfig

__all__ = ["LPCConfig", "lpc_from_envelope", "predict", "preemphasis"]


def lpc_from_envelope(f0: Tensor, amplitudes: Tensor, noise: Tensor, cfg: LPCConfig,
                      sample_rate: int) -> Tensor:
    """f0 [B, F], harmonic amplitudes [B, H, F], noise magnitudes [B, N, F] -> coefficients [B, F, order + 1]
    (float32, on f0's device), frame i's for the samples of frame i."""
    a = lpc_envelope.lpc_from_envelope(*(t.detach().double().cpu().numpy() for t in (f0, amplitudes, noise)),
                                       cfg, sample_rate)
    return torch.from_numpy(a).to(f0.device)


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
