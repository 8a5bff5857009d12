"""Synthetic phrases in the `dataset poly` layout for the multi-pitch tracker's tests: harmonic tones (five
decaying harmonics, a short attack and release) at known MIDI pitches, some in chords, one with a pitch bend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

RATE = 16000


def tone(midi: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    wave = sum(np.sin(2 * np.pi * h * f0 * t) / h ** 1.5 for h in range(1, 6) if h * f0 < rate / 2)
    envelope = np.minimum(1.0, np.minimum(t / 0.01, (seconds - t) / 0.02))
    return (0.15 * wave * envelope).astype(np.float32)


def write_phrases(root: Path, counts: dict[str, int], seconds: float = 2.0, seed: int = 0) -> Path:
    """Write `counts[split]` phrases per split under `root`; returns root."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {}
    for split, count in counts.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        splits[split] = []
        for n in range(count):
            name = f"{split}_{n:03d}"
            audio = np.zeros(int(seconds * RATE), np.float32)
            notes = []
            for _ in range(3):
                onset = float(np.round(rng.uniform(0.0, seconds - 0.6), 3))
                length = float(np.round(rng.uniform(0.3, seconds - onset - 0.05), 3))
                chord = [int(rng.integers(45, 72))]
                chord += [chord[0] + int(i) for i in rng.choice([3, 4, 7, 12], size=int(rng.integers(0, 3)),
                                                                 replace=False)]
                for pitch in chord:
                    start = int(onset * RATE)
                    wave = tone(pitch, length)
                    audio[start: start + wave.shape[0]] += wave
                    notes.append({"onset": onset, "offset": onset + length, "pitch": pitch, "velocity": 100,
                                  "program": 0, "channel": 0, "bend": []})
            soundfile.write(root / split / f"{name}.wav", audio, RATE, subtype="PCM_16")
            (root / split / f"{name}.json").write_text(json.dumps({
                "notes": notes, "instruments": [{"program": 0}], "style": "block", "seconds": seconds}))
            splits[split].append(name)
    (root / "phrases.json").write_text(json.dumps({"sample_rate": RATE, "seed": seed, "splits": splits,
                                                   "phrases": {}}))
    return root


def export_tiny_tracker(directory: Path, seed: int = 0, memory: int = 0) -> Path:
    """A randomly initialised `poly_tiny` tracker (with a per-bin memory of `memory` units, its output conv drawn
    at random) saved as a checkpoint and exported; its `tracker.onnx` path."""
    from dataclasses import replace

    import torch

    from models.exporting.onnx_export import export_checkpoint
    from models.polypitch.model import PolyPitchNet, get_config
    from models.training.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    model = PolyPitchNet(replace(get_config("poly_tiny"), memory=memory))
    with torch.no_grad():  # input statistics of real log spectra, so the layers see a useful range
        model.norm.running_mean.fill_(-6.0)
        model.norm.running_var.fill_(4.0)
        if memory:
            model.memory_head.weight.normal_(0.0, 1.0)
    save_checkpoint(directory / "run" / "checkpoint.pt", "poly", model, None, 0, seed)
    rows = export_checkpoint(directory / "run" / "checkpoint.pt", directory, "tiny", force=True)
    return Path(rows[0]["path"])
