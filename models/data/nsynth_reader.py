"""Reading NSynth-layout note datasets: ours (`dataset notes`) and the official NSynth release.

`NSynthDataset(root, split)` finds `<root>/<split>/examples.json`, `<root>/nsynth-<split>/examples.json`
or, with split=None, `<root>/examples.json`; audio is `<dir>/audio/<note_str>.wav`. Items are
(NSynthExample, float32 mono audio at 16 kHz, resampled by export.core.audio_io if the file is not).
Examples are sorted by note_str; WAV files are opened (and checked) only when an item is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError

FIELDS: tuple[str, ...] = ("note", "note_str", "instrument", "instrument_str", "pitch", "velocity",
                           "sample_rate", "qualities", "qualities_str", "instrument_family",
                           "instrument_family_str", "instrument_source", "instrument_source_str")
_INT_FIELDS = ("note", "instrument", "pitch", "velocity", "sample_rate", "instrument_family",
               "instrument_source")
_STR_FIELDS = ("note_str", "instrument_str", "instrument_family_str", "instrument_source_str")


@dataclass(frozen=True)
class NSynthExample:
    note: int
    note_str: str
    instrument: int
    instrument_str: str
    pitch: int
    velocity: int
    sample_rate: int
    qualities: tuple[int, ...]
    qualities_str: tuple[str, ...]
    instrument_family: int
    instrument_family_str: str
    instrument_source: int
    instrument_source_str: str
    audio_path: Path


def _example(key: str, entry: object, audio_dir: Path, where: Path) -> NSynthExample:
    if not isinstance(entry, dict):
        raise LatentbridgeError(f"{where}: entry {key!r} is not a JSON object")
    missing = [f for f in FIELDS if f not in entry]
    if missing:
        raise LatentbridgeError(f"{where}: entry {key!r} lacks field {missing[0]!r}")
    for name in _INT_FIELDS:
        if not isinstance(entry[name], int) or isinstance(entry[name], bool):
            raise LatentbridgeError(f"{where}: entry {key!r} field {name!r} is not an integer")
    for name in _STR_FIELDS:
        if not isinstance(entry[name], str):
            raise LatentbridgeError(f"{where}: entry {key!r} field {name!r} is not a string")
    qualities, names = entry["qualities"], entry["qualities_str"]
    if not isinstance(qualities, list) or not all(isinstance(q, int) for q in qualities):
        raise LatentbridgeError(f"{where}: entry {key!r} field 'qualities' is not a list of integers")
    if not isinstance(names, list) or not all(isinstance(q, str) for q in names):
        raise LatentbridgeError(f"{where}: entry {key!r} field 'qualities_str' is not a list of strings")
    return NSynthExample(**{f: entry[f] for f in FIELDS if f not in ("qualities", "qualities_str")},
                         qualities=tuple(qualities), qualities_str=tuple(names),
                         audio_path=audio_dir / f"{entry['note_str']}.wav")


def find_split_dir(root: str | Path, split: str | None = None) -> Path:
    """The directory holding examples.json for `split` under `root` (see the module docstring)."""
    root = Path(root)
    if split is None:
        candidates = [root]
    else:
        candidates = [root / split, root / f"nsynth-{split}"]
        if root.name in (split, f"nsynth-{split}"):
            candidates.append(root)
    for d in candidates:
        if (d / "examples.json").is_file():
            return d
    if not root.is_dir():
        raise LatentbridgeError(f"{root}: no such dataset directory")
    found = sorted(p.parent.name for p in root.glob("*/examples.json"))
    hint = f" (splits here: {', '.join(found)}; pass split=...)" if found else ""
    names = " or ".join(str(d / "examples.json") for d in candidates)
    raise LatentbridgeError(f"no examples.json: looked for {names}{hint}")


def load_examples(split_dir: Path) -> list[NSynthExample]:
    """Parse and validate `split_dir/examples.json`; one-line errors for bad JSON or fields."""
    path = split_dir / "examples.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LatentbridgeError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise LatentbridgeError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno} "
                                f"column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise LatentbridgeError(f"{path}: expected a JSON object keyed by note_str")
    examples = [_example(key, entry, split_dir / "audio", path) for key, entry in data.items()]
    return sorted(examples, key=lambda e: e.note_str)


class NSynthDataset:
    """Indexable NSynth-layout split: `ds[i] -> (NSynthExample, float32 mono 16 kHz audio)`."""

    def __init__(self, root: str | Path, split: str | None = None) -> None:
        self.split_dir = find_split_dir(root, split)
        self.split = split
        self.examples: list[NSynthExample] = load_examples(self.split_dir)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> tuple[NSynthExample, np.ndarray]:
        example = self.examples[index]
        return example, read_mono(example.audio_path, MODEL_RATE)

    def where(self, keep: Callable[[NSynthExample], bool]) -> NSynthDataset:
        """A view holding only the examples for which `keep` is true (same split directory)."""
        view = object.__new__(NSynthDataset)
        view.split_dir, view.split = self.split_dir, self.split
        view.examples = [e for e in self.examples if keep(e)]
        return view

    def filter(self, families: Iterable[str] | None = None, sources: Iterable[str] | None = None,
               pitches: tuple[int, int] | None = None,
               velocities: Iterable[int] | None = None) -> NSynthDataset:
        """Keep the given family / source names, an inclusive (lo, hi) MIDI pitch range and velocities."""
        fam = None if families is None else set(families)
        src = None if sources is None else set(sources)
        vel = None if velocities is None else set(velocities)
        return self.where(lambda e: (fam is None or e.instrument_family_str in fam)
                          and (src is None or e.instrument_source_str in src)
                          and (pitches is None or pitches[0] <= e.pitch <= pitches[1])
                          and (vel is None or e.velocity in vel))

    def by_family(self, *families: str) -> NSynthDataset:
        return self.filter(families=families)

    def by_source(self, *sources: str) -> NSynthDataset:
        return self.filter(sources=sources)

    def by_pitch(self, lo: int, hi: int) -> NSynthDataset:
        return self.filter(pitches=(lo, hi))

    def by_velocity(self, *velocities: int) -> NSynthDataset:
        return self.filter(velocities=velocities)

    def instruments(self) -> list[str]:
        """The distinct instrument_str values, sorted."""
        return sorted({e.instrument_str for e in self.examples})
