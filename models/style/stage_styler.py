"""The offline styler behind `plugin_host.style_stage` (named there as its provider, imported only when a render
styles its first window): one style method built once per stage spec, applied to one window at a time.

Windows are mono float32 at 16 kHz; the styled window has the same length. The style weight is read per window.
The stage's spec arrives duck-typed (method, iterations, seed), so `models` does not import the chain.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Protocol

import numpy as np
import torch

from export.core.errors import LatentbridgeError
from models.style.nsynth_transfer import NSynthStyle
from models.style.spectral_transfer import SpectralStyle
from models.style.transfer import StyleSettings, build_method


class StageSpec(Protocol, Hashable):
    """What the style stage's spec (`plugin_host.style_stage.StyleSpec`, frozen) provides."""

    @property
    def method(self) -> str: ...
    @property
    def iterations(self) -> int | None: ...
    @property
    def seed(self) -> int: ...


class WindowStyler:
    """One method's style statistics, reused for every window of a render."""

    def __init__(self, method: NSynthStyle | SpectralStyle) -> None:
        self.method = method

    def __call__(self, window: np.ndarray, style_weight: float) -> np.ndarray:
        if self.method.cfg.style_weight != style_weight:
            self.method.cfg = replace(self.method.cfg, style_weight=style_weight)
        audio = self.method.transfer(np.ascontiguousarray(window, np.float32)).audio
        if not np.all(np.isfinite(audio)):
            raise LatentbridgeError("the style optimisation diverged (NaN or Inf in a window)")
        return audio


@functools.lru_cache(maxsize=4)
def _cached(spec: StageSpec, style_bytes: bytes) -> WindowStyler:
    style = np.frombuffer(style_bytes, np.float32).copy()
    settings = StyleSettings(method=spec.method, iterations=spec.iterations, seed=spec.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return WindowStyler(build_method(settings, style, device))


def build_styler(spec: StageSpec, style: np.ndarray) -> Callable[[np.ndarray, float], np.ndarray]:
    """The styler for a stage spec and its style audio (mono 16 kHz); built once per spec and style, so every
    channel of a render shares the model and the style's statistics."""
    return _cached(spec, np.ascontiguousarray(style, np.float32).tobytes())
