"""A feed-forward style network with random (non-identity) weights exported to ONNX, shared by the style tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def random_style_model(out: Path, seed: int = 0, legacy: bool = False) -> tuple[object, Path]:
    """(the torch SpectralGainNet, its exported NAME.style_gains.onnx) with gains that vary in time and band;
    `legacy`: a config without synthesis fields (synthesis on the 512/128 analysis frames, as the first styles)."""
    import torch

    from models.style.feedforward import FeedForwardConfig, SpectralGainNet
    from models.style.ff_export import export_style

    torch.manual_seed(seed)
    cfg = FeedForwardConfig.from_dict({k: v for k, v in FeedForwardConfig().to_dict().items()
                                       if not (legacy and k.startswith("synth_"))})
    model = SpectralGainNet(cfg)
    with torch.no_grad():
        model.out.weight.normal_(0.0, 0.3)
        model.out.bias.normal_(0.0, 0.3)
    return model.eval(), export_style(model, out, "random", {"name": "random", "style_files": []})


def music(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Two decaying harmonic notes plus a little noise, float32."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    out = 0.01 * rng.standard_normal(t.size)
    for start, f0 in ((0.0, 196.0), (seconds / 2, 330.0)):
        on = t >= start
        out += np.where(on, 0.3 * sum(np.sin(2 * np.pi * k * f0 * (t - start)) / k for k in range(1, 6))
                        * np.exp(-np.maximum(t - start, 0) / 0.4), 0.0)
    return out.astype(np.float32)
