"""Multi-resolution log-magnitude STFT distance between two signals (a judge, not a training loss).

16 kHz mono numpy [T]. For each FFT size (256, 512, 1024, 2048; Hann, hop n_fft / 4) the mean absolute
difference of log(|X| + 1e-5) over bins and the frames centred in [start_s, end_s]; the mean over sizes.
0 for identical signals; larger for more different spectra (white noise against a note is several units).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.autoencoder.losses import magnitudes

FFT_SIZES = (256, 512, 1024, 2048)
EPS = 1e-5


def mrstft_distance(a: np.ndarray, b: np.ndarray, start_s: float = 0.0, end_s: float | None = None,
                    fft_sizes: Sequence[int] = FFT_SIZES) -> float:
    """See the module docstring; `a` and `b` are cut to the shorter of the two."""
    n = min(a.shape[-1], b.shape[-1])
    if n < max(fft_sizes):
        raise LatentbridgeError(f"mrstft_distance needs at least {max(fft_sizes)} samples, got {n}")
    x = torch.from_numpy(np.stack([a[:n], b[:n]]).astype(np.float32))
    total = 0.0
    for n_fft in fft_sizes:
        mag = magnitudes(x, n_fft)
        times = np.arange(mag.shape[-1]) * (n_fft // 4) / MODEL_RATE
        keep = (times >= start_s) & (times <= (np.inf if end_s is None else end_s))
        logs = torch.log(mag[..., torch.from_numpy(keep)] + EPS)
        total += float((logs[0] - logs[1]).abs().mean())
    return total / len(fft_sizes)
