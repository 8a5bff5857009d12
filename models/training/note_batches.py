"""Training crops of NSynth-layout notes with controls (f0, periodicity, loudness) precomputed once, cached.

The cache is a directory of .npy arrays: audio [N, S] float32 (the first S samples of each note, 16 kHz),
f0 / periodicity / loudness [N, S // hop], plus meta.json (note names, control settings, hash). Batch b of a
run is drawn from a generator seeded with (seed, step), so the data order is the same after a resume; with
W processes, rank r takes rows [r * batch, (r + 1) * batch) of a global batch of W * batch crops.
`FrozenAutoencoderNotes` is the shared half of the decoder tasks trained on these crops beside a frozen
autoencoder (`wavenet`, `lpcwavenet`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.autoencoder.model import Autoencoder
from models.data.nsynth_reader import NSynthDataset, NSynthExample

ARRAYS = ("audio", "f0", "periodicity", "loudness")


@dataclass(frozen=True)
class NoteSubset:
    """Which notes train: per instrument, `per_instrument` notes drawn (seeded) from those in `pitches`
    (inclusive MIDI range) at one of `velocities`; the first `seconds` of each note are kept."""

    split: str = "train"
    per_instrument: int = 18
    pitches: tuple[int, int] = (28, 91)
    velocities: tuple[int, ...] = (50, 75, 100, 127)
    seconds: float = 3.0
    seed: int = 0


def select_notes(dataset: NSynthDataset, subset: NoteSubset) -> list[NSynthExample]:
    """The subset, sorted by note name; every instrument with eligible notes contributes equally."""
    lo, hi = subset.pitches
    pool = dataset.filter(pitches=(lo, hi), velocities=subset.velocities).examples
    by_instrument: dict[str, list[NSynthExample]] = {}
    for example in pool:
        by_instrument.setdefault(example.instrument_str, []).append(example)
    rng = np.random.default_rng(subset.seed)
    chosen: list[NSynthExample] = []
    for name in sorted(by_instrument):
        notes = by_instrument[name]
        take = rng.permutation(len(notes))[: subset.per_instrument]
        chosen.extend(notes[i] for i in sorted(take))
    if not chosen:
        raise LatentbridgeError(f"no notes in split {subset.split!r} with pitch {lo}..{hi} and velocity in "
                                f"{list(subset.velocities)}")
    return sorted(chosen, key=lambda e: e.note_str)


class NoteCache:
    """Memory-mapped cached notes and controls (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta = json.loads((directory / "meta.json").read_text())
        self.arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        self.hop = int(self.meta["hop"])

    def __len__(self) -> int:
        return int(self.arrays["audio"].shape[0])

    @property
    def samples(self) -> int:
        return int(self.arrays["audio"].shape[1])

    def batch(self, step: int, batch: int, crop: int, seed: int, rank: int = 0,
              world: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Crops for `step`: audio [batch, crop], f0 / periodicity / loudness [batch, crop // hop]. A quarter
        of the crops start at the note onset (the attack); the rest start anywhere on the hop grid."""
        if crop % self.hop or crop > self.samples:
            raise LatentbridgeError(f"crop of {crop} samples must be a multiple of {self.hop} and at most "
                                    f"{self.samples}")
        rng = np.random.default_rng([seed, step])
        total = batch * world
        notes = rng.integers(0, len(self), size=total)
        starts = rng.integers(0, (self.samples - crop) // self.hop + 1, size=total) * self.hop
        starts[rng.random(total) < 0.25] = 0
        rows = slice(rank * batch, (rank + 1) * batch)
        frames = crop // self.hop
        out = []
        for name in ARRAYS:
            arr, unit = self.arrays[name], (1 if name == "audio" else self.hop)
            length = crop if name == "audio" else frames
            out.append(torch.from_numpy(np.stack([np.asarray(arr[n, s // unit: s // unit + length])
                                                  for n, s in zip(notes[rows], starts[rows], strict=True)])))
        audio, f0, periodicity, loudness = out
        return audio, f0, periodicity, loudness


def _cache_key(notes: list[NSynthExample], subset: NoteSubset, model: Autoencoder) -> str:
    cfg = model.cfg
    controls = {k: getattr(cfg, k) for k in ("sample_rate", "frame_hop", "pitch_window", "pitch_fmin",
                                             "pitch_fmax", "pitch_threshold", "loudness_n_fft",
                                             "loudness_floor_db")}
    text = json.dumps({"notes": [str(e.audio_path) for e in notes], "subset": asdict(subset),
                       "controls": controls}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_cache(data: str | Path, subset: NoteSubset, model: Autoencoder, directory: str | Path,
                chunk: int = 32) -> NoteCache:
    """Read the subset, compute its controls with `model.compute_controls` and cache both in `directory`;
    reuse an existing cache with the same key (notes, subset and control settings)."""
    directory = Path(directory)
    dataset = NSynthDataset(data, subset.split)
    notes = select_notes(dataset, subset)
    key = _cache_key(notes, subset, model)
    meta_path = directory / "meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()).get("key") == key:
        return NoteCache(directory)
    hop = model.cfg.frame_hop
    samples = int(round(subset.seconds * model.cfg.sample_rate)) // hop * hop
    directory.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)
    tmp = {name: directory / f".{name}.tmp.npy" for name in ARRAYS}
    shapes = {"audio": (len(notes), samples), **{n: (len(notes), samples // hop) for n in ARRAYS[1:]}}
    arrays = {n: np.lib.format.open_memmap(tmp[n], mode="w+", dtype=np.float32, shape=shapes[n])
              for n in ARRAYS}
    with bar("caching notes + controls", total=len(notes), unit="note") as progress:
        for first in range(0, len(notes), chunk):
            block = notes[first: first + chunk]
            audio = np.zeros((len(block), samples), dtype=np.float32)
            for i, example in enumerate(block):
                wav = read_mono(example.audio_path, MODEL_RATE)
                audio[i, : min(samples, wav.shape[0])] = wav[:samples]
            f0, periodicity, loudness = model.compute_controls(torch.from_numpy(audio))
            rows = slice(first, first + len(block))
            arrays["audio"][rows] = audio
            arrays["f0"][rows], arrays["periodicity"][rows] = f0.numpy(), periodicity.numpy()
            arrays["loudness"][rows] = loudness.numpy()
            progress.update(len(block))
    for name in ARRAYS:
        arrays[name].flush()
        del arrays[name]
        os.replace(tmp[name], directory / f"{name}.npy")
    meta = {"key": key, "hop": hop, "sample_rate": model.cfg.sample_rate, "subset": asdict(subset),
            "data": str(Path(data).resolve()), "notes": [e.note_str for e in notes],
            "instruments": len({e.instrument_str for e in notes})}
    tmp_meta = directory / ".meta.tmp.json"
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, meta_path)
    return NoteCache(directory)


class FrozenAutoencoderNotes:
    """Base of a training task on cached note crops guided by a frozen autoencoder (eval mode, no gradients):
    its settings, its `prepare` (building the cache) and its crops."""

    def __init__(self, autoencoder: Autoencoder, autoencoder_path: str, data: Path, cache_dir: Path,
                 subset: NoteSubset, batch: int, crop: int, seed: int) -> None:
        self.autoencoder = autoencoder.eval().requires_grad_(False)
        self.autoencoder_path = autoencoder_path
        self.data, self.cache_dir, self.subset, self.batch, self.crop, self.seed = (data, cache_dir, subset,
                                                                                    batch, crop, seed)
        self.cache: NoteCache | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "crop": self.crop, "subset": asdict(self.subset)}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        self.cache = build_cache(self.data, self.subset, self.autoencoder, self.cache_dir)
        return {"data": str(self.data), "notes": len(self.cache), "autoencoder": self.autoencoder_path}

    def crops(self, step: int, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                torch.Tensor]:
        """This rank's crops of `step` (see NoteCache.batch)."""
        assert self.cache is not None, "prepare() first"
        return self.cache.batch(step, self.batch, self.crop, self.seed, rank, world)
