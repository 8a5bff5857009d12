"""Log-mel spectrograms for the plots every command draws (numpy only, so the runtime and `models/` share them).

Audio is float32/64 mono at 16 kHz; a 1024-point Hann STFT, hop 256 (16 ms), 80 HTK-mel bands over 0-8 kHz,
in dBFS (a full-scale sine reads about 0 dB in its band); arrays are (bands, frames).
"""

from __future__ import annotations

import numpy as np

from export.core.audio_io import MODEL_RATE

N_FFT, HOP, N_MELS = 1024, 256, 80
DB_RANGE = (-110.0, -10.0)
TICKS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000)


def to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def band_position(hz: float, n_mels: int = N_MELS, rate: int = MODEL_RATE) -> float:
    """Where a frequency sits on the plotted mel axis (band i spans [i, i + 1), centred on its peak)."""
    return float(to_mel(hz) / to_mel(rate / 2) * (n_mels + 1) - 0.5)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = MODEL_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, equally spaced on the HTK mel scale from 0 to rate / 2."""
    edges_hz = 700.0 * (10 ** (np.linspace(0.0, to_mel(np.array(rate / 2)), n_mels + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    return np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(n_mels, frames) log-mel power in dBFS (a full-scale sine reads about 0 dB in its band)."""
    padded = np.pad(audio.astype(np.float64), (N_FFT // 2, N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 / (np.sum(np.hanning(N_FFT)) / 2) ** 2
    return 10.0 * np.log10(np.maximum(mel_filterbank() @ power.T, 1e-12))
