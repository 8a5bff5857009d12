"""Test helper: feed a signal to any `process(block) -> block` callable in blocks of changing sizes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def in_blocks(process: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    parts, at, i = [], 0, 0
    while at < audio.shape[0]:
        n = sizes[i % len(sizes)]
        parts.append(process(audio[at: at + n]))
        at, i = at + n, i + 1
    return np.concatenate(parts)
