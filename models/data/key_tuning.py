"""`latentbridge dataset tuning`: whether a SoundFont's instruments sound at the keys that play them.

Some General MIDI presets do not, and a phrase labelled with its keys then teaches a tracker a wrong pitch
(measured on the Debian fonts: TimGM6mb's whistle sounds 8.7 semitones below its key, both fonts' guitar
harmonics two octaves above, the fifth-sawtooth leads 5 semitones below). `measure` renders one note per key
(velocity 100, 1 s, `note_synth`) and runs CREPE (tiny) on it at 16 kHz; a key's offset is the median of
12 log2(f0 / key frequency) over 0.2-0.7 s where CREPE's periodicity is >= 0.5 (None with fewer than 10 such
frames: unpitched or silent). An instrument is *off its key* when every key gives an offset, they agree within
half a semitone, and their median is half a semitone or more from 0. Organs (GM 16-23) are never off: an organ
key names its 8-foot pitch whatever else is drawn (organ_fonts.py), and CREPE hears a 16-foot stop as the pitch.
The JSON written (`--out`) lists every instrument measured; `train poly --skip-instruments` reads it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError
from export.core.pitch_units import midi_to_hz
from export.core.progress import progress
from models.data.note_synth import SAMPLE_RATE, NoteSynth
from models.data.soundfonts import resolve_soundfonts

KEYS = (55, 67)  # G3, G4
ORGANS = range(16, 24)
HOP = 160
SPAN = (0.2, 0.7)  # seconds of each note judged
PERIODIC = 0.5
MIN_FRAMES = 10
TOLERANCE = 0.5  # semitones


@dataclass(frozen=True)
class KeyTuning:
    soundfont: str  # file name
    program: int
    name: str
    offsets: tuple[float | None, ...]  # semitones per key of `keys`
    keys: tuple[int, ...]

    @property
    def off_key(self) -> bool:
        if self.program in ORGANS or not self.offsets or any(o is None for o in self.offsets):
            return False
        values = np.array(self.offsets, dtype=np.float64)
        return bool(np.ptp(values) <= TOLERANCE and abs(np.median(values)) >= TOLERANCE)


def key_offset(audio: np.ndarray, key: int) -> float | None:
    """Semitones from MIDI `key` to what one rendered note (16 kHz) sounds, or None where it is not pitched."""
    from models.judges.crepe import crepe_pitch

    f0, periodicity = crepe_pitch(audio, hop=HOP, model="tiny", fmin=32.7, fmax=1975.5)
    span = slice(int(SPAN[0] * SAMPLE_RATE / HOP), int(SPAN[1] * SAMPLE_RATE / HOP))
    pitched = periodicity[span] >= PERIODIC
    if int(pitched.sum()) < MIN_FRAMES:
        return None
    return float(np.median(12.0 * np.log2(f0[span][pitched] / midi_to_hz(key))))


def measure(soundfont: Path, programs: Iterable[int], keys: tuple[int, ...] = KEYS) -> list[KeyTuning]:
    """One row per program the font has (bank 0)."""
    synth, rows = NoteSynth(soundfont), []
    for program in programs:
        name = synth.preset_name(program)
        if name is None:
            continue
        offsets = tuple(key_offset(synth.render(program, key, 100)[: SAMPLE_RATE], key) for key in keys)
        rows.append(KeyTuning(soundfont.name, program, name, offsets, tuple(keys)))
    return rows


@dataclass(frozen=True)
class TuningReport:
    """What a `dataset tuning` JSON says: the (SoundFont file name, program) pairs off their keys, and the fonts it
    measured (`soundfonts_checked`, or else the fonts of its rows)."""

    off_key: frozenset[tuple[str, int]]
    checked: frozenset[str]


def read_report(path: Path) -> TuningReport:
    """`path` read once; a missing or malformed report is a one-line error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = data["instruments"]
        off = frozenset((str(r["soundfont"]), int(r["program"])) for r in rows if r["off_key"])
        checked = data.get("soundfonts_checked") or [r.get("soundfont") for r in rows]  # rows are objects here
        return TuningReport(off, frozenset(str(f) for f in checked if f is not None))
    except FileNotFoundError:
        raise LatentbridgeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise LatentbridgeError(f"{path}: not a `dataset tuning` report ({type(exc).__name__}: {exc})") from None


def read_off_key(path: Path) -> frozenset[tuple[str, int]]:
    """(SoundFont file name, program) of every instrument a `dataset tuning` JSON marks off its key."""
    return read_report(path).off_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="JSON report to write (see --force)")
    parser.add_argument("--soundfont", action="append", default=None,
                        help="SoundFont to measure (repeatable; default: the General MIDI fonts found)")
    parser.add_argument("--programs", default="0-127", help="GM programs, 0-based: A-B or a comma list "
                        "(default 0-127)")
    parser.add_argument("--force", action="store_true", help="replace an existing report")


def _programs(text: str) -> list[int]:
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            values = list(range(lo, hi + 1))
        else:
            values = [int(v) for v in text.split(",")]
    except ValueError:
        raise LatentbridgeError(f"--programs {text!r}: expected A-B or a comma list of integers") from None
    if not values or min(values) < 0 or max(values) > 127:
        raise LatentbridgeError(f"--programs {text!r}: programs are 0..127")
    return values


def run(args: argparse.Namespace) -> int:
    programs, fonts = _programs(args.programs), resolve_soundfonts(args.soundfont)
    started, rows = time.monotonic(), []
    for font in fonts:
        rows += measure(font, progress(programs, desc=f"tuning {font.name}", unit="program"))
    report = {"keys": list(KEYS), "method": "CREPE tiny, median over 0.2-0.7 s, periodicity >= 0.5",
              "soundfonts_checked": [font.name for font in fonts],
              "instruments": [asdict(r) | {"off_key": r.off_key} for r in rows]}
    with atomic_output(args.out, args.force) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    off = [r for r in rows if r.off_key]
    print(f"{len(rows)} instruments in {len(fonts)} SoundFont(s), {len(off)} off their keys "
          f"({time.monotonic() - started:.0f} s) -> {args.out}")
    for r in off:
        print(f"  {r.soundfont} {r.program:3d} {r.name:<24} " + " ".join(f"{o:+.2f}" for o in r.offsets))
    return 0
