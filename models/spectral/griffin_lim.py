"""Griffin-Lim phase reconstruction (with the "fast" momentum of Perraudin et al. 2013) in torch.

Magnitudes are unscaled |X| [B, n_fft // 2 + 1, frames] in the convention of `features.stft`; the result is
audio [B, length] at the rate of the spectrogram. momentum 0 gives the original Griffin-Lim (1984) iteration.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from export.core.errors import LatentbridgeError
from models.spectral.features import istft, stft

PHASE_EPS = 1e-16


def spectral_convergence(audio: Tensor, magnitude: Tensor, n_fft: int, hop: int) -> Tensor:
    """|| |STFT(audio)| - magnitude ||_F / || magnitude ||_F per batch item [B]."""
    diff = stft(audio, n_fft, hop).abs() - magnitude
    return diff.flatten(1).norm(dim=1) / magnitude.flatten(1).norm(dim=1).clamp_min(PHASE_EPS)


@torch.no_grad()
def griffin_lim(magnitude: Tensor, n_fft: int, hop: int, length: int, n_iter: int = 50,
                momentum: float = 0.99, seed: int = 0) -> Tensor:
    """Audio [B, length] whose STFT magnitude approximates `magnitude` [B, F, frames].

    Each iteration projects onto consistent spectrograms (iSTFT then STFT), extrapolates by `momentum` times
    the change since the previous projection, and keeps only the phase of the result. The initial phases are
    uniform random from `seed` (a fixed seed makes the output deterministic).
    """
    if magnitude.dim() != 3 or magnitude.shape[1] != n_fft // 2 + 1:
        raise LatentbridgeError(f"magnitude must be [B, {n_fft // 2 + 1}, frames], "
                                f"got {tuple(magnitude.shape)}")
    if magnitude.shape[2] != 1 + length // hop:
        raise LatentbridgeError(f"{magnitude.shape[2]} frames do not match length {length} "
                                f"(expected {1 + length // hop} at hop {hop})")
    if n_iter < 1:
        raise LatentbridgeError(f"Griffin-Lim needs n_iter >= 1, got {n_iter}")
    if not 0.0 <= momentum < 1.0:
        raise LatentbridgeError(f"Griffin-Lim momentum must be in [0, 1), got {momentum}")
    magnitude = magnitude.float()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    angles = torch.rand(magnitude.shape, generator=generator).to(magnitude.device) * (2.0 * math.pi)
    phase = torch.polar(torch.ones_like(magnitude), angles)
    previous = torch.zeros_like(phase)
    for _ in range(n_iter):
        projected = stft(istft(magnitude * phase, n_fft, hop, length), n_fft, hop)
        accelerated = projected + momentum * (projected - previous)
        previous = projected
        phase = accelerated / accelerated.abs().clamp_min(PHASE_EPS)
    return istft(magnitude * phase, n_fft, hop, length)
