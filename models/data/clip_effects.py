"""Pedalboard effect chains for music clips: seeded random choices, logged parameters, level-matched use.

Audio is float32 mono at 16 kHz. Each effect sees its input scaled to REFERENCE_RMS_DBFS (so a Distortion
drive or a Compressor threshold means the same on every stem) and its output is scaled back to its input's
RMS: effects change the timbre, not the balance of the mix. Parameters are rounded before use, so the log
is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.data.clip_compose import SAMPLE_RATE

if TYPE_CHECKING:
    from pedalboard import Plugin

REFERENCE_RMS_DBFS = -20.0
_SILENT_RMS = 1e-7
# Effect name -> tag it earns (the rest, Compressor and filters, shape the sound without a tag of their own)
EFFECT_TAGS = {"Reverb": "reverb", "Distortion": "distorted", "Chorus": "chorus", "Delay": "delay",
               "Phaser": "phaser"}


@dataclass(frozen=True)
class Effect:
    name: str  # a pedalboard plugin class
    params: tuple[tuple[str, float], ...]

    def plugin(self) -> Plugin:
        import pedalboard

        return getattr(pedalboard, self.name)(**dict(self.params))

    def to_dict(self) -> dict:
        return {"name": self.name, **dict(self.params)}


def _effect(name: str, **params: float) -> Effect:
    return Effect(name, tuple((k, round(float(v), 3)) for k, v in params.items()))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _delay(rng: np.random.Generator, bpm: int) -> Effect:
    """A tempo-synced echo: an eighth, a dotted eighth or a quarter note."""
    beats = float(rng.choice([0.5, 0.75, 1.0]))
    return _effect("Delay", delay_seconds=60.0 / bpm * beats, feedback=_u(rng, 0.2, 0.5),
                   mix=_u(rng, 0.25, 0.45))


def choose_part_effects(rng: np.random.Generator, bpm: int) -> tuple[Effect, ...]:
    """Insert effects of one melodic part, in processing order: Chorus or Phaser, then Delay."""
    chain = []
    modulation = rng.random()
    if modulation < 0.18:
        chain.append(_effect("Chorus", rate_hz=_u(rng, 0.5, 3.0), depth=_u(rng, 0.3, 0.8),
                             centre_delay_ms=_u(rng, 5.0, 12.0), feedback=_u(rng, 0.0, 0.3),
                             mix=_u(rng, 0.4, 0.7)))
    elif modulation < 0.30:
        chain.append(_effect("Phaser", rate_hz=_u(rng, 0.2, 2.0), depth=_u(rng, 0.5, 1.0),
                             centre_frequency_hz=_u(rng, 500.0, 2000.0), feedback=_u(rng, 0.2, 0.7),
                             mix=_u(rng, 0.5, 0.8)))
    if rng.random() < 0.12:
        chain.append(_delay(rng, bpm))
    return tuple(chain)


def choose_mix_effects(rng: np.random.Generator, bpm: int) -> tuple[Effect, ...]:
    """Mix-bus effects, in processing order: a filter, Compressor, Delay, Reverb, Distortion.

    Distortion drives the whole mix, last, so it is heard on everything (a distorted part under a reverberant
    mix was often not measurable in the final audio)."""
    chain = []
    tone = rng.random()
    if tone < 0.15:
        chain.append(_effect("LowpassFilter", cutoff_frequency_hz=_u(rng, 1000.0, 3500.0)))
    elif tone < 0.25:
        chain.append(_effect("HighpassFilter", cutoff_frequency_hz=_u(rng, 150.0, 500.0)))
    if rng.random() < 0.35:
        chain.append(_effect("Compressor", threshold_db=_u(rng, -30.0, -15.0), ratio=_u(rng, 2.0, 8.0),
                             attack_ms=_u(rng, 1.0, 20.0), release_ms=_u(rng, 50.0, 250.0)))
    if rng.random() < 0.08:
        chain.append(_delay(rng, bpm))
    if rng.random() < 0.45:
        chain.append(_effect("Reverb", room_size=_u(rng, 0.5, 0.95), damping=_u(rng, 0.2, 0.7),
                             wet_level=_u(rng, 0.25, 0.5), dry_level=_u(rng, 0.5, 0.8), width=1.0))
    if rng.random() < 0.15:
        chain.append(_effect("Distortion", drive_db=_u(rng, 20.0, 36.0)))
    return tuple(chain)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def apply_chain(audio: np.ndarray, chain: Sequence[Effect]) -> np.ndarray:
    """Run each effect of `chain` on 1-D audio at the reference level, its output scaled back to the RMS of
    its input; same length as the input."""
    out = audio
    for effect in chain:
        level = rms(out)
        if level < _SILENT_RMS:
            break
        gain = 10 ** (REFERENCE_RMS_DBFS / 20) / level
        processed = effect.plugin()((out * gain).astype(np.float32)[None, :], SAMPLE_RATE)[0]
        out_level = rms(processed)
        out = (processed * (level / out_level) if out_level > _SILENT_RMS else processed).astype(np.float32)
    return out
