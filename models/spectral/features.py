"""STFT convention of the spectral autoencoder, Griffin-Lim and the note classifier; dB scaling, mel bank.

Audio [B, T] float32 at 16 kHz. STFT: periodic Hann window of n_fft, hop `hop`, centred frames (n_fft // 2
zeros padded on each side), so a clip of T samples has 1 + T // hop frames; spectra are [B, n_fft // 2 + 1,
frames]. Levels are in dB relative to a full-scale sine: |X| is scaled by 2 / sum(window), so a sine of
amplitude 1 centred on a bin reads 0 dB. Log-magnitudes are normalised to [0, 1] linearly from
[min_db, max_db] (default [-100, +20] dB), values outside clipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError

POWER_FLOOR = 1e-20  # floor on scaled power before the log (-200 dB), far below any min_db in use


@dataclass(frozen=True)
class SpectrogramConfig:
    """STFT size; dB window to [0, 1]: x = (20 log10(scaled |X|) - min_db) / (max_db - min_db)."""

    n_fft: int = 1024
    hop: int = 256
    min_db: float = -100.0
    max_db: float = 20.0
    sample_rate: int = MODEL_RATE

    def __post_init__(self) -> None:
        if self.n_fft < 2 or self.n_fft % 2:
            raise LatentbridgeError(f"SpectrogramConfig.n_fft must be even and >= 2, got {self.n_fft}")
        if not 1 <= self.hop <= self.n_fft // 2:
            raise LatentbridgeError(f"SpectrogramConfig.hop must be in [1, n_fft / 2], got {self.hop}")
        if self.max_db <= self.min_db:
            raise LatentbridgeError(f"SpectrogramConfig needs min_db < max_db, "
                                    f"got {self.min_db}, {self.max_db}")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop


def hann_window(n_fft: int) -> Tensor:
    """Periodic Hann window (sums to n_fft / 2)."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32)


def magnitude_scale(n_fft: int) -> float:
    """Factor that makes a full-scale sine read |X| = 1: 2 / sum(hann) = 4 / n_fft."""
    return 4.0 / n_fft


def stft(audio: Tensor, n_fft: int, hop: int) -> Tensor:
    """Complex STFT [B, n_fft // 2 + 1, 1 + T // hop] of audio [B, T] (unscaled, centred, zero padded)."""
    window = hann_window(n_fft).to(audio.device)
    return torch.stft(audio, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)


def istft(spec: Tensor, n_fft: int, hop: int, length: int) -> Tensor:
    """Inverse of `stft` (least-squares overlap-add): complex [B, F, frames] -> audio [B, length]."""
    window = hann_window(n_fft).to(spec.device)
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=length)


def power_to_db(power: Tensor) -> Tensor:
    """Scaled power -> dB (10 log10), floored at POWER_FLOOR."""
    return 10.0 * torch.log10(torch.clamp(power, min=POWER_FLOOR))


def normalize_db(db: Tensor, min_db: float, max_db: float) -> Tensor:
    return torch.clamp((db - min_db) / (max_db - min_db), 0.0, 1.0)


def denormalize_db(x: Tensor, min_db: float, max_db: float) -> Tensor:
    return min_db + x * (max_db - min_db)


def log_magnitude(audio: Tensor, cfg: SpectrogramConfig) -> Tensor:
    """Audio [B, T] -> normalised log-magnitude [B, n_bins, frames] in [0, 1]."""
    mag = stft(audio, cfg.n_fft, cfg.hop).abs() * magnitude_scale(cfg.n_fft)
    return normalize_db(power_to_db(mag.square()), cfg.min_db, cfg.max_db)


def logmag_to_magnitude(logmag: Tensor, cfg: SpectrogramConfig) -> Tensor:
    """Inverse of `log_magnitude`'s scaling: normalised [0, 1] -> unscaled |X| as `stft` returns it."""
    db = denormalize_db(logmag, cfg.min_db, cfg.max_db)
    return torch.pow(10.0, db / 20.0) / magnitude_scale(cfg.n_fft)


def dft_basis(n_fft: int, scale: float = 1.0) -> Tensor:
    """Conv1d weights [2 (n_fft // 2 + 1), 1, n_fft]: Hann-windowed cosines, then negated sines, times `scale`
    (a strided conv with them gives the real and imaginary parts of the windowed DFT of each frame)."""
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
    angle = 2.0 * math.pi * k[:, None] * n[None, :] / n_fft
    window = hann_window(n_fft).double() * scale
    return (torch.cat([torch.cos(angle), -torch.sin(angle)], dim=0) * window).float().unsqueeze(1)


class DftPower(nn.Module):
    """Scaled power |X|^2 [B, n_bins, frames] of audio [B, T] as one strided Conv1d (ONNX-exportable).

    Same frames and scaling as `stft` * magnitude_scale; the DFT basis (Hann-windowed cosines and sines) is a
    non-persistent buffer, so it is rebuilt on load and not stored in checkpoints.
    """

    basis: Tensor

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("basis", dft_basis(n_fft, magnitude_scale(n_fft)), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        half = self.n_fft // 2
        padded = F.pad(audio.unsqueeze(1), (half, half))
        spec = F.conv1d(padded, self.basis, stride=self.hop)
        real, imag = spec.chunk(2, dim=1)
        return real.square() + imag.square()


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> Tensor:
    """Triangular filters [n_mels, n_fft // 2 + 1] equally spaced on the HTK mel scale, peak 1."""
    top = sample_rate / 2.0 if fmax is None else fmax
    if not 0.0 <= fmin < top <= sample_rate / 2.0:
        raise LatentbridgeError(f"mel range must satisfy 0 <= fmin < fmax <= {sample_rate / 2}, "
                                f"got {fmin}, {top}")

    def to_mel(hz: Tensor) -> Tensor:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    limits = to_mel(torch.tensor([fmin, top], dtype=torch.float64))
    edges = 700.0 * (10.0 ** (torch.linspace(float(limits[0]), float(limits[1]), n_mels + 2,
                                             dtype=torch.float64) / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMel(nn.Module):
    """Audio [B, T] -> log-mel [B, n_mels, 1 + T // hop]: mel power in dB, mapped to [0, 1] by `cfg`."""

    mel: Tensor

    def __init__(self, cfg: SpectrogramConfig, n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.power = DftPower(cfg.n_fft, cfg.hop)
        self.register_buffer("mel", mel_filterbank(cfg.sample_rate, cfg.n_fft, n_mels), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        mel_power = torch.matmul(self.mel, self.power(audio))
        return normalize_db(power_to_db(mel_power), self.cfg.min_db, self.cfg.max_db)
