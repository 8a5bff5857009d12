"""Timbre morphing of a recording through the exported autoencoder (ONNX Runtime only, no torch).

Each channel of IN (any rate, any channel count) is resampled to 16 kHz, its pitch and loudness controls
and its latent trajectory z are computed, z is moved toward a target latent by `amount`
(z' = (1 - amount) z + amount z_target: 0 is plain resynthesis, 1 the target's timbre with IN's pitch and
dynamics), decoded by the harmonic-plus-noise decoder, and resampled back: OUT has IN's rate, channel count
and length. Identical channels are processed once.

Targets: a bank family ("flute", nearest bank pitch to the channel's median f0), a family at a MIDI pitch
("flute:72"), or an audio file (its mean latent over its sounding frames).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.audio_io import MODEL_RATE, read_mono, resample
from export.autoencoder_runtime import OnnxAutoencoder
from export.errors import LatentbridgeError
from export.latent_bank import LatentBank, note_latent
from export.pitch_units import hz_to_midi

VOICED = 0.5  # periodicity above which a frame counts toward the median pitch


@dataclass(frozen=True)
class Target:
    """What to morph toward: a bank family (optionally at a fixed MIDI pitch) or a latent from a file."""

    family: str | None = None
    midi: float | None = None
    latent: np.ndarray | None = None


def parse_target(text: str, ae: OnnxAutoencoder, bank: LatentBank | None) -> Target:
    """FAMILY, FAMILY:MIDI or an audio file path -> Target (one-line errors for anything else)."""
    path = Path(text)
    if path.suffix.lower() in (".wav", ".flac", ".aiff", ".aif", ".mp3", ".ogg") or path.is_file():
        latent = note_latent(ae, read_mono(path), seconds=float("inf"), range_db=30.0)
        if latent is None:
            raise LatentbridgeError(f"{path}: the target is silent")
        return Target(latent=latent)
    family, _, pitch = text.partition(":")
    if bank is None:
        raise LatentbridgeError("a family target needs a latent bank")
    if family not in bank.families:
        raise LatentbridgeError(f"unknown target {text!r}: not an audio file nor a bank family "
                                f"({', '.join(bank.families)})")
    if not pitch:
        return Target(family=family)
    try:
        midi = float(pitch)
    except ValueError as exc:
        raise LatentbridgeError(f"target {text!r}: {pitch!r} is not a MIDI pitch") from exc
    if not 0 <= midi <= 127:
        raise LatentbridgeError(f"target {text!r}: MIDI pitch must be in [0, 127]")
    return Target(family=family, midi=midi)


def median_midi(f0: np.ndarray, periodicity: np.ndarray) -> float | None:
    """Median MIDI pitch of the voiced frames (None when none is voiced)."""
    voiced = f0[(periodicity > VOICED) & (f0 > 0)]
    if voiced.size == 0:
        return None
    return float(hz_to_midi(np.median(voiced)))


def morph_mono(ae: OnnxAutoencoder, audio: np.ndarray, target: Target, amount: float, bank: LatentBank | None,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Mono 16 kHz audio [T] -> morphed audio [T] (see the module docstring)."""
    controls = ae.controls(audio, progress)
    z = ae.align(ae.encode(audio), controls.frames)
    if amount > 0:
        if target.latent is not None:
            goal = target.latent
        else:
            assert bank is not None and target.family is not None
            midi = target.midi if target.midi is not None else median_midi(controls.f0, controls.periodicity)
            goal = bank.lookup(target.family, midi)
        z = (1.0 - amount) * z + amount * goal[None, :]
    out = ae.decode(z.astype(np.float32), controls, progress)
    return np.pad(out, (0, audio.shape[0] - out.shape[0]))


def morph(ae: OnnxAutoencoder, audio: np.ndarray, rate: int, target: Target, amount: float,
          bank: LatentBank | None, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(channels, frames) audio at `rate` -> morphed audio of the same shape and rate."""
    if not 0.0 <= amount <= 1.0 or not np.isfinite(amount):
        raise LatentbridgeError(f"--amount must be in [0, 1], got {amount}")
    out = np.zeros_like(audio, dtype=np.float32)
    for ch, first in enumerate(first_copies(audio)):
        if first < ch:  # the same samples as an earlier channel: the same result
            out[ch] = out[first]
            continue
        mono16 = resample(audio[ch], rate, MODEL_RATE)
        back = resample(morph_mono(ae, mono16, target, amount, bank, progress), MODEL_RATE, rate)
        out[ch] = np.pad(back, (0, max(0, audio.shape[1] - back.shape[0])))[: audio.shape[1]]
    return out


def first_copies(audio: np.ndarray) -> list[int]:
    """For every channel of (channels, frames) audio, the first channel with the same samples (itself if none)."""
    return [next(k for k in range(ch + 1) if np.array_equal(audio[ch], audio[k])) for ch in range(audio.shape[0])]


def distinct_channels(audio: np.ndarray) -> int:
    """How many channels differ from every earlier one (the work `morph` will do)."""
    return sum(1 for ch, first in enumerate(first_copies(audio)) if first == ch)
