"""Training task of the note classifier (the judge of reconstructions): NSynth notes -> family + pitch CE.

Per training instrument up to `per_instrument` notes (seeded choice, pitches inside the classifier's range,
every velocity) are decoded once into an audio cache of `n_samples` per note. Each step draws `batch` notes
from (seed, step), scales each by a random gain of +-6 dB (the judge must not read loudness as timbre), and
sums the family and pitch cross-entropies.

With `valid_every` > 0 (single process), every that many steps the family accuracy on up to `valid_per_instrument`
notes of each valid-split instrument (instruments never trained on, like the test split's) is measured; the
best writes best.pt beside checkpoint.pt (see the training loop's hooks). Training never stops on it.
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
from models.training.best_score import BestScoreHooks

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


class ClassifierTask(BestScoreHooks):
    kind = "classifier"

    def __init__(self, cfg: ClassifierConfig, data: Path, cache_dir: Path, per_instrument: int, batch: int,
                 seed: int, valid_every: int = 0, valid_per_instrument: int = 20) -> None:
        if batch < 1 or per_instrument < 1 or valid_every < 0 or valid_per_instrument < 1:
            raise LatentbridgeError("--batch and --per-instrument must be >= 1, --valid-every >= 0")
        self.valid_every, self.valid_per_instrument = valid_every, valid_per_instrument
        self.valid_audio: np.ndarray | None = None
        self.valid_family: np.ndarray | None = None
        self._state: dict[str, Any] = {"best": None, "best_step": 0, "history": []}
        self.cfg, self.model = cfg, NoteClassifier(cfg)
        self.data, self.cache_dir, self.per_instrument = data, cache_dir, per_instrument
        self.batch, self.seed = batch, seed
        self.audio: np.ndarray | None = None
        self.family: np.ndarray | None = None
        self.pitch: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"batch": self.batch, "per_instrument": self.per_instrument}
        if self.valid_every:  # older runs stored no validation settings
            settings.update(valid_every=self.valid_every, valid_per_instrument=self.valid_per_instrument)
        return settings

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        notes = classifier_notes(self.data, "train", self.cfg, self.per_instrument, self.seed)
        self.audio = audio_cache([e.audio_path for e in notes], self.cfg.n_samples, self.cache_dir, "notes")
        self.family = np.array([FAMILIES.index(e.instrument_family_str) for e in notes])
        self.pitch = np.array([e.pitch - self.cfg.pitch_min for e in notes])
        facts: dict[str, Any] = {"data": str(self.data), "notes": len(notes)}
        if self.valid_every and rank == 0:
            valid = classifier_notes(self.data, "valid", self.cfg, self.valid_per_instrument, self.seed)
            self.valid_audio = audio_cache([e.audio_path for e in valid], self.cfg.n_samples,
                                           self.cache_dir / "valid", "valid notes")
            self.valid_family = np.array([FAMILIES.index(e.instrument_family_str) for e in valid])
            facts["valid_notes"] = len(valid)
        return facts

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

    # ---- loop hooks (see models.training.loop): validation and best.pt ----

    @torch.no_grad()
    def validate(self, model: nn.Module) -> float:
        """Family accuracy on the validation notes (eval mode)."""
        assert self.valid_audio is not None and self.valid_family is not None, "prepare() first"
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            hits = 0
            for i in range(0, self.valid_audio.shape[0], 64):
                family, _ = model(torch.from_numpy(np.array(self.valid_audio[i: i + 64])).to(device))
                hits += int((family.argmax(dim=-1).cpu().numpy() == self.valid_family[i: i + 64]).sum())
        finally:
            model.train(was_training)
        return hits / self.valid_audio.shape[0]

    def after_step(self, model: nn.Module, step: int) -> str | None:
        if not self.valid_every or step % self.valid_every or self.valid_audio is None:
            return None
        score = self.validate(model)
        print(f"valid step {step}: family accuracy {score:.4f} (best {self._state['best']})", flush=True)
        return "best" if self._record_score(step, score, 500) else None
