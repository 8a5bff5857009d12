"""Learnable time-domain filterbank front end for the raw-audio tagger (after Zeghidour et al. 2018).

audio [B, 1, T] (16 kHz) -> log band energies [B, bands, frames]: a strided 1-D convolution with 2 x bands
filters, initialised as cosine/sine pairs under a Hann window at mel-spaced centre frequencies, so that the
sum of each pair's squares is a phase-free band energy (a learnable mel spectrogram); average pooling over
`energy_pool` conv outputs; log. Frame hop = filter_stride * energy_pool samples. Everything is learnt end
to end from the waveform; the initialisation only gives training a sensible start on a small compute budget.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

LOG_FLOOR = 1e-6  # energy floor before the log (digital silence -> log(1e-6), not -inf)


def mel_centres(bands: int, sample_rate: int, low_hz: float = 40.0, high_fraction: float = 0.47) -> np.ndarray:
    """`bands` centre frequencies in Hz, evenly spaced on the mel scale from low_hz to high_fraction * rate."""
    def to_mel(hz: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    mels = np.linspace(to_mel(low_hz), to_mel(high_fraction * sample_rate), bands)
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def gabor_pairs(bands: int, length: int, sample_rate: int) -> np.ndarray:
    """Conv weights [2 * bands, 1, length]: rows 2k and 2k+1 are the cosine and sine of band k under a Hann
    window, scaled to unit L2 norm."""
    t = (np.arange(length) - (length - 1) / 2) / sample_rate
    window = np.hanning(length)
    weights = np.empty((2 * bands, 1, length))
    for k, centre in enumerate(mel_centres(bands, sample_rate)):
        for j, wave in enumerate((np.cos, np.sin)):
            row = window * wave(2 * np.pi * centre * t)
            weights[2 * k + j, 0] = row / max(np.linalg.norm(row), 1e-12)
    return weights.astype(np.float32)


class LogFilterbank(nn.Module):
    """Learnable Gabor-initialised filterbank -> pair energies -> average pool -> log (see module docstring)."""

    def __init__(self, bands: int, length: int, stride: int, energy_pool: int, sample_rate: int) -> None:
        super().__init__()
        self.filters = nn.Conv1d(1, 2 * bands, length, stride=stride, bias=False)
        with torch.no_grad():
            self.filters.weight.copy_(torch.from_numpy(gabor_pairs(bands, length, sample_rate)))
        self.pool = nn.AvgPool1d(energy_pool)

    def forward(self, audio: Tensor) -> Tensor:
        y = self.filters(audio)
        energy = y[:, 0::2] ** 2 + y[:, 1::2] ** 2
        return torch.log(self.pool(energy) + LOG_FLOOR)
