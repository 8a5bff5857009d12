"""Building a latent bank from NSynth-layout notes (reads the training data, so it lives in `models/`).

Each note is encoded by the exported autoencoder (ONNX Runtime); a cell (family, MIDI pitch) holds the mean of up
to `per_cell` notes' sounding-frame latents (`export.autoencoder.morphing.note_latent`); see
`export.autoencoder.latent_bank` for the file format.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from export.autoencoder.latent_bank import LatentBank, model_hash
from export.autoencoder.morphing import note_latent
from export.autoencoder.runtime import OnnxAutoencoder
from export.core.errors import LatentbridgeError
from export.core.progress import progress
from models.data.gm_programs import FAMILIES
from models.data.nsynth_reader import NSynthDataset


@dataclass(frozen=True)
class BankSettings:
    split: str = "train"
    per_cell: int = 4
    seconds: float = 3.0
    range_db: float = 30.0
    velocities: tuple[int, ...] = (75, 100)



def build_bank(ae: OnnxAutoencoder, notes: str | Path, settings: BankSettings = BankSettings()) -> LatentBank:
    """Encode up to `per_cell` notes per (family, pitch) of an NSynth-layout split into a bank."""
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
