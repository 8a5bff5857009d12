"""Training task of the tagger: random windows of MagnaTagATune-layout clips -> BCE loss.

Clips are decoded once into an audio cache (16 kHz, the clip length of the first clip); each step draws
`batch` (clip, window start) pairs from (seed, step) and their 0/1 tag rows. Tags: the `top` most frequent
tags of the training split that have at least `min_count` positives (rarer ones cannot be learnt or scored),
or a fixed list (`TagChoice.tags`; a resumed run keeps its checkpoint's tags, so it can resume on more clips).

Augmentation (`Augment`; SpecAugment masks are in the model config) draws from the same (seed, step) stream:
- gain: a fraction `gain_prob` of the windows is scaled by a gain uniform in +-gain_db; their loud / quiet
  labels no longer hold, so those two tags leave the loss for them (weight 0);
- mixup: a fraction `mixup` of the windows gets a window of another clip added at -gain to 0 dB
  (`MIX_DB`). Labels of the mix: the union of both clips' tags for what a mix adds (instrument families,
  sources, drums, effects, voices, ensemble), the intersection for absences (no_drums, no_vocal), 0 for solo,
  and no loss at all for tags that a sum of two clips leaves undefined (tempo, meter, brightness,
  level, register, ambient: `MIX_UNDEFINED`).

Validation (`Validation`, every `every` steps, single process): mean window probabilities of the first `clips`
clips of the valid split -> macro ROC-AUC. The best score writes best.pt (see the training loop); after
`lr_patience` validations without improvement the learning rate halves, after `patience` training stops
(resumed on more training clips, the patience count starts again; on other valid clips, the best score too).
The learning rate warms up linearly over `warmup` steps.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError
from models.data.mtat_reader import MTATDataset
from models.metrics import roc_auc
from models.tagger.configs import TaggerConfig, with_tags
from models.tagger.model import SampleCNN, window_starts
from models.training.audio_cache import audio_cache
from models.training.checkpoint import load_checkpoint, stored_config

MIX_UNION_NEVER = frozenset({"solo"})  # a mix of two clips has two or more parts
MIX_INTERSECTION = frozenset({"no_drums", "no_vocal"})
MIX_UNDEFINED = frozenset({"fast", "slow", "triple_meter", "bright", "dark", "loud", "quiet",
                           "high_register", "low_register", "ambient"})
LEVEL_TAGS = frozenset({"loud", "quiet"})
MIX_DB = (-6.0, 0.0)


@dataclass(frozen=True)
class TagChoice:
    top: int = 50
    min_count: int = 10
    tags: tuple[str, ...] | None = None  # fixed tags (e.g. those of the run being resumed)


@dataclass(frozen=True)
class Augment:
    mixup: float = 0.0  # fraction of windows mixed with another clip's window
    gain_db: float = 0.0  # +- range of the random gain
    gain_prob: float = 0.5  # fraction of windows given a random gain (when gain_db > 0)


@dataclass(frozen=True)
class Validation:
    every: int = 0  # steps between validations (0: none, no early stopping)
    clips: int = 300  # the first N clips of the valid split
    patience: int = 8  # validations without a better score before training stops
    lr_patience: int = 3  # ... before the learning rate halves
    warmup: int = 0  # steps of linear learning-rate warm-up


def tags_of_checkpoint(path: Path) -> tuple[str, ...] | None:
    """The tag names a tagger checkpoint was trained on (None when it has none)."""
    state = load_checkpoint(path, "tagger")
    return tuple(stored_config(state, path).tag_names) or None


def choose_tags(data: Path, choice: TagChoice) -> tuple[str, ...]:
    """The tags to learn, most frequent first (see the module docstring)."""
    if choice.tags:
        known = MTATDataset(data, "train").tag_names
        missing = [t for t in choice.tags if t not in known]
        if missing:
            raise LatentbridgeError(f"{data}: no tag column {', '.join(missing)} (the run being resumed "
                                    "learnt them)")
        return tuple(choice.tags)
    train = MTATDataset(data, "train")
    counts = train.label_matrix().sum(axis=0)
    tags = [t for t in train.top_tags(min(choice.top, len(train.tag_names)))
            if counts[train.tag_names.index(t)] >= choice.min_count
            and counts[train.tag_names.index(t)] < len(train)]
    if not tags:
        raise LatentbridgeError(f"{data}: no tag has {choice.min_count} or more positives in the train split")
    return tuple(tags)


class TaggerTask:
    kind = "tagger"

    def __init__(self, cfg: TaggerConfig, data: Path, cache_dir: Path, choice: TagChoice, batch: int,
                 seed: int, augment: Augment | None = None, validation: Validation | None = None) -> None:
        if batch < 1:
            raise LatentbridgeError("--batch must be >= 1")
        self.augment, self.validation = augment or Augment(), validation or Validation()
        if not (0.0 <= self.augment.mixup <= 1.0 and 0.0 <= self.augment.gain_prob <= 1.0
                and self.augment.gain_db >= 0.0):
            raise LatentbridgeError("--mixup and the gain fraction must be in [0, 1], --gain-db >= 0")
        v = self.validation
        if min(v.every, v.warmup) < 0 or min(v.clips, v.patience, v.lr_patience) < 1:
            raise LatentbridgeError("--valid-every and --warmup must be >= 0, --valid-clips and the patiences "
                                    ">= 1")
        self.cfg = with_tags(cfg, choose_tags(data, choice))
        self.model = SampleCNN(self.cfg)
        self.data, self.cache_dir, self.choice, self.batch, self.seed = data, cache_dir, choice, batch, seed
        self.audio: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.valid_audio: np.ndarray | None = None
        self.valid_labels: np.ndarray | None = None
        self.valid_key = ""
        names = self.cfg.tag_names
        self._undefined = np.array([t in MIX_UNDEFINED for t in names])
        self._intersect = np.array([t in MIX_INTERSECTION for t in names])
        self._never = np.array([t in MIX_UNION_NEVER for t in names])
        self._level = np.array([t in LEVEL_TAGS for t in names])
        self._state: dict[str, Any] = {"best": None, "best_step": 0, "bad": 0, "lr_scale": 1.0,
                                       "valid_key": "", "history": []}

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"batch": self.batch, "tags": list(self.cfg.tag_names)}
        if self.augment != Augment() or self.validation != Validation():  # older runs stored neither
            settings.update(augment=asdict(self.augment), validation=asdict(self.validation))
        return settings

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        train = MTATDataset(self.data, "train", tags=self.cfg.tag_names)
        if not len(train):
            raise LatentbridgeError(f"{self.data}: the train split has no clips")
        first = train[0][1]
        samples = max(first.shape[0], self.cfg.n_samples)
        self.audio = audio_cache([c.audio_path for c in train.clips], samples, self.cache_dir, "clips")
        self.labels = train.label_matrix().astype(np.float32)
        facts: dict[str, Any] = {"data": str(self.data), "clips": len(train), "tags": len(self.cfg.tag_names)}
        if self.validation.every and rank == 0:
            valid = MTATDataset(self.data, "valid", tags=self.cfg.tag_names)
            keep = list(range(min(len(valid), self.validation.clips)))
            if not keep:
                raise LatentbridgeError(f"{self.data}: the valid split has no clips (needed by --valid-every)")
            paths = [valid.clips[i].audio_path for i in keep]
            self.valid_audio = audio_cache(paths, samples, self.cache_dir / "valid", "valid clips")
            self.valid_labels = valid.label_matrix()[keep]
            self.valid_key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:16]
            if self._state["valid_key"] != self.valid_key:  # new valid clips: earlier scores do not compare
                self._state.update(best=None, best_step=0, bad=0, valid_key=self.valid_key)
            if self._state.get("train_clips") != len(train):  # more training clips: patience starts again
                self._state.update(bad=0, train_clips=len(train))
            facts["valid_clips"] = len(keep)
        return facts

    def audio_seconds(self) -> float:
        return self.batch * self.cfg.n_samples / self.cfg.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.audio is not None and self.labels is not None, "prepare() first"
        rng = np.random.default_rng([self.seed, step])
        total, window = self.batch * world, self.cfg.n_samples
        clips = rng.integers(0, self.audio.shape[0], size=total)
        starts = rng.integers(0, self.audio.shape[1] - window + 1, size=total)
        rows = slice(rank * self.batch, (rank + 1) * self.batch)
        x = np.stack([self.audio[c, s: s + window] for c, s in zip(clips[rows], starts[rows], strict=True)])
        y = self.labels[clips[rows]].copy()
        weight = np.ones_like(y)
        aug = self.augment
        if aug.mixup > 0.0:  # always drawn when enabled, so the stream does not depend on the outcome
            mixed = rng.random(total)[rows] < aug.mixup
            others = rng.integers(0, self.audio.shape[0], size=total)[rows]
            other_starts = rng.integers(0, self.audio.shape[1] - window + 1, size=total)[rows]
            levels = 10.0 ** (rng.uniform(*MIX_DB, size=total)[rows] / 20.0)
            for i in np.flatnonzero(mixed):
                x[i] = x[i] + levels[i] * self.audio[others[i], other_starts[i]: other_starts[i] + window]
                y[i] = self.mix_labels(y[i], self.labels[others[i]])
                weight[i, self._undefined] = 0.0
        if aug.gain_db > 0.0:
            gained = rng.random(total)[rows] < aug.gain_prob
            gains = 10.0 ** (rng.uniform(-aug.gain_db, aug.gain_db, size=total)[rows] / 20.0)
            x = np.where(gained[:, None], x * gains[:, None].astype(np.float32), x)
            weight[np.ix_(gained, self._level)] = 0.0
        logits = net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device))
        target, w = torch.from_numpy(y).to(device), torch.from_numpy(weight).to(device)
        return (F.binary_cross_entropy_with_logits(logits.float(), target, weight=w, reduction="sum")
                / w.sum().clamp(min=1.0))

    def mix_labels(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Labels of the sum of two clips with labels a and b (see the module docstring)."""
        out = np.maximum(a, b)
        out[self._intersect] = np.minimum(a, b)[self._intersect]
        out[self._never] = 0.0
        return out

    # ---- loop hooks: learning-rate schedule, validation, early stopping (see models.training.loop) ----

    def lr_scale(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.validation.warmup) if self.validation.warmup else 1.0
        return warm * float(self._state["lr_scale"])

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def load_state(self, state: dict[str, Any]) -> None:
        self._state.update(state)

    @torch.no_grad()
    def validation_scores(self, model: nn.Module) -> np.ndarray:
        """[valid clips, tags] mean window probabilities (eval mode)."""
        assert self.valid_audio is not None, "prepare() first"
        window = self.cfg.n_samples
        starts = window_starts(self.valid_audio.shape[1], window, window)
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            scores = np.zeros((self.valid_audio.shape[0], self.cfg.n_tags))
            for i in range(self.valid_audio.shape[0]):
                x = np.stack([self.valid_audio[i, s: s + window] for s in starts])
                scores[i] = torch.sigmoid(model(torch.from_numpy(x).to(device))).mean(dim=0).cpu().numpy()
        finally:
            model.train(was_training)
        return scores

    def validate(self, model: nn.Module) -> float:
        """Macro ROC-AUC on the validation clips, over the tags that have both classes there."""
        assert self.valid_labels is not None, "prepare() first"
        scores = self.validation_scores(model)
        aucs = [roc_auc(self.valid_labels[:, k], scores[:, k]) for k in range(self.cfg.n_tags)
                if 0 < self.valid_labels[:, k].sum() < self.valid_labels.shape[0]]
        return float(np.mean(aucs)) if aucs else float("nan")

    def after_step(self, model: nn.Module, step: int) -> str | None:
        v = self.validation
        if not v.every or step % v.every or self.valid_audio is None:
            return None
        score, state = self.validate(model), self._state
        if not np.isfinite(score):  # no tag has both classes among the valid clips: nothing to compare
            return None
        state["history"] = [*state["history"], [step, round(score, 5), state["lr_scale"]]][-200:]
        print(f"valid step {step}: macro ROC-AUC {score:.4f} (best {state['best']}, lr x{state['lr_scale']:g})",
              flush=True)
        if state["best"] is None or score > state["best"]:
            state.update(best=score, best_step=step, bad=0)
            return "best"
        state["bad"] += 1
        if state["bad"] >= v.patience:
            print(f"early stop: no better valid score for {state['bad']} validations "
                  f"(best {state['best']:.4f} at step {state['best_step']})", flush=True)
            return "stop"
        if state["bad"] % v.lr_patience == 0:
            state["lr_scale"] = float(state["lr_scale"]) * 0.5
        return None
