"""Training task of the note classifier (the judge of reconstructions): NSynth notes -> family + pitch CE.

Per training instrument up to `per_instrument` notes (seeded choice, pitches inside the classifier's range,
every velocity) are decoded once into an audio cache of `n_samples` per note. Each step draws `batch` notes
from (seed, step), scales each by a random gain of +-6 dB (the judge must not read loudness as timbre), and
sums the family and pitch cross-entropies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError
from models.classifier.model import FAMILIES, ClassifierConfig, NoteClassifier
from models.data.nsynth_reader import NSynthDataset, NSynthExample
from models.training.audio_cache import audio_cache

GAIN_DB = 6.0


def classifier_notes(data: Path, split: str, cfg: ClassifierConfig, per_instrument: int,
                     seed: int) -> list[NSynthExample]:
    """Up to `per_instrument` notes of each instrument of `split` whose pitch the classifier covers."""
    dataset = NSynthDataset(data, split).by_pitch(cfg.pitch_min, cfg.pitch_min + cfg.n_pitches - 1)
    rng = np.random.default_rng(seed)
    chosen: list[NSynthExample] = []
    for name in dataset.instruments():
        notes = [e for e in dataset.examples if e.instrument_str == name]
        chosen += [notes[i] for i in sorted(rng.permutation(len(notes))[:per_instrument])]
    if not chosen:
        raise LatentbridgeError(f"{data}: no {split} notes in MIDI {cfg.pitch_min}.."
                                f"{cfg.pitch_min + cfg.n_pitches - 1}")
    unknown = {e.instrument_family_str for e in chosen} - set(FAMILIES)
    if unknown:
        raise LatentbridgeError(f"{data}: unknown instrument families {sorted(unknown)}")
    return chosen


class ClassifierTask:
    kind = "classifier"

    def __init__(self, cfg: ClassifierConfig, data: Path, cache_dir: Path, per_instrument: int, batch: int,
                 seed: int) -> None:
        if batch < 1 or per_instrument < 1:
            raise LatentbridgeError("--batch and --per-instrument must be >= 1")
        self.cfg, self.model = cfg, NoteClassifier(cfg)
        self.data, self.cache_dir, self.per_instrument = data, cache_dir, per_instrument
        self.batch, self.seed = batch, seed
        self.audio: np.ndarray | None = None
        self.family: np.ndarray | None = None
        self.pitch: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "per_instrument": self.per_instrument}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        notes = classifier_notes(self.data, "train", self.cfg, self.per_instrument, self.seed)
        self.audio = audio_cache([e.audio_path for e in notes], self.cfg.n_samples, self.cache_dir, "notes")
        self.family = np.array([FAMILIES.index(e.instrument_family_str) for e in notes])
        self.pitch = np.array([e.pitch - self.cfg.pitch_min for e in notes])
        return {"data": str(self.data), "notes": len(notes)}

    def audio_seconds(self) -> float:
        return self.batch * self.cfg.n_samples / self.cfg.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.audio is not None and self.family is not None and self.pitch is not None, "prepare() first"
        rng = np.random.default_rng([self.seed, step])
        total, mine = self.batch * world, slice(rank * self.batch, (rank + 1) * self.batch)
        rows = rng.integers(0, self.audio.shape[0], size=total)[mine]
        gains = 10.0 ** (rng.uniform(-GAIN_DB, GAIN_DB, size=total)[mine] / 20.0)
        x = torch.from_numpy((self.audio[rows] * gains[:, None]).astype(np.float32))
        family, pitch = net(x.to(device))
        return (F.cross_entropy(family.float(), torch.from_numpy(self.family[rows]).to(device))
                + F.cross_entropy(pitch.float(), torch.from_numpy(self.pitch[rows]).to(device)))
