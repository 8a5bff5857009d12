"""Gram matrices and the losses built on them, shared by every style method.

Features are [C, T] (channels by frames); a Gram matrix is F F^T / T ([C, C]), so clips of different
lengths compare. Losses are means over entries, as in Gatys et al. and the seed papers.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gram(features: Tensor) -> Tensor:
    """[C, T] -> [C, C], normalised by the frame count."""
    return features @ features.transpose(0, 1) / max(1, features.shape[-1])


def mean_square(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).square().mean()


def gram_distance(features: Tensor, style_gram: Tensor) -> float:
    """Relative Frobenius distance ||G(features) - G_style|| / ||G_style|| (0 = the style's statistics)."""
    with torch.no_grad():
        return float((gram(features) - style_gram).norm() / style_gram.norm().clamp_min(1e-12))
