"""Typed stage parameters: ranges, units, curves between a controller's normalised 0..1 and native units, and
per-sample smoothing (no zipper noise), shared by the processing chain, presets and OSC.

A `Parameter` is the static description (name, native range, default, unit, curve, smoothing time); a
`ParameterValue` holds one live value and ramps toward its target with a one-pole smoother of time constant
`smoothing_s` at the audio rate it is given. Out-of-range or non-finite requests are clamped (or refused with
a one-line error where the caller asks for strictness) and never raise in the audio path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from export.core.errors import LatentbridgeError

CURVES = ("linear", "log", "db")
TEMPO_UNITS = ("s", "ms", "Hz")  # units a preset's `tempo_sync` can follow


def tempo_value(unit: str, beats: float, bpm: float) -> float:
    """The value in `unit` that spans `beats` beats at `bpm`: the time of `beats` beats ("s", "ms"), or one
    cycle per `beats` beats ("Hz")."""
    if unit == "s":
        return beats * 60.0 / bpm
    if unit == "ms":
        return beats * 60000.0 / bpm
    if unit == "Hz":
        return bpm / 60.0 / beats
    raise LatentbridgeError(f"unit {unit or 'none'!r} cannot follow a tempo (only {', '.join(TEMPO_UNITS)})")


@dataclass(frozen=True)
class Parameter:
    """Native range [low, high], default, unit and the curve from normalised 0..1: "linear"; "log" (equal
    ratios per step, low > 0, e.g. Hz); "db" (linear in dB, for gains given in dB)."""

    name: str
    low: float
    high: float
    default: float
    unit: str = ""
    curve: str = "linear"
    smoothing_s: float = 0.02
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise LatentbridgeError(f"parameter name {self.name!r} must be non-empty and contain no '/'")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise LatentbridgeError(f"parameter {self.name}: needs finite low < high, got {self.low}, {self.high}")
        if self.curve not in CURVES:
            raise LatentbridgeError(f"parameter {self.name}: curve must be one of {', '.join(CURVES)}")
        if self.curve == "log" and self.low <= 0:
            raise LatentbridgeError(f"parameter {self.name}: a log curve needs low > 0")
        if not self.low <= self.default <= self.high:
            raise LatentbridgeError(f"parameter {self.name}: default {self.default} outside [{self.low}, {self.high}]")
        if self.smoothing_s < 0:
            raise LatentbridgeError(f"parameter {self.name}: smoothing_s must be >= 0")

    def clamp(self, value: float) -> float:
        """`value` limited to the range; NaN becomes the default."""
        if not math.isfinite(value):
            return self.default if math.isnan(value) else (self.high if value > 0 else self.low)
        return min(self.high, max(self.low, value))

    def from_normalised(self, x: float) -> float:
        """0..1 (clamped) -> native units along the curve."""
        x = 0.0 if not math.isfinite(x) else min(1.0, max(0.0, x))
        if self.curve == "log":
            return self.low * (self.high / self.low) ** x
        return self.low + x * (self.high - self.low)

    def to_normalised(self, value: float) -> float:
        """native units (clamped) -> 0..1 along the curve."""
        value = self.clamp(value)
        if self.curve == "log":
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def display(self, value: float) -> str:
        """A short text for a controller's display, e.g. '440 Hz' or '-6.0 dB'."""
        text = f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
        return f"{text} {self.unit}".strip()


class ParameterValue:
    """One live value of a Parameter: `set` a target (native units), `block(n, rate)` the smoothed values of
    the next n samples (float32 [n]); the last of them is `current`."""

    def __init__(self, spec: Parameter) -> None:
        self.spec = spec
        self.target = spec.default
        self.current = spec.default

    def set(self, value: float) -> float:
        """Set the target (clamped; NaN keeps the default); returns what was taken."""
        self.target = self.spec.clamp(float(value))
        return self.target

    def set_normalised(self, x: float) -> float:
        return self.set(self.spec.from_normalised(float(x)))

    def block(self, n: int, rate: float) -> np.ndarray:
        """The smoothed values of the next n samples at `rate` Hz (constant once the target is reached)."""
        if n <= 0:
            return np.zeros(0, np.float32)
        if self.spec.smoothing_s == 0 or self.current == self.target:
            self.current = self.target
            return np.full(n, self.target, np.float32)
        k = 1.0 - math.exp(-1.0 / (self.spec.smoothing_s * rate))  # one-pole coefficient per sample
        decay = (1.0 - k) ** np.arange(1, n + 1)
        values = self.target + (self.current - self.target) * decay
        self.current = float(values[-1])
        if abs(self.current - self.target) <= 1e-6 * max(1.0, abs(self.target)):
            self.current = self.target
        return values.astype(np.float32)
