"""8-bit mu-law companding (mu = 255): float audio in [-1, 1] <-> int64 classes 0..255, numpy and torch.

Formula F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu); class = floor((F(x) + 1) / 2 * mu + 1/2) (round half
up), so x = -1 -> 0, x = +1 -> 255, and x = 0, exactly on the 127|128 edge, -> 128 (tiny negatives -> 127);
decode(c) = F^-1(2c/mu - 1), so decode(127) = -8.6e-5 and decode(128) = +8.6e-5 (no level at 0).
Both backends use the same float64 tables (255 class boundaries in the x domain, 256 float32 levels), so the
numpy and torch results are identical bit for bit; inputs outside [-1, 1] saturate to classes 0 and 255.
"""

from __future__ import annotations

import numpy as np
import torch

MU = 255
CLASSES = MU + 1
SILENCE_CLASS = 128  # encode(0.0); the "start" input of the decoder


def compand(x: np.ndarray) -> np.ndarray:
    """F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu) in float64 (the reference formula, not clipped)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)


def expand(y: np.ndarray) -> np.ndarray:
    """Inverse of `compand`: x = sign(y) ((1 + mu)^|y| - 1) / mu, in float64."""
    y = np.asarray(y, dtype=np.float64)
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU


# Class c covers companded values [2(c - 1/2)/mu - 1, 2(c + 1/2)/mu - 1); in the x domain its lower edge is
# BOUNDARIES[c - 1] (c = 1..255). A value exactly on an edge goes to the upper class (round half up).
BOUNDARIES: np.ndarray = expand(2.0 * (np.arange(1, CLASSES) - 0.5) / MU - 1.0)
LEVELS: np.ndarray = expand(2.0 * np.arange(CLASSES) / MU - 1.0).astype(np.float32)


def encode_np(x: np.ndarray) -> np.ndarray:
    """Float audio (any shape) -> int64 mu-law classes 0..255 of the same shape."""
    values = np.asarray(x, dtype=np.float64)
    return np.searchsorted(BOUNDARIES, values, side="right").astype(np.int64)


def decode_np(classes: np.ndarray) -> np.ndarray:
    """Int mu-law classes 0..255 (any shape) -> float32 audio of the same shape."""
    return LEVELS[np.asarray(classes, dtype=np.int64)]


def encode(x: torch.Tensor) -> torch.Tensor:
    """Torch version of `encode_np`: float tensor (any shape, any device) -> int64 classes."""
    edges = torch.from_numpy(BOUNDARIES).to(x.device)
    values = x.detach().to(torch.float64).contiguous()
    return torch.searchsorted(edges, values.reshape(-1), right=True).reshape(x.shape)


def decode(classes: torch.Tensor) -> torch.Tensor:
    """Torch version of `decode_np`: int classes (any shape) -> float32 audio on the same device."""
    return torch.from_numpy(LEVELS).to(classes.device)[classes.long()]
