"""A latent bank: the autoencoder's mean timbre latent per instrument family and MIDI pitch (no torch).

Built from NSynth-layout notes by the exported encoder: a note's latent is the mean of its z frames over its
first `seconds` where the frame RMS is within `range_db` of the note's loudest frame (the sounding part, not
the silence after the release). Cells hold the mean over up to `per_cell` notes; empty cells are NaN.
Stored as one .npz (families [N], pitches [P] MIDI, z [N, P, Z] float32, counts [N, P], the autoencoder's
config hash and the build settings); read back with one-line errors for a missing, corrupt or foreign file.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.audio_io import atomic_output
from export.autoencoder_runtime import OnnxAutoencoder
from export.errors import LatentbridgeError
from export.progress import progress

BANK_FORMAT = "latentbridge-latent-bank"
BANK_VERSION = 1


@dataclass(frozen=True)
class BankSettings:
    split: str = "train"
    per_cell: int = 4
    seconds: float = 3.0
    range_db: float = 30.0
    velocities: tuple[int, ...] = (75, 100)


@dataclass
class LatentBank:
    families: list[str]
    pitches: np.ndarray  # [P] MIDI numbers
    z: np.ndarray  # [N, P, Z], NaN where no note was seen
    counts: np.ndarray  # [N, P]
    model_hash: str  # the autoencoder's config hash (a bank only fits the model that encoded it)
    settings: dict[str, Any]

    def lookup(self, family: str, midi: float | None = None) -> np.ndarray:
        """z [Z] of `family` at the filled pitch nearest `midi` (the family's mean over pitches if None)."""
        if family not in self.families:
            raise LatentbridgeError(f"unknown family {family!r} in the latent bank (known: "
                                    f"{', '.join(self.families)})")
        row = self.families.index(family)
        filled = np.flatnonzero(self.counts[row] > 0)
        if filled.size == 0:
            raise LatentbridgeError(f"the latent bank holds no {family} notes")
        if midi is None:
            weights = self.counts[row, filled].astype(np.float64)
            return (self.z[row, filled] * weights[:, None]).sum(0).astype(np.float32) / np.float32(weights.sum())
        nearest = filled[np.argmin(np.abs(self.pitches[filled] - midi))]
        return self.z[row, nearest].copy()

    def save(self, path: str | Path, force: bool = False) -> Path:
        meta = {"format": BANK_FORMAT, "version": BANK_VERSION, "families": self.families,
                "model_hash": self.model_hash, "settings": self.settings}
        with atomic_output(path, force=force) as tmp:
            with open(tmp, "wb") as f:  # np.savez would append .npz to a temporary name without it
                np.savez(f, meta=np.array(json.dumps(meta)), pitches=self.pitches, z=self.z, counts=self.counts)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> LatentBank:
        path = Path(path)
        if not path.is_file():
            raise LatentbridgeError(f"{path}: no such latent bank")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                pitches, z, counts = data["pitches"], data["z"], data["counts"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # JSONDecodeError is a ValueError
            raise LatentbridgeError(f"{path}: not a readable latent bank ({exc})") from exc
        if meta.get("format") != BANK_FORMAT or meta.get("version") != BANK_VERSION:
            raise LatentbridgeError(f"{path}: not a version-{BANK_VERSION} latentbridge latent bank")
        if z.shape[:2] != (len(meta["families"]), pitches.shape[0]) or counts.shape != z.shape[:2]:
            raise LatentbridgeError(f"{path}: inconsistent latent bank arrays")
        return cls(list(meta["families"]), pitches, z.astype(np.float32), counts, meta["model_hash"],
                   meta["settings"])


def model_hash(ae: OnnxAutoencoder) -> str:
    """The autoencoder's config hash as its export recorded it in the model card."""
    card = json.loads(ae.graphs["encoder"].metadata.get("model_card", "{}"))
    return str(card.get("config_hash", ""))


def note_latent(ae: OnnxAutoencoder, audio: np.ndarray, seconds: float, range_db: float) -> np.ndarray | None:
    """Mean z [Z] over the sounding frames of a note's first `seconds` (None when nothing sounds)."""
    clip = audio[: int(seconds * ae.sample_rate)]
    z = ae.encode(clip)
    if z.shape[0] == 0:
        return None
    frames = clip[: z.shape[0] * ae.hop].reshape(z.shape[0], ae.hop)
    level = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    sounding = level >= level.max() - range_db
    if level.max() < -80.0:
        return None
    return z[sounding].mean(axis=0)


def build_bank(ae: OnnxAutoencoder, notes: str | Path, settings: BankSettings = BankSettings()) -> LatentBank:
    """Encode up to `per_cell` notes per (family, pitch) of an NSynth-layout split into a bank."""
    from models.data.gm_programs import FAMILIES
    from models.data.nsynth_reader import NSynthDataset

    if settings.per_cell < 1:
        raise LatentbridgeError("--per-cell must be >= 1")
    data = NSynthDataset(notes, settings.split).where(lambda e: e.velocity in settings.velocities)
    if not len(data):
        raise LatentbridgeError(f"{notes}: no {settings.split} notes at velocities {settings.velocities}")
    chosen: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, example in enumerate(data.examples):
        cell = chosen[(example.instrument_family_str, example.pitch)]
        if len(cell) < settings.per_cell:
            cell.append(index)
    families = [f for f in FAMILIES if any(key[0] == f for key in chosen)]
    pitches = np.arange(min(p for _, p in chosen), max(p for _, p in chosen) + 1)
    z = np.full((len(families), pitches.size, ae.z_dim), np.nan, np.float32)
    counts = np.zeros((len(families), pitches.size), np.int64)
    sums = np.zeros((len(families), pitches.size, ae.z_dim), np.float64)
    items = [(key, i) for key, indices in chosen.items() for i in indices]
    for (family, pitch), index in progress(items, "latent bank", unit="note"):
        latent = note_latent(ae, data[index][1], settings.seconds, settings.range_db)
        if latent is not None:
            row, col = families.index(family), pitch - pitches[0]
            sums[row, col] += latent
            counts[row, col] += 1
    filled = counts > 0
    z[filled] = (sums[filled] / counts[filled][:, None]).astype(np.float32)
    return LatentBank(families, pitches, z, counts, model_hash(ae), {**asdict(settings), "notes": str(notes)})
