"""Long inputs in overlapping windows: each window is transferred on its own, then crossfaded.

Audio 1-D float32 at 16 kHz. Windows of `window` samples start every `window - overlap` (the last one ends at
the input's end); the outputs are joined with linear crossfades over the overlaps, normalised to unit gain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from export.core.errors import LatentbridgeError
from models.style.optimise import Transfer


def window_starts(n: int, window: int, overlap: int) -> list[int]:
    if not 0 <= overlap < window:
        raise LatentbridgeError(f"the window overlap must be in [0, window), got {overlap} of {window} samples")
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, window - overlap))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def fade_envelope(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    env = np.ones(length, np.float64)
    if fade_in:
        env[:fade_in] = (np.arange(fade_in) + 0.5) / fade_in
    if fade_out:
        env[length - fade_out:] = np.minimum(env[length - fade_out:], (np.arange(fade_out)[::-1] + 0.5) / fade_out)
    return env


def transfer_windows(content: np.ndarray, window: int, overlap: int,
                     transfer: Callable[[np.ndarray], Transfer]) -> tuple[np.ndarray, list[Transfer]]:
    """The crossfaded result (the content's length) and each window's Transfer."""
    starts = window_starts(content.size, window, overlap)
    out = np.zeros(content.size, np.float64)
    weight = np.zeros(content.size, np.float64)
    results = []
    for i, start in enumerate(starts):
        end = min(content.size, start + window)
        result = transfer(np.ascontiguousarray(content[start:end]))
        results.append(result)
        fade_in = min(overlap, starts[i - 1] + window - start) if i else 0
        fade_out = min(overlap, end - starts[i + 1]) if i + 1 < len(starts) else 0
        env = fade_envelope(end - start, max(0, fade_in), max(0, fade_out))
        out[start:end] += env * result.audio
        weight[start:end] += env
    return (out / np.maximum(weight, 1e-12)).astype(np.float32), results
