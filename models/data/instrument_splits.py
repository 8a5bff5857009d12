"""Instruments (one SoundFont x one GM program), their NSynth-style train/valid/test split, and which notes
a --limit keeps.

An instrument is named `{family}_{source}_{NNN}` like NSynth's `guitar_acoustic_010`: NNN counts the
mapped GM programs of that family and source, SoundFont by SoundFont (in the given order), program by
program, so a name never depends on --families or on which presets a SoundFont lacks. The split is by
instrument, stratified by family; it depends only on the seed, the ratios and the family's instruments.
A note's id is (instrument id * 128 + pitch) * 128 + velocity, the same in every subset.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from export.core.errors import LatentbridgeError
from models.data.gm_programs import FAMILIES, GM_PROGRAMS, GMProgram

SPLITS: tuple[str, ...] = ("train", "valid", "test")
DEFAULT_RATIOS: tuple[float, float, float] = (0.8, 0.1, 0.1)
MIN_FOR_ALL_SPLITS = 3


@dataclass(frozen=True)
class Instrument:
    id: int
    name: str
    soundfont: Path
    gm: GMProgram

    @property
    def family(self) -> str:
        return self.gm.family

    @property
    def source(self) -> str:
        return self.gm.source


@dataclass(frozen=True)
class Note:
    inst: Instrument
    pitch: int
    velocity: int

    @property
    def note_str(self) -> str:
        return f"{self.inst.name}-{self.pitch:03d}-{self.velocity:03d}"

    @property
    def note_id(self) -> int:
        return (self.inst.id * 128 + self.pitch) * 128 + self.velocity


def all_instruments(soundfonts: Sequence[Path]) -> list[Instrument]:
    """Every (SoundFont, mapped GM program) pair, numbered; ids are global, NNN per family_source."""
    counters: dict[tuple[str, str], int] = {}
    result: list[Instrument] = []
    for soundfont in soundfonts:
        for program in sorted(GM_PROGRAMS):
            gm = GM_PROGRAMS[program]
            n = counters.get((gm.family, gm.source), 0)
            counters[(gm.family, gm.source)] = n + 1
            result.append(Instrument(len(result), f"{gm.family}_{gm.source}_{n:03d}", soundfont, gm))
    return result


def parse_ratios(text: str) -> tuple[float, float, float]:
    """'80,10,10' (any positive scale) -> fractions summing to 1."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 0 or values[0] <= 0:
        raise LatentbridgeError(f"--ratios {text!r}: expected three non-negative numbers TRAIN,VALID,TEST "
                                "with TRAIN > 0, e.g. 80,10,10")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def _split_sizes(n: int, ratios: tuple[float, float, float]) -> tuple[int, int, int]:
    """Instruments per split for a family of n: each split gets >= 1 when n >= 3 and its ratio > 0."""
    if n < MIN_FOR_ALL_SPLITS:
        return n, 0, 0
    valid = max(1, round(n * ratios[1])) if ratios[1] > 0 else 0
    test = max(1, round(n * ratios[2])) if ratios[2] > 0 else 0
    while valid + test > n - 1:  # keep one training instrument; the larger of the two is >= 2 here
        if valid >= test:
            valid -= 1
        else:
            test -= 1
    return n - valid - test, valid, test


def assign_splits(instruments: Sequence[Instrument], seed: int,
                  ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> dict[int, str]:
    """Instrument id -> split name. Families of fewer than 3 instruments go to train only."""
    by_family: dict[str, list[Instrument]] = {}
    for inst in instruments:
        by_family.setdefault(inst.family, []).append(inst)
    result: dict[int, str] = {}
    for family in FAMILIES:
        members = sorted(by_family.get(family, []), key=lambda i: i.id)
        random.Random(f"{seed}:{family}").shuffle(members)
        n_train, n_valid, _ = _split_sizes(len(members), ratios)
        for k, inst in enumerate(members):
            result[inst.id] = "train" if k < n_train else "valid" if k < n_train + n_valid else "test"
    return result


def _interleave(sequences: list[list[Note]]) -> list[Note]:
    """First items of every sequence, then the second items, and so on."""
    return [seq[k] for k in range(max(map(len, sequences), default=0)) for seq in sequences if k < len(seq)]


def spread_order(notes_by_inst: dict[int, list[Note]], seed: int, split: str) -> list[Note]:
    """Candidates of one split, ordered so that any prefix is spread over families, then over their
    instruments, then over pitches and velocities (deterministic for a seed)."""
    rng = random.Random(f"{seed}:limit:{split}")
    by_family: dict[str, list[list[Note]]] = {}
    for inst_id in sorted(notes_by_inst):
        queue = list(notes_by_inst[inst_id])
        rng.shuffle(queue)
        by_family.setdefault(queue[0].inst.family, []).append(queue)
    per_family = []
    for family in FAMILIES:
        queues = by_family.get(family, [])
        rng.shuffle(queues)
        per_family.append(_interleave(queues))
    return _interleave(per_family)


def split_quotas(limit: int, available: dict[str, int], ratios: tuple[float, float, float]) -> dict[str, int]:
    """Notes per split under --limit: one for each split that has candidates, then each further note to the
    split furthest below its share."""
    active = [s for s, r in zip(SPLITS, ratios, strict=True) if available[s] > 0 and r > 0]
    ratio = dict(zip(SPLITS, ratios, strict=True))
    quota = dict.fromkeys(SPLITS, 0)
    for _ in range(min(limit, sum(available[s] for s in active))):
        open_splits = [s for s in active if quota[s] < available[s]]
        needy = [s for s in open_splits if quota[s] == 0]
        pick = needy[0] if needy else min(open_splits, key=lambda s: quota[s] / ratio[s])
        quota[pick] += 1
    return quota
