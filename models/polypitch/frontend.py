"""The tracker's front end: causal log-magnitude DFTs mapped to log-frequency bins and stacked by harmonic.

Audio is float32 at 16 kHz; frame i ends at sample (i + 1) * hop and each DFT window (Hann, n_fft samples)
ends there too, so a frame sees no audio after its end. With `fall` > 0, every window longer than 2 * fall
rises over its first n - fall samples and falls over its last `fall` (`asymmetric_hann`): the newest audio
weighs more, so a note's energy appears sooner than through a symmetric Hann window of the same length.
Log-frequency bin j of the stack is centred on MIDI `lowest_midi + (j - low_pad) / bins_per_semitone`; output
bin b of harmonic h reads bin b + low_pad + round(bins_per_semitone * 12 * log2(h)). Returns [B, len(n_ffts) *
len(harmonics), frames, n_bins] of log amplitudes (floor log(1e-4)): where DFT bins are wider than log bins (low
notes) a sine of amplitude A reads about log(A) (interpolated), where they are narrower its peak is averaged
over the log bin's triangle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from models.framed_dft import sliding_dft

FLOOR = 1e-4  # amplitude floor of the log (-80 dB re a full-scale sine)


def midi_hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def harmonic_shifts(harmonics: Sequence[float], bins_per_semitone: int) -> list[int]:
    """Bin offset of each harmonic above the fundamental (negative for sub-harmonics)."""
    return [round(bins_per_semitone * 12 * math.log2(h)) for h in harmonics]


def asymmetric_hann(n: int, fall: int) -> np.ndarray:
    """A window of n samples rising as sin^2 over n - fall samples and falling as cos^2 over `fall`; with
    fall = 0 or fall >= n / 2 it is the periodic Hann window."""
    if fall <= 0 or 2 * fall >= n:
        fall = n // 2
    rise = n - fall
    up = np.sin(0.5 * np.pi * np.arange(rise) / rise) ** 2
    down = np.cos(0.5 * np.pi * np.arange(fall) / fall) ** 2
    return np.concatenate([up, down])


def log_filter(n_fft: int, sample_rate: int, centres_hz: np.ndarray, bins_per_semitone: int,
               fmax: float) -> np.ndarray:
    """[n_fft // 2 + 1, len(centres)] triangular weights from DFT bins to log-frequency bins: each column is a
    triangle of half-width max(its log-bin spacing, the DFT bin spacing), normalised to sum 1 (linear
    interpolation where DFT bins are wider than log bins); columns above `fmax` are zero."""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    width = np.maximum(centres_hz * (2.0 ** (1.0 / (12 * bins_per_semitone)) - 1.0), sample_rate / n_fft)
    weights = np.maximum(0.0, 1.0 - np.abs(freqs[:, None] - centres_hz[None, :]) / width[None, :])
    weights[:, centres_hz > fmax] = 0.0
    total = weights.sum(axis=0, keepdims=True)
    return (weights / np.where(total > 0, total, 1.0)).astype(np.float32)


class HarmonicStack(nn.Module):
    """Audio with `context` samples of history before the first new frame -> stacked log spectra
    (see the module docstring). `context` = max(n_ffts) - hop."""

    def __init__(self, n_ffts: Sequence[int], hop: int, sample_rate: int, lowest_midi: float, n_bins: int,
                 bins_per_semitone: int, harmonics: Sequence[float], fmax: float, fall: int = 0) -> None:
        super().__init__()
        self.n_ffts, self.hop, self.n_bins = tuple(n_ffts), hop, n_bins
        self.context = max(self.n_ffts) - hop
        shifts = harmonic_shifts(harmonics, bins_per_semitone)
        self.low_pad = max(0, -min(shifts))
        self.offsets = [self.low_pad + s for s in shifts]
        total = self.low_pad + n_bins + max(0, max(shifts))
        centres = midi_hz(lowest_midi + (np.arange(total) - self.low_pad) / bins_per_semitone)
        for n in self.n_ffts:
            window = torch.from_numpy(asymmetric_hann(n, fall))
            self.register_buffer(f"window_{n}", window.float(), persistent=False)
            self.register_buffer(f"scale_{n}", torch.tensor(2.0 / float(window.sum())), persistent=False)
            matrix = log_filter(n, sample_rate, centres, bins_per_semitone, fmax)
            self.register_buffer(f"filter_{n}", torch.from_numpy(matrix), persistent=False)

    @property
    def channels(self) -> int:
        return len(self.n_ffts) * len(self.offsets)

    def forward(self, audio: Tensor) -> Tensor:
        """audio [B, context + k * hop] -> [B, channels, k, n_bins]."""
        parts = []
        for n in self.n_ffts:
            start = self.context + self.hop - n
            real, imag = sliding_dft(audio[:, start:], n, self.hop, getattr(self, f"window_{n}"))
            magnitude = torch.sqrt(real * real + imag * imag + 1e-12) * getattr(self, f"scale_{n}")
            logspec = torch.log(torch.matmul(magnitude, getattr(self, f"filter_{n}")) + FLOOR)  # [B, k, bins]
            parts += [logspec[:, :, o: o + self.n_bins] for o in self.offsets]
        return torch.stack(parts, dim=1)
