"""Timbre morphing in the autoencoder's latent space: the one home of morph targets and latent mixing, shared by
the live `morph` stage (plugin_host.neural_stage), the offline `latentbridge morph` (here) and sample banks.

Latents z are float32 [frames, Z] (one per 512 samples at 16 kHz); audio is float32 mono 16 kHz unless a name
says otherwise. A target is a bank family ("flute", taken at the bank pitch nearest a given MIDI pitch), a family
at a fixed pitch ("flute:72"), or an audio file (its mean latent over its sounding frames). Mixing:
z' = (1 - amount) z + amount goal, and the four-corner pad weights a (x=0, y=0), b (1, 0), c (0, 1), d (1, 1)
bilinearly: (1-x)(1-y), x(1-y), (1-x)y, xy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.autoencoder.latent_bank import LatentBank
from export.autoencoder.runtime import Controls, OnnxAutoencoder
from export.core.audio_io import MODEL_RATE, first_copies, read_mono, resample
from export.core.errors import LatentbridgeError
from export.core.pitch_units import hz_to_midi

VOICED = 0.5  # periodicity above which a frame counts as pitched
AUDIO_SUFFIXES = (".wav", ".flac", ".aiff", ".aif", ".mp3", ".ogg")
SILENT_DB = -80.0  # a note whose loudest 32-ms frame is below this is silent
MAX_ALIGN_ATTACKS_MS = 100.0  # the most attack alignment a morph or a resynth/morph stage takes
Lookup = Callable[[str, float | None], np.ndarray]  # (family, MIDI pitch or None) -> z [Z]


@dataclass(frozen=True)
class Target:
    """What to morph toward: a bank family (optionally at a fixed MIDI pitch) or a latent from a file."""

    family: str | None = None
    midi: float | None = None
    latent: np.ndarray | None = None

    def latent_at(self, midi: float | None, lookup: Lookup) -> np.ndarray:
        """z [Z] of this target where the input plays `midi` (None: the family's mean over its pitches)."""
        if self.latent is not None:
            return self.latent
        assert self.family is not None
        return lookup(self.family, self.midi if self.midi is not None else midi)


def parse_target(text: str, bank: LatentBank | None, ae: OnnxAutoencoder | None = None) -> Target:
    """FAMILY, FAMILY:MIDI or an audio file path (any rate and channel count) -> Target; one-line errors."""
    path = Path(text)
    if path.suffix.lower() in AUDIO_SUFFIXES or path.is_file():
        if ae is None:
            raise LatentbridgeError(f"{text}: an audio-file target is not accepted here (use FAMILY or FAMILY:MIDI)")
        latent = note_latent(ae, read_mono(path))
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


def note_latent(ae: OnnxAutoencoder, audio: np.ndarray, seconds: float | None = None,
                range_db: float = 30.0) -> np.ndarray | None:
    """Mean z [Z] over the sounding frames (within `range_db` of the loudest) of the first `seconds` of 16-kHz
    audio (all of it when None); None when nothing sounds."""
    clip = audio if seconds is None else audio[: int(seconds * ae.sample_rate)]
    z = ae.encode(clip)
    if z.shape[0] == 0:
        return None
    frames = clip[: z.shape[0] * ae.hop].reshape(z.shape[0], ae.hop)
    level = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    if level.max() < SILENT_DB:
        return None
    return z[level >= level.max() - range_db].mean(axis=0)


def median_midi(f0: np.ndarray, periodicity: np.ndarray) -> float | None:
    """Median MIDI pitch of the voiced frames (None when none is voiced)."""
    voiced = f0[(periodicity > VOICED) & (f0 > 0)]
    if voiced.size == 0:
        return None
    return float(hz_to_midi(np.median(voiced)))


def xy_weights(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Bilinear weights [..., 4] of corners a (x=0, y=0), b (1, 0), c (0, 1), d (1, 1); they sum to 1."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.stack([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y], axis=-1)


def mix_corners(corners: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Corner latents [..., 4, Z] mixed by `weights` [..., 4] -> [..., Z] float32."""
    return np.einsum("...k,...kz->...z", weights, corners).astype(np.float32)


def blend(z: np.ndarray, goal: np.ndarray, amount: np.ndarray | float) -> np.ndarray:
    """z moved toward `goal` by `amount` (0: z unchanged, 1: the goal)."""
    return ((1 - amount) * z + amount * goal).astype(np.float32)


Decode = Callable[[np.ndarray, np.ndarray, Controls, Callable[[int], None] | None], np.ndarray]


def morph_mono(ae: OnnxAutoencoder, audio: np.ndarray, target: Target, amount: float, bank: LatentBank | None,
               progress: Callable[[int], None] | None = None, decode: Decode | None = None,
               advance: int = 0) -> np.ndarray:
    """Mono 16 kHz audio [T] -> morphed audio [T]: the whole file's latents toward one goal, taken at the
    median pitch of its voiced frames. `decode(audio, z, controls, progress)` synthesises (default: the
    monophonic decoder; export.poly gives the polyphonic voices, which also read the input audio). `advance`:
    the output that many samples earlier (attack alignment: the causal controls make the decoder's attacks late;
    the end is padded with silence)."""
    if advance < 0:
        raise LatentbridgeError(f"the attack alignment must be >= 0, got {advance} samples")
    controls = ae.controls(audio, progress)
    z = ae.align(ae.encode(audio), controls.frames)
    if amount > 0:
        midi = median_midi(controls.f0, controls.periodicity)
        lookup = bank.lookup if bank is not None else _no_bank
        z = blend(z, target.latent_at(midi, lookup)[None, :], amount)
    if decode is None:
        out = ae.decode(z.astype(np.float32), controls, progress)
    else:
        out = decode(audio, z.astype(np.float32), controls, progress)
    out = out[advance:]
    return np.pad(out, (0, audio.shape[0] - out.shape[0]))


def _no_bank(family: str, midi: float | None) -> np.ndarray:
    raise LatentbridgeError(f"the target {family!r} needs a latent bank")


def check_align_attacks(ms: float, name: str = "--align-attacks") -> float:
    """`ms` when it is an attack alignment in [0, MAX_ALIGN_ATTACKS_MS] ms (NaN is not); else a one-line error
    naming `name`."""
    if not 0.0 <= ms <= MAX_ALIGN_ATTACKS_MS:
        raise LatentbridgeError(f"{name} must be in [0, {MAX_ALIGN_ATTACKS_MS:g}] ms, got {ms:g}")
    return ms


def morph(ae: OnnxAutoencoder, audio: np.ndarray, rate: int, target: Target, amount: float,
          bank: LatentBank | None, progress: Callable[[int], None] | None = None,
          decode: Callable[[], Decode] | None = None, align_attacks_ms: float = 0.0) -> np.ndarray:
    """(channels, frames) audio at `rate` -> morphed audio of the same shape and rate; identical channels are
    processed once. `decode()` makes a fresh synthesiser for each channel (default: the monophonic decoder);
    `align_attacks_ms`: the output that much earlier (see `morph_mono`'s `advance`)."""
    advance = round(check_align_attacks(align_attacks_ms, "the attack alignment") * MODEL_RATE / 1000.0)
    if not 0.0 <= amount <= 1.0 or not np.isfinite(amount):
        raise LatentbridgeError(f"--amount must be in [0, 1], got {amount}")
    out = np.zeros_like(audio, dtype=np.float32)
    for ch, first in enumerate(first_copies(audio)):
        if first < ch:  # the same samples as an earlier channel: the same result
            out[ch] = out[first]
            continue
        mono16 = resample(audio[ch], rate, MODEL_RATE)
        synth = decode() if decode is not None else None
        back = resample(morph_mono(ae, mono16, target, amount, bank, progress, synth, advance), MODEL_RATE, rate)
        out[ch] = np.pad(back, (0, max(0, audio.shape[1] - back.shape[0])))[: audio.shape[1]]
    return out
