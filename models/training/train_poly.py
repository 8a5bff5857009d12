"""Training task of the multi-pitch tracker: random crops of phrases -> BCE on frame activations and onsets.

Phrases (models/polypitch/labels.py layout) are decoded once into an audio cache (16 kHz, padded to the
longest phrase). Each step draws `batch` (phrase, start frame) pairs from (seed, step); a crop is `crop`
frames of 128 samples plus the front end's history and `warmup` frames before it (real audio, zeros before
the phrase's start), the loss skips the warm-up frames, so the causal convs start from real context.
Loss: BCE on activations (Gaussian targets, positive weight `act_pos_weight`) + BCE on onsets (positive weight
`onset_pos_weight`, and `restrike_weight` times that on the onset frames of re-struck notes, labels.restrikes);
the activation terms are weighted `tail_weight` in the `tail_frames` after each key-up and `attack_weight` in each
note's first `attack_frames`, and `harmonic_weight` at the octave-and-overtone bins of every sounding note
(`harmonic_intervals` from it; labels.activation_weights; 1 = plain).
Augmentation from the same (seed, step) stream: a gain uniform in `gain_db` and, on half of the crops, white
noise at a level uniform in `noise_db` (dBFS RMS); with `eq_db` > 0 every crop also passes through two random
peaking filters of up to +-`eq_db` (models/training/random_eq.py, drawn from (seed, step, crop)).
Validation (`valid_every` steps, single process): whole valid phrases (the first `valid_phrases`) offline;
the score is the semitone-level frame F1 at threshold 0.5 (a semitone is on where one of its 3 bins is);
the best score writes best.pt (see the training loop). With `lr_patience` > 0 the learning rate halves after
that many validations without a better score; the schedule is not a run setting, so a resumed run may add it.
`init` warm-starts from another tracker checkpoint (`widen_into`): a config with more input channels (poly_onset
from poly_small) starts with exactly the old outputs.
`extra` names more phrase datasets whose train splits join the training pool (e.g. phrases from a third SoundFont
rendered with `dataset poly --ratios 1,0,0`), each cached in `cache_dir/extra-NAME`; crops are drawn uniformly over
all training phrases. Validation stays on `data`'s valid split, so scores compare with runs without extras. An extra
dataset rendered from a SoundFont that holds a twin of one of `data`'s valid or test instruments (GM fonts share
samples; models/data/soundfont_twins.py) is refused before training.
`skip` names (SoundFont file name, program) pairs whose training phrases are never drawn (instruments that sound
off the keys their labels name, `dataset tuning`); the audio cache still holds every phrase, so it is shared with
runs without `skip`.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.data.poly_reader import PolyPhrase
from models.data.soundfont_twins import held_out_twins
from models.polypitch.labels import (
    BINS_PER_SEMITONE,
    HARMONIC_INTERVALS,
    activation_weights,
    frame_targets,
    read_phrases,
    restrikes,
)
from models.polypitch.model import PolyPitchConfig, PolyPitchNet
from models.training.audio_cache import cached_audio
from models.training.best_score import BestScoreHooks
from models.training.random_eq import random_eq


@dataclass(frozen=True)
class PolyTraining:
    crop: int = 128  # frames per crop (1.02 s)
    warmup: int = 16  # frames of context before the crop, outside the loss
    sigma: float = 0.7  # activation target width (bins)
    act_pos_weight: float = 2.0
    onset_pos_weight: float = 10.0
    restrike_weight: float = 1.0
    tail_weight: float = 1.0
    tail_frames: int = 24  # 192 ms
    attack_weight: float = 1.0
    attack_frames: int = 4  # 32 ms
    harmonic_weight: float = 1.0
    harmonic_intervals: tuple[float, ...] = HARMONIC_INTERVALS  # semitones from each note that harmonic_weight marks
    eq_db: float = 0.0
    gain_db: tuple[float, float] = (-18.0, 6.0)
    noise_db: tuple[float, float] = (-70.0, -40.0)
    valid_every: int = 0
    valid_phrases: int = 24


def widen_into(model: nn.Module, source: dict[str, Tensor]) -> list[str]:
    """Copy a tracker state dict into `model`: equal shapes whole; a larger tensor of the same rank gets the
    source in its leading slice, the rest stays at its fresh initialisation except the new input channels of
    every conv weight (dim 1: new front-end windows, and more channels in every layer and head), which are zeroed
    so the widened model computes what the source did; an input made of several layers' features side by side
    (the model's CONCATENATED_INPUTS) is widened block by block; parameters of the model's ADDED_MODULES (whose
    output starts at zero) that the source lacks keep their initialisation. Returns the names copied into a slice;
    refuses other missing names and shrinking shapes."""
    target, widened = model.state_dict(), []
    blocks = getattr(model, "CONCATENATED_INPUTS", {})
    added = tuple(getattr(model, "ADDED_MODULES", ()))
    missing = sorted(name for name in set(target) ^ set(source) if name in source or not name.startswith(added))
    if missing:
        raise LatentbridgeError(f"--init: not a tracker of this architecture (differs in {missing[:3]})")
    for name, value in source.items():
        new = target[name]
        if new.shape == value.shape:
            new.copy_(value)
            continue
        if new.dim() != value.dim() or any(a < b for a, b in zip(new.shape, value.shape, strict=True)):
            raise LatentbridgeError(f"--init: {name} has shape {tuple(value.shape)}, cannot widen to "
                                    f"{tuple(new.shape)}")
        k = blocks.get(name, 1)
        if new.dim() == 4 and name.endswith("weight"):  # conv: [out, in, time, freq]
            old_block, new_block = value.shape[1] // k, new.shape[1] // k
            for b in range(k):
                new[:, b * new_block + old_block: (b + 1) * new_block] = 0.0
                new[: value.shape[0], b * new_block: b * new_block + old_block, : value.shape[2], : value.shape[3]] = \
                    value[:, b * old_block: (b + 1) * old_block]
        else:
            new[tuple(slice(0, n) for n in value.shape)] = value
        widened.append(name)
    model.load_state_dict(target)
    return widened


def semitone_f1(activations: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """(true positives, estimated, reference) semitone-frames: a semitone is on where the max of its bins is."""
    def on(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (1, 1)))[:, : x.shape[1]]  # semitone k: bins 3k - 1 .. 3k + 1
        return padded.reshape(x.shape[0], -1, BINS_PER_SEMITONE).max(axis=2) >= threshold
    est, ref = on(activations), on(target)
    return int((est & ref).sum()), int(est.sum()), int(ref.sum())


def _refuse_held_out_twins(data: Path, extra: tuple[Path, ...]) -> None:
    """A one-line error when an --extra-data SoundFont holds an instrument that sounds as one of --data's valid or
    test instruments (soundfont_twins.py); a note on stderr for font pairs that could not be compared."""
    twins, unchecked = held_out_twins(data, extra)
    for line in unchecked:
        print(f"latentbridge: could not check for held-out twins: {line}", file=sys.stderr)
    if twins:
        more = f" (and {len(twins) - 1} more)" if len(twins) > 1 else ""
        raise LatentbridgeError(f"--extra-data would train on held-out instruments: {twins[0]}{more}; render that "
                                "SoundFont without those programs or leave it out")


class PolyTask(BestScoreHooks):
    kind = "poly"

    def __init__(self, cfg: PolyPitchConfig, data: Path, cache_dir: Path, batch: int, seed: int,
                 training: PolyTraining | None = None, lr_patience: int = 0, init: Path | None = None,
                 extra: tuple[Path, ...] = (), skip: frozenset[tuple[str, int]] = frozenset()) -> None:
        if batch < 1:
            raise LatentbridgeError("--batch must be >= 1")
        if lr_patience < 0:
            raise LatentbridgeError("--lr-patience must be >= 0")
        self.lr_patience = lr_patience
        self.training = training or PolyTraining()
        if self.training.crop < 1 or self.training.warmup < 0 or self.training.valid_phrases < 1:
            raise LatentbridgeError("crop and --valid-phrases must be >= 1, warm-up >= 0")
        if self.training.restrike_weight <= 0:
            raise LatentbridgeError("--restrike-weight must be > 0")
        if min(self.training.tail_weight, self.training.attack_weight, self.training.harmonic_weight) < 1.0:
            raise LatentbridgeError("--tail-weight, --attack-weight and --harmonic-weight must be >= 1")
        if not 0.0 <= self.training.eq_db <= 24.0:
            raise LatentbridgeError("--eq-db must be in 0..24")
        if min(self.training.tail_frames, self.training.attack_frames) < 1:
            raise LatentbridgeError("tail and attack spans must be >= 1 frame (8 ms; --tail-ms)")
        self.cfg, self.model = cfg, PolyPitchNet(cfg)
        self.init = init
        if init is not None:
            from models.training.checkpoint import load_model

            source, _ = load_model(init, "poly")
            with torch.no_grad():
                widen_into(self.model, source.state_dict())
        names = [path.resolve().name for path in extra]
        if len(set(names)) != len(names) or data.resolve() in [path.resolve() for path in extra]:
            raise LatentbridgeError("--extra-data: each dataset once, with distinct folder names, not --data again")
        self.data, self.cache_dir, self.batch, self.seed = data, cache_dir, batch, seed
        self.extra = tuple(extra)
        self.skip = frozenset(skip)
        self.drawable: np.ndarray | None = None  # indices of the training phrases crops are drawn from
        self.phrases: list[PolyPhrase] = []
        self.audio: list[np.ndarray] = []  # one cache per dataset, [phrases, samples]
        self.first: np.ndarray | None = None  # index of each dataset's first phrase in self.phrases
        self.frames: np.ndarray | None = None  # whole frames per phrase
        self.valid: list[tuple[np.ndarray, np.ndarray]] = []
        self._state: dict[str, Any] = {"best": None, "best_step": 0, "history": [], "bad": 0,
                                       "lr_scale": 1.0}

    def settings(self) -> dict[str, Any]:
        training = asdict(self.training)
        defaults = asdict(PolyTraining())
        for name in ("restrike_weight", "tail_weight", "tail_frames", "attack_weight", "attack_frames",
                     "harmonic_weight", "harmonic_intervals", "eq_db"):
            if training[name] == defaults[name]:  # runs from before these existed resume unchanged
                del training[name]
        extra: dict[str, Any] = {} if self.init is None else {"init": str(self.init)}
        if self.extra:
            extra["extra_data"] = [str(path) for path in self.extra]
        if self.skip:
            extra["skip_instruments"] = sorted([font, program] for font, program in self.skip)
        return {"batch": self.batch, "training": training, "data": str(self.data), **extra}

    def _cache(self, phrases: list[PolyPhrase], directory: Path, what: str,
               root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not phrases:
            raise LatentbridgeError(f"{root or self.data}: no {what}")
        longest = max(soundfile.info(str(p.audio_path)).frames for p in phrases)
        return cached_audio([p.audio_path for p in phrases], longest, directory, what)

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        if self.extra:
            _refuse_held_out_twins(self.data, self.extra)
        self.phrases, self.audio, all_lengths, first = [], [], [], []
        for root in (self.data, *self.extra):
            phrases = read_phrases(root, "train")
            directory = self.cache_dir if root == self.data else self.cache_dir / f"extra-{root.resolve().name}"
            audio, lengths = self._cache(phrases, directory, "train phrases", root)
            first.append(len(self.phrases))
            self.phrases += phrases
            self.audio.append(audio)
            all_lengths.append(lengths)
        lengths = np.concatenate(all_lengths)
        self.first, self.frames = np.array(first), lengths // self.cfg.hop
        self.drawable = np.array([i for i, p in enumerate(self.phrases)
                                  if not any((p.soundfont, program) in self.skip for program in p.programs)], int)
        if self.drawable.size == 0:
            raise LatentbridgeError("--skip-instruments leaves no training phrase")
        facts: dict[str, Any] = {"data": str(self.data), "phrases": len(self.phrases),
                                 "train_seconds_of_audio": float(lengths.sum() / self.cfg.sample_rate)}
        if self.skip:
            facts["phrases_skipped"] = len(self.phrases) - int(self.drawable.size)
        if self.extra:
            facts["phrases_per_dataset"] = [len(n) for n in all_lengths]
        if self.training.valid_every and rank == 0:
            valid = read_phrases(self.data, "valid")[: self.training.valid_phrases]
            audio, lengths = self._cache(valid, self.cache_dir / "valid", "valid phrases")
            self.valid = []
            for phrase, row, length in zip(valid, audio, lengths, strict=True):
                frames = int(length) // self.cfg.hop
                target, _ = frame_targets(phrase.notes, 0, frames, self.cfg.hop, self.cfg.sample_rate,
                                          self.training.sigma)
                self.valid.append((np.array(row[: frames * self.cfg.hop]), target))
            facts["valid_phrases"] = len(self.valid)
        return facts

    def audio_seconds(self) -> float:
        return self.batch * self.training.crop * self.cfg.hop / self.cfg.sample_rate

    def _crop(self, phrase: int, start: int) -> np.ndarray:
        """Audio of frames start - warmup .. start + crop with the front end's history (zeros before 0)."""
        assert self.first is not None, "prepare() first"
        source = int(np.searchsorted(self.first, phrase, side="right")) - 1
        audio, row = self.audio[source], phrase - int(self.first[source])
        hop, t = self.cfg.hop, self.training
        begin = (start - t.warmup) * hop - self.model.stack.context
        end = (start + t.crop) * hop
        out = np.zeros(end - begin, np.float32)
        lo, hi = max(begin, 0), min(end, audio.shape[1])
        out[lo - begin: hi - begin] = audio[row, lo:hi]
        return out

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.frames is not None and self.drawable is not None, "prepare() first"
        rng = np.random.default_rng([self.seed, step])
        t, hop, total = self.training, self.cfg.hop, self.batch * world
        phrases = self.drawable[rng.integers(0, self.drawable.size, size=total)]
        starts = np.floor(rng.random(total) * np.maximum(self.frames[phrases] - t.crop, 1)).astype(int)
        gains = 10.0 ** (rng.uniform(*t.gain_db, size=total) / 20.0)
        noisy = rng.random(total) < 0.5
        levels = 10.0 ** (rng.uniform(*t.noise_db, size=total) / 20.0)
        rows = range(rank * self.batch, (rank + 1) * self.batch)
        x = np.stack([self._crop(phrases[i], starts[i]) * gains[i] for i in rows]).astype(np.float32)
        if t.eq_db > 0:
            x = np.stack([random_eq(row, np.random.default_rng([self.seed, step, 1, i]), t.eq_db)
                          for row, i in zip(x, rows, strict=True)])
        noise = rng.standard_normal(x.shape).astype(np.float32) * (noisy[rows.start: rows.stop] * levels[
            rows.start: rows.stop])[:, None].astype(np.float32)
        targets = [frame_targets(self.phrases[phrases[i]].notes, starts[i], t.crop, hop, self.cfg.sample_rate,
                                 t.sigma) for i in rows]
        context = self.model.stack.context
        audio = torch.from_numpy(x + noise).to(device)
        act, onset = net(audio[:, context:], audio[:, :context])
        act, onset = act[:, t.warmup:].float(), onset[:, t.warmup:].float()
        act_t = torch.from_numpy(np.stack([a for a, _ in targets])).to(device)
        onset_t = torch.from_numpy(np.stack([o for _, o in targets])).to(device)
        act_weight = None
        if t.tail_weight != 1.0 or t.attack_weight != 1.0 or t.harmonic_weight != 1.0:
            act_weight = torch.from_numpy(np.stack([activation_weights(
                self.phrases[phrases[i]].notes, starts[i], t.crop, hop, self.cfg.sample_rate, t.tail_frames,
                t.tail_weight, t.attack_frames, t.attack_weight, t.harmonic_weight, t.harmonic_intervals)
                for i in rows])).to(device)
        act_loss = F.binary_cross_entropy_with_logits(act, act_t, weight=act_weight, pos_weight=torch.tensor(
            t.act_pos_weight, device=device))
        weight = None
        if t.restrike_weight != 1.0:
            marks = np.stack([restrikes(self.phrases[phrases[i]].notes, starts[i], t.crop, hop,
                                        self.cfg.sample_rate) for i in rows])
            weight = torch.from_numpy(1.0 + (t.restrike_weight - 1.0) * marks).to(device)
        onset_loss = F.binary_cross_entropy_with_logits(onset, onset_t, weight=weight, pos_weight=torch.tensor(
            t.onset_pos_weight, device=device))
        return act_loss + onset_loss

    # ---- loop hooks: validation and best.pt (see models.training.loop) ----

    @torch.no_grad()
    def validate(self, model: nn.Module) -> float:
        """Semitone-level frame F1 (threshold 0.5) over the valid phrases."""
        was_training = model.training
        model.eval()
        counts = np.zeros(3)
        try:
            for audio, target in self.valid:
                act, _ = model(torch.from_numpy(audio)[None])
                counts += semitone_f1(torch.sigmoid(act[0]).numpy(), target)
        finally:
            model.train(was_training)
        tp, est, ref = counts
        return float(2 * tp / (est + ref)) if est + ref else 0.0

    def lr_scale(self, step: int) -> float:
        return float(self._state.get("lr_scale", 1.0))

    def after_step(self, model: nn.Module, step: int) -> str | None:
        if not self.training.valid_every or step % self.training.valid_every or not self.valid:
            return None
        score, state = self.validate(model), self._state
        scale = float(state.get("lr_scale", 1.0))
        print(f"valid step {step}: semitone frame F1 {score:.4f} (best {state['best']}, lr x{scale:g})", flush=True)
        if self._record_score(step, score, 200, scale):
            state["bad"] = 0
            return "best"
        state["bad"] = int(state.get("bad", 0)) + 1
        if self.lr_patience and state["bad"] % self.lr_patience == 0:
            state["lr_scale"] = scale * 0.5
        return None
