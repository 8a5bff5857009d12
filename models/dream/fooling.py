"""The smallest change that flips a tag across 0.5: DeepFool steps on the clip's log-odds for the tag, then
a bisection along the found change for the shortest one that still flips; its size as an SNR in dB.

16 kHz mono float32 [T]. The decision is the tagger's own clip probability (mean over windows, `predict_clip`);
"flipped" means it lies past 0.5 by at least `margin` in log-odds, so the flip survives the trip to a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from export.core.errors import LatentbridgeError
from models.dream.ascent import Hearing, StepRecord
from models.dream.objectives import Objective, TaggerProbe


@dataclass(frozen=True)
class FoolConfig:
    """steps: most DeepFool steps; margin: log-odds past 0.5 that counts as flipped (0.1: p 0.525 or 0.475);
    aim: each linearised step aims at this many margins past 0.5 (the bisection takes the excess back);
    bisection: refinement steps (the change is found to 2^-bisection of its length)."""

    steps: int = 50
    margin: float = 0.1
    aim: float = 2.0
    bisection: int = 12

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise LatentbridgeError(f"--steps must be >= 1, got {self.steps}")
        if not self.margin > 0:
            raise LatentbridgeError(f"--margin must be > 0, got {self.margin}")
        if self.aim < 1 or self.bisection < 0:
            raise LatentbridgeError("FoolConfig needs aim >= 1 and bisection >= 0")


@dataclass
class FoolResult:
    """The flipping change [T] (zeros when not flipped), whether it flips, the direction pushed ("up" from
    below 0.5, "down" from above), the probability before and with the change, its SNR and the per-step records
    (DeepFool steps, then the bisected final change)."""

    change: np.ndarray
    flipped: bool
    direction: str
    before: float
    after: float
    snr_db: float
    records: list[StepRecord] = field(default_factory=list)


def snr_db(signal: np.ndarray, change: np.ndarray) -> float:
    """10 log10(energy of signal / energy of change); inf for no change, -inf for a silent signal."""
    noise = float(np.sum(np.square(change, dtype=np.float64)))
    power = float(np.sum(np.square(signal, dtype=np.float64)))
    if noise == 0.0:
        return float("inf")
    return float(10 * np.log10(power / noise)) if power > 0 else float("-inf")


def fool(probe: TaggerProbe, audio: np.ndarray, tag: int, cfg: FoolConfig,
         on_step: Callable[[StepRecord], None] | None = None, heard: Hearing | None = None) -> FoolResult:
    """Find a small change to `audio` that moves tag `tag` across 0.5 (see module docstring); `heard` as for
    `ascent.dream` (every decision is taken on what the output file will sound like to the tagger)."""
    x0 = np.asarray(audio, np.float32)
    hear = heard if heard is not None else (lambda c: x0 + c)
    objective = Objective("odds", tag=tag)
    first = probe.evaluate(hear(np.zeros_like(x0)), objective)
    sign = 1.0 if first.value < 0 else -1.0  # push the log-odds up from below 0, down from above
    goal = sign * cfg.margin * cfg.aim
    change = np.zeros_like(x0)
    ev = first
    records = [StepRecord(0, ev.value, ev.probabilities)]
    if on_step is not None:
        on_step(records[0])
    for step in range(1, cfg.steps + 1):
        if sign * ev.value >= cfg.margin:
            break
        assert ev.gradient is not None
        g = ev.gradient.astype(np.float64)
        g2 = float(np.dot(g, g))
        if g2 == 0.0:
            break  # flat: no direction to push
        change = (change + (goal - ev.value) / g2 * g).astype(np.float32)
        ev = probe.evaluate(hear(change), objective)
        records.append(StepRecord(step, ev.value, ev.probabilities))
        if on_step is not None:
            on_step(records[-1])
    flipped = sign * ev.value >= cfg.margin
    if flipped:
        low, high = 0.0, 1.0  # shortest fraction of the change that still flips (assumes one crossing)
        for _ in range(cfg.bisection):
            mid = 0.5 * (low + high)
            if sign * probe.evaluate(hear(mid * change), objective, gradient=False).value >= cfg.margin:
                high = mid
            else:
                low = mid
        change = (high * change).astype(np.float32)
        ev = probe.evaluate(hear(change), objective, gradient=False)
        records.append(StepRecord(len(records), ev.value, ev.probabilities))
        if on_step is not None:
            on_step(records[-1])
    else:
        change = np.zeros_like(x0)
    return FoolResult(change, flipped, "up" if sign > 0 else "down", float(first.probabilities[tag]),
                      float(ev.probabilities[tag]) if flipped else float(first.probabilities[tag]),
                      snr_db(x0, change), records)
