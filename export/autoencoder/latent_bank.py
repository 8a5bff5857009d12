"""A latent bank: the autoencoder's mean timbre latent per instrument family and MIDI pitch (no torch).

Built from NSynth-layout notes by `latentbridge bank build` (models.exporting.latent_bank): a cell holds the
mean over up to `per_cell` notes of each note's sounding-frame latent; empty cells are NaN.
Stored as one .npz (families [N], pitches [P] MIDI, z [N, P, Z] float32, counts [N, P], the autoencoder's
config hash and the build settings); read back with one-line errors for a missing, corrupt or foreign file.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError

BANK_FORMAT = "latentbridge-latent-bank"
BANK_VERSION = 1


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
