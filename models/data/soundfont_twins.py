"""Same-sounding instruments in different SoundFonts, so that extra training data cannot hold a held-out instrument.

GM SoundFonts share samples: MuseScore General is built on FluidR3, csound's sf_GMbank on TimGM6mb. Splits go by
(SoundFont, program), so a phrase set rendered from one font "for training only" can hold the very instrument
another font's valid or test split keeps out. Two programs are twins when every partial's level (0.5x to 6x the
key, relative to the loudest, over samples 1 000-9 000 of a `dataset notes` note at velocity 100) differs by at
most `TWIN_DB` at three keys in the program's range; partial levels, not samples, because two fonts may loop or
scale one sample differently. `held_out_twins(data, extras)` reads the `dataset poly` indexes and names every such pair;
`train_twins(notes, split)` does the same inside one `dataset notes` render of several fonts (its instruments.json),
whose split by (SoundFont, program) can put a held-out instrument's twin in train.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.data.gm_programs import GM_PROGRAMS
from models.data.note_synth import SAMPLE_RATE, NoteSynth
from models.data.soundfonts import search_dirs

TWIN_DB = 1.0
KEYS = (48, 60, 72)
PARTIALS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)  # ratios to the key's frequency
START, WINDOW = 1000, 8000  # the analysed samples of the held note


@functools.lru_cache(maxsize=8)
def _synth(path: str) -> NoteSynth:
    return NoteSynth(path, 0.0)


@functools.lru_cache(maxsize=1024)  # a held-out font's levels are compared with every extra font's
def partial_levels(font: Path, program: int, key: int) -> np.ndarray:
    """Levels (dB, the loudest 0) of the key's partials below 7.9 kHz (see the module docstring)."""
    audio = _synth(str(font)).render(program, key, 100)[START: START + WINDOW]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[0]), n=SAMPLE_RATE))  # 1-Hz bins
    hz = 440.0 * 2 ** ((key - 69) / 12)
    levels = np.array([spectrum[int(r * hz) - 2: int(r * hz) + 3].max() for r in PARTIALS if r * hz < 7900])
    relative = 20 * np.log10(np.maximum(levels, 1e-9) / max(float(levels.max()), 1e-9))
    relative.flags.writeable = False  # cached: shared by every caller
    return relative


def level_difference_db(a: Path, b: Path, program: int) -> float:
    """The largest partial-level difference of `program` between fonts `a` and `b` over KEYS (in its range)."""
    gm = GM_PROGRAMS[program]
    keys = sorted({min(max(k, gm.lo), gm.hi) for k in KEYS})
    return max(float(np.abs(partial_levels(a, program, k) - partial_levels(b, program, k)).max()) for k in keys)


def _fonts(root: Path) -> dict[str, Path]:
    """The SoundFonts a `dataset poly` output was rendered from that are still on this machine, by file name (its
    summary's paths; `_locate` falls back to the search directories)."""
    found: dict[str, Path] = {}
    summary = root / "summary.json"
    if summary.is_file():
        listed = json.loads(summary.read_text(encoding="utf-8")).get("soundfonts", [])
        for path in map(Path, ast.literal_eval(listed) if isinstance(listed, str) else listed):
            if path.is_file():
                found[path.name] = path
    return found


def _programs(root: Path, splits: Sequence[str]) -> dict[str, set[int]]:
    """SoundFont file name -> the programs its phrases of `splits` play."""
    index = json.loads((root / "phrases.json").read_text(encoding="utf-8"))
    used: dict[str, set[int]] = {}
    for phrase in index.get("phrases", {}).values():  # phrases not rendered by `dataset poly` name no font
        if phrase.get("split") in splits and phrase.get("soundfont"):
            used.setdefault(phrase["soundfont"], set()).update(phrase.get("programs", []))
    return used


def _locate(name: str, known: dict[str, Path]) -> Path | None:
    if name in known:
        return known[name]
    return next((d / name for d in search_dirs() if (d / name).is_file()), None)


def held_out_twins(data: Path, extras: Sequence[Path]) -> tuple[list[str], list[str]]:
    """(twins, unchecked): a line per program of an extra dataset's training fonts that sounds the same as a
    held-out (valid or test) instrument of `data`, and a line per font pair that could not be compared (a
    SoundFont no longer on this machine)."""
    held, held_fonts = _programs(data, ("valid", "test")), _fonts(data)
    twins, unchecked = [], []
    for extra in extras:
        extra_fonts = _fonts(extra)
        for extra_name, programs in _programs(extra, ("train",)).items():
            for held_name, held_programs in held.items():
                if extra_name == held_name:
                    continue
                shared = sorted(programs & held_programs)
                if not shared:
                    continue
                a, b = _locate(held_name, held_fonts), _locate(extra_name, extra_fonts)
                if a is None or b is None:
                    unchecked.append(f"{extra}: {extra_name} against {held_name} (not found)")
                    continue
                for program in shared:
                    difference = level_difference_db(a, b, program)
                    if difference <= TWIN_DB:
                        twins.append(f"{extra}: {extra_name} program {program} ({GM_PROGRAMS[program].name}) "
                                     f"sounds as {held_name}'s held-out one ({difference:.2f} dB apart)")
    return twins, unchecked


def train_twins(root: Path, split: str) -> dict[str, str]:
    """Held-out instrument -> a train instrument of another SoundFont that sounds the same, in a `dataset notes`
    render (`root`/instruments.json: SoundFont path, program and split per instrument); {} for a dataset without
    that file (the real NSynth) or whose fonts are no longer on this machine."""
    index = root / "instruments.json"
    if not index.is_file():
        return {}
    instruments = json.loads(index.read_text(encoding="utf-8"))
    train = [(name, info) for name, info in instruments.items() if info.get("split") == "train"]
    found: dict[str, str] = {}
    for name, info in sorted(instruments.items()):
        if info.get("split") != split or not Path(info.get("soundfont_path", "")).is_file():
            continue
        for other, twin in train:
            if (twin.get("program") == info["program"] and twin.get("soundfont") != info.get("soundfont")
                    and Path(twin.get("soundfont_path", "")).is_file()
                    and level_difference_db(Path(info["soundfont_path"]), Path(twin["soundfont_path"]),
                                            info["program"]) <= TWIN_DB):
                found[name] = other
                break
    return found
