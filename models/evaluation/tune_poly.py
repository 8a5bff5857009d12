"""Choosing the note-extraction thresholds of a tracker on validation phrases (never the test split).

The tracker runs once per phrase (models.evaluation.eval_poly.ours: frames of 128 samples at 16 kHz); every
combination of the grid's `NoteSettings` values then extracts notes from the same activations and is scored with
the note-onset F1 of eval_poly (mir_eval, pitch 50 cents, onset `onset_tolerance`), averaged over the phrases.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError
from export.core.progress import progress
from export.poly.note_events import NoteSettings, extract_notes
from models.data.poly_reader import PolyPhrase
from models.evaluation.eval_poly import (
    BasicPitchNotes,
    basic_pitch_model,
    basic_pitch_notes,
    basic_pitch_output,
    note_scores,
    ours,
)
from models.polypitch.labels import read_phrases

# min_frames stops at 16 frames (128 ms), Basic Pitch's own minimum note length (11 frames of 256 samples at
# 22.05 kHz): longer minimums score higher on the rendered phrases, whose notes are rarely short (5 % under
# 176 ms), but would drop a player's fast notes
GRID: dict[str, tuple[float, ...]] = {
    "strike_floor": (0.2, 0.35),
    "min_frames": (12, 16),
    "restrike_frames": (6, 8),
    "gap": (2, 6),
    "min_activation": (0.6, 0.7, 0.8),
    "rise_frames": (0, 3, 6),
}


def _tuning_phrases(data: Path, split: str, phrases: int) -> list[PolyPhrase]:
    """The first `phrases` of `split`; refuses the test split and an empty one."""
    if split == "test":
        raise LatentbridgeError("tune on the valid (or train) split: the test split is for the final judgement")
    chosen = read_phrases(data, split)[:phrases]
    if not chosen:
        raise LatentbridgeError(f"{data}: no {split} phrases to tune on")
    return chosen


def _ranked(grid: dict[str, tuple[float, ...]], default: Any, score: Callable[[Any], float]) -> dict[str, Any]:
    """{'default', 'best', 'table'}: every combination of `grid` applied to the `default` settings dataclass,
    scored, best first."""
    table = []
    for values in progress(list(itertools.product(*grid.values())), desc="settings", unit="setting"):
        settings = replace(default, **dict(zip(grid, values, strict=True)))
        table.append({"settings": asdict(settings), "f1": score(settings)})
    table.sort(key=lambda row: -row["f1"])
    return {"default": {"settings": asdict(default), "f1": score(default)}, "best": table[0], "table": table}


def tune_notes(model: nn.Module, data: Path, split: str = "valid", phrases: int = 60,
               onset_tolerance: float = 0.05, grid: dict[str, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """{'split', 'phrases', 'default': {settings, f1}, 'best': {settings, f1}, 'table': [{settings, f1}] best
    first}; refuses the test split."""
    chosen = _tuning_phrases(data, split, phrases)
    outputs = [(phrase, *ours(model, read_mono(phrase.audio_path, MODEL_RATE)))
               for phrase in progress(chosen, desc="tracker", unit="phrase")]

    def score(settings: NoteSettings) -> float:
        return float(np.mean([note_scores(phrase.notes, extract_notes(act, onset, settings), onset_tolerance)["f1"]
                              for phrase, act, onset in outputs]))

    return {"split": split, "phrases": len(chosen), "onset_tolerance": onset_tolerance,
            **_ranked(grid or GRID, NoteSettings(), score)}


# Basic Pitch's own thresholds over the same phrases, so its reference row can be as tuned as ours
BASIC_PITCH_GRID: dict[str, tuple[float, ...]] = {
    "onset": (0.4, 0.5, 0.6, 0.7, 0.8),
    "frame": (0.3, 0.4, 0.5, 0.6),
    "min_note_ms": (35.0, 58.0, 127.7),  # 3, 5 and 11 of its frames; 127.7 ms is its default
}


def tune_basic_pitch(data: Path, split: str = "valid", phrases: int = 60, onset_tolerance: float = 0.05,
                     grid: dict[str, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """As `tune_notes`, for Basic Pitch's note thresholds (its network runs once per phrase)."""
    chosen = _tuning_phrases(data, split, phrases)
    model = basic_pitch_model()
    outputs = [(phrase, basic_pitch_output(phrase.audio_path, model))
               for phrase in progress(chosen, desc="Basic Pitch", unit="phrase")]

    def score(thresholds: BasicPitchNotes) -> float:
        return float(np.mean([note_scores(phrase.notes, basic_pitch_notes(output, thresholds), onset_tolerance)["f1"]
                              for phrase, output in outputs]))

    return _ranked(grid or BASIC_PITCH_GRID, BasicPitchNotes(), score)
