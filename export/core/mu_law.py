"""8-bit mu-law (mu = 255) in numpy, shared by training (models/wavenet/mu_law.py adds torch) and the runtime.

F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu); class = floor((F(x) + 1) / 2 * mu + 1/2) (round half up), computed as
the number of class edges at or below x (BOUNDARIES, float64, in the signal domain), so every backend that
searches the same table gets the same classes; decode(c) = LEVELS[c] = F^-1(2c/mu - 1) as float32.
"""

from __future__ import annotations

import numpy as np

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


def compand_f32(x: np.ndarray) -> np.ndarray:
    """F(clip(x, -1, 1)) in float32 arithmetic, as the LPC decoder's continuous features are computed."""
    x = np.clip(np.asarray(x, np.float32), -1.0, 1.0)
    return (np.sign(x) * np.log1p(np.float32(MU) * np.abs(x)) / np.float32(np.log1p(MU))).astype(np.float32)
