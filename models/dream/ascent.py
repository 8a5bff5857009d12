"""Gradient ascent on an `Objective` in DreamSound's four flavours; every step is recorded (objective, tag
probabilities before and after, bins kept by the hard cut).

16 kHz mono float32 [T]. Each step's change has an RMS of `step_size` times the input's (the direction is
normalised): deepdream adds the plain gradient, filter the gradient kept in its strongest STFT bins,
filter-add the input's own content in those bins, target the filtered gradient of a target objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from export.core.errors import LatentbridgeError
from models.dream.filtering import filtered_gradient, gated_input
from models.dream.objectives import Evaluation, Objective, TaggerProbe

MODES = ("deepdream", "filter", "filter-add", "target")
RMS_FLOOR = 1e-3  # steps on near-silent input are sized as if it were at -60 dBFS RMS
Hearing = Callable[[np.ndarray], np.ndarray]  # a change [T] -> what the tagger hears of the output [T]


@dataclass(frozen=True)
class DreamConfig:
    """mode: one of MODES; steps: ascent steps; step_size: RMS of each step's change relative to the input's
    RMS; threshold: hard cut on the max-normalised STFT magnitude of the gradient (filter, filter-add, target)."""

    mode: str = "filter"
    steps: int = 50
    step_size: float = 0.02
    threshold: float = 0.2

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise LatentbridgeError(f"unknown dream mode {self.mode!r} (modes: {', '.join(MODES)})")
        if self.steps < 1:
            raise LatentbridgeError(f"--steps must be >= 1, got {self.steps}")
        if not 0.0 < self.step_size <= 1.0:
            raise LatentbridgeError(f"--step must be in (0, 1], got {self.step_size}")
        if not 0.0 <= self.threshold < 1.0:
            raise LatentbridgeError(f"--threshold must be in [0, 1), got {self.threshold}")


@dataclass(frozen=True)
class StepRecord:
    """The state after `step` steps (0: the input): objective value, tag probabilities [n_tags], target
    distance (target objectives) and the fraction of STFT bins the step that led here kept."""

    step: int
    value: float
    probabilities: np.ndarray
    distance: float | None = None
    kept: float | None = None


@dataclass
class DreamResult:
    """The input [T], the change the dream found [T], what the tagger hears with it [T] and one record per
    step, the input's first."""

    start: np.ndarray
    change: np.ndarray
    audio: np.ndarray
    records: list[StepRecord] = field(default_factory=list)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def direction(mode: str, audio: np.ndarray, gradient: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The mode's update direction (not normalised) and the fraction of STFT bins it keeps."""
    if mode == "deepdream":
        return gradient, 1.0
    if mode == "filter-add":
        return gated_input(audio, gradient, threshold)
    return filtered_gradient(gradient, threshold)


def dream(probe: TaggerProbe, audio: np.ndarray, objective: Objective, cfg: DreamConfig,
          on_step: Callable[[StepRecord], None] | None = None, heard: Hearing | None = None) -> DreamResult:
    """Climb `objective` from `audio` for `cfg.steps` steps; `on_step` sees each record as it is made.

    `heard(change)` is what the tagger will hear of the output made with `change` (default: audio + change);
    every step is judged on it, so the records are those of the file that will be written.
    """
    if (cfg.mode == "target") != (objective.kind == "target"):
        raise LatentbridgeError("mode target needs a target objective, and a target objective needs mode target")
    start = np.asarray(audio, np.float32)
    hear = heard if heard is not None else (lambda c: start + c)
    size = cfg.step_size * max(rms(start), RMS_FLOOR)
    change = np.zeros_like(start)
    records: list[StepRecord] = []
    kept: float | None = None
    for step in range(cfg.steps + 1):
        x = hear(change)
        ev: Evaluation = probe.evaluate(x, objective, gradient=step < cfg.steps)
        records.append(StepRecord(step, ev.value, ev.probabilities, ev.distance, kept))
        if on_step is not None:
            on_step(records[-1])
        if ev.gradient is None:
            break
        d, kept = direction(cfg.mode, x, ev.gradient, cfg.threshold)
        norm = rms(d)
        if norm > 0.0:
            change = (change + (size / norm) * d).astype(np.float32)
    return DreamResult(start, change, x, records)
