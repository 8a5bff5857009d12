"""The `style` stage: style transfer toward a style file, offline (optimisation on overlapping windows) for now.

Audio float32 mono [n] at the chain's rate. Offline mode cuts the input into windows of `window_s` seconds
every `window_s - overlap_s`, styles each (mono 16 kHz inside; the styler is built by the models side, see
`STYLER_PROVIDER`) and joins them with power-preserving crossfades (linear shapes normalised by the measured
correlation of the two overlapping segments: equal power for unrelated ones, equal gain for identical ones); a
sample is final once the window after it is complete, so `delay_samples` is one window. `amount` crossfades
the delayed input and the styled signal (smoothed, no click). Live mode (a feed-forward network, `model:
PATH` or a bundled style's name) is `plugin_host.style_live.LiveStyleStage`.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.core.audio_io import MODEL_RATE, fit_length, mono_at, read_audio, resample
from export.core.errors import LatentbridgeError
from plugin_host.parameters import Parameter
from plugin_host.stage import DelayLine, Stage
from plugin_host.style_live import LiveStyleStage

METHODS = ("nsynth", "stft-gram", "random-cnn")
MODES = ("offline", "live")
# The module that builds offline stylers (torch). Named, not imported, so the chain never loads torch or `models`
# at import time; it is imported when the first window is styled (as `export.app.cli` names its commands).
STYLER_PROVIDER = "models.style.stage_styler"
AMOUNT = Parameter("amount", 0.0, 1.0, 1.0, smoothing_s=0.05, description="unstyled (0) to styled (1)")
STYLE_WEIGHT = Parameter("style_weight", 0.01, 100.0, 1.0, curve="log", smoothing_s=0.0,
                         description="style loss weight, read when each window is styled")
Styler = Callable[[np.ndarray, float], np.ndarray]  # (window [n] mono 16 kHz, style weight) -> styled [n]
StylerFactory = Callable[["StyleSpec", np.ndarray], Styler]  # (spec, style audio mono 16 kHz) -> styler


@dataclass(frozen=True)
class StyleSpec:
    """What a preset's style stage asks for (the settings recorded in the render sidecar)."""

    style: str
    method: str = "nsynth"
    mode: str = "offline"
    model: str | None = None
    iterations: int | None = None  # None: the method's default
    window_s: float = 3.0
    overlap_s: float = 0.5
    seed: int = 0


def live_refusal(name: str) -> str:
    return (f"style stage {name!r} is offline (an optimisation per window): use it in `render`; live needs "
            f"`mode: live` with `model: PATH`, a feed-forward model from `latentbridge style train`")


def check_spec(name: str, spec: StyleSpec) -> None:
    """One-line errors for settings no window could run with (before any audio is read)."""
    if spec.mode not in MODES:
        raise LatentbridgeError(f"style stage {name!r}: mode must be offline or live, got {spec.mode!r}")
    if spec.mode == "live":
        where = f"style stage {name!r}: mode live"
        if not spec.model:
            raise LatentbridgeError(f"{where} needs `model: PATH` (a model from `latentbridge style train`)")
        return
    if spec.method not in METHODS:
        raise LatentbridgeError(f"style stage {name!r}: method must be one of {', '.join(METHODS)}, "
                                f"got {spec.method!r}")
    if not (math.isfinite(spec.window_s) and 0.5 <= spec.window_s <= 10.0):
        raise LatentbridgeError(f"style stage {name!r}: window_s must be in [0.5, 10], got {spec.window_s}")
    if not (math.isfinite(spec.overlap_s) and 0.01 <= spec.overlap_s <= spec.window_s / 2):
        raise LatentbridgeError(f"style stage {name!r}: overlap_s must be in [0.01, window_s / 2], "
                                f"got {spec.overlap_s}")
    if spec.iterations is not None and spec.iterations < 1:
        raise LatentbridgeError(f"style stage {name!r}: iterations must be >= 1, got {spec.iterations}")


def read_style(path: str) -> tuple[np.ndarray, str]:
    """The style file as mono 16 kHz float32 and its sha256; one-line errors if missing, empty or silent."""
    p = Path(path)
    if not p.is_file():
        raise LatentbridgeError(f"{path}: no such style file")
    audio, rate = read_audio(p)
    mono = mono_at(audio, rate)
    if mono.size < MODEL_RATE // 10:
        raise LatentbridgeError(f"{path}: the style is empty or shorter than 0.1 s")
    if not np.all(np.isfinite(mono)):
        raise LatentbridgeError(f"{path}: the style has NaN or Inf samples")
    if float(np.max(np.abs(mono))) < 1e-4:
        raise LatentbridgeError(f"{path}: the style is silent (peak below -80 dBFS)")
    return mono.astype(np.float32), hashlib.sha256(p.read_bytes()).hexdigest()


