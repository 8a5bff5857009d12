"""8-bit mu-law companding (mu = 255): float audio in [-1, 1] <-> int64 classes 0..255, numpy and torch.

The formula, the class edges and the levels live in export/core/mu_law.py (numpy, shared with the runtime);
x = 0, exactly on the 127|128 edge, -> 128 (tiny negatives -> 127); decode(127) = -8.6e-5 and decode(128) =
+8.6e-5 (no level at 0). The torch functions search the same float64 tables, so numpy and torch results are
identical bit for bit; inputs outside [-1, 1] saturate to classes 0 and 255.
"""

from __future__ import annotations

import torch

from export.core.mu_law import (  # noqa: F401  (re-exported: the training code's one mu-law module)
    BOUNDARIES,
    CLASSES,
    LEVELS,
    MU,
    SILENCE_CLASS,
    compand,
    decode_np,
    encode_np,
    expand,
)


def encode(x: torch.Tensor) -> torch.Tensor:
    """Torch version of `encode_np`: float tensor (any shape, any device) -> int64 classes."""
    edges = torch.from_numpy(BOUNDARIES).to(x.device)
    values = x.detach().to(torch.float64).contiguous()
    return torch.searchsorted(edges, values.reshape(-1), right=True).reshape(x.shape)


def decode(classes: torch.Tensor) -> torch.Tensor:
    """Torch version of `decode_np`: int classes (any shape) -> float32 audio on the same device."""
    return torch.from_numpy(LEVELS).to(classes.device)[classes.long()]