def default_factory(spec: StyleSpec, style: np.ndarray) -> Styler:
    """The models side's styler for `spec` (torch); a one-line error where it is not installed."""
    try:
        provider = importlib.import_module(STYLER_PROVIDER)
    except ImportError as exc:
        raise LatentbridgeError(f"an offline style stage needs the training extras (torch): {exc}") from exc
    styler: Styler = provider.build_styler(spec, style)
    return styler


def crossfade(outgoing: np.ndarray, incoming: np.ndarray) -> np.ndarray:
    """Join two equally long overlapping segments keeping the power: linear fades a, b divided by
    sqrt(a^2 + b^2 + 2 rho a b), rho their correlation clipped to [0, 1]."""
    n = outgoing.shape[0]
    b = (np.arange(n) + 0.5) / n
    a = 1.0 - b
    energy = math.sqrt(float(np.dot(outgoing, outgoing)) * float(np.dot(incoming, incoming)))
    rho = min(1.0, max(0.0, float(np.dot(outgoing, incoming)) / energy)) if energy > 0 else 1.0
    return (a * outgoing + b * incoming) / np.sqrt(a * a + b * b + 2.0 * rho * a * b)


class StyleStage(Stage):
    """See the module docstring; `factory` builds the styler at the first window (tests pass their own)."""

    kind = "style"

    def __init__(self, name: str, rate: int, spec: StyleSpec, factory: StylerFactory | None = None) -> None:
        check_spec(name, spec)
        self.spec = spec
        self.window = int(round(spec.window_s * rate))
        self.overlap = int(round(spec.overlap_s * rate))
        super().__init__(name, rate, [AMOUNT, STYLE_WEIGHT], delay_samples=self.window)
        self.style_path = spec.style
        self.style_audio, self.style_sha256 = read_style(spec.style)
        self._factory = factory or default_factory
        self._styler: Styler | None = None
        self._input = np.zeros(0, np.float32)  # received, from the next window's start on
        self._tail = np.zeros(self.overlap, np.float64)  # the last window's overlap, to crossfade with the next
        self._ready = np.zeros(self.window, np.float32)  # styled output not yet emitted (the delay's zeros first)
        self._windows = 0
        self._mix_dry = DelayLine(self.window)

    def _style_window(self, x: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            raise LatentbridgeError(f"style stage {self.name!r}: the input has NaN or Inf samples "
                                    f"(window {self._windows})")
        if self._styler is None:
            self._styler = self._factory(self.spec, self.style_audio)
        at_model = resample(x, self.rate, MODEL_RATE) if self.rate != MODEL_RATE else x
        styled = self._styler(np.ascontiguousarray(at_model, np.float32), self.params["style_weight"].target)
        back = resample(styled, MODEL_RATE, self.rate) if self.rate != MODEL_RATE else styled
        return fit_length(np.asarray(back, np.float64), x.shape[0])

    def _next_window(self) -> None:
        """Style the window at the head of the input; its first `window - overlap` samples become final."""
        hop = self.window - self.overlap
        y = self._style_window(self._input[: self.window])
        if self._windows:
            y[: self.overlap] = crossfade(self._tail, y[: self.overlap])
        self._tail = y[hop:]
        self._ready = np.concatenate([self._ready, y[:hop].astype(np.float32)])
        self._input = self._input[hop:]
        self._windows += 1

    def render(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[0]
        self._input = np.concatenate([self._input, block.astype(np.float32)])
        while self._input.shape[0] >= self.window:
            self._next_window()
        wet, self._ready = self._ready[:n], self._ready[n:]
        dry = self._mix_dry.process(block)
        amount = self.params["amount"].block(n, self.rate)
        return (dry + amount * (wet - dry)).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": self.spec.mode, "method": self.spec.method, "style": self.style_path,
                "style_sha256": self.style_sha256, "window_s": self.spec.window_s, "overlap_s": self.spec.overlap_s,
                "iterations": self.spec.iterations, "seed": self.spec.seed}


def build_style_stage(spec: dict[str, Any], rate: int, offline: bool) -> Stage:
    """A preset's style stage (live mode: `plugin_host.style_live`, the same in `render` and `live`); refuses
    an offline-mode stage outside `render` with one line."""
    style_spec = StyleSpec(style=spec.get("style", ""), method=spec.get("method", "nsynth"),
                           mode=spec.get("mode", "offline"), model=spec.get("model"),
                           iterations=spec.get("iterations"), window_s=float(spec.get("window_s", 3.0)),
                           overlap_s=float(spec.get("overlap_s", 0.5)), seed=int(spec.get("seed", 0)))
    check_spec(spec["name"], style_spec)
    if style_spec.mode == "live":
        assert style_spec.model is not None  # check_spec refuses a live stage without one
        return LiveStyleStage(spec["name"], rate, style_spec.model)
    if not offline:
        raise LatentbridgeError(live_refusal(spec["name"]))
    return StyleStage(spec["name"], rate, style_spec)
