"""Reading polyphonic phrases with note labels: a `dataset poly` render, or any folder of NAME.wav + NAME.mid pairs.

`read_poly(root, split)` returns PolyPhrase items sorted by name; onsets/offsets in seconds (key up, release tail
excluded), pitch bends as (seconds, semitones). Audio is not decoded here: `audio_path` is any WAV the training
reader resamples to 16 kHz; for a plain folder the labels come from the MIDI file (poly_midi.read_midi).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from export.core.audio_io import frames_held
from export.core.errors import LatentbridgeError
from models.data.poly_midi import NoteLabel, read_midi

INDEX = "phrases.json"
MIDI_SUFFIXES = (".mid", ".midi")
_NOTE_FIELDS = ("onset", "offset", "pitch", "velocity", "program", "channel", "bend")


@dataclass(frozen=True)
class PolyPhrase:
    name: str
    split: str | None  # None for a plain folder read without a split
    audio_path: Path
    notes: tuple[NoteLabel, ...]
    seconds: float
    style: str  # strum, block, arpeggio, bass_chords, line; "midi" for a WAV + MIDI pair
    programs: tuple[int, ...]  # one per instrument (channel order)
    soundfont: str = ""  # the SoundFont's file name where the phrase's JSON names one


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LatentbridgeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentbridgeError(f"{path}: malformed JSON ({str(exc).splitlines()[0]})") from None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _note(entry: object, where: Path, k: int) -> NoteLabel:
    if not isinstance(entry, dict) or any(f not in entry for f in _NOTE_FIELDS):
        raise LatentbridgeError(f"{where}: note {k} is not an object with fields {', '.join(_NOTE_FIELDS)}")
    pitch, velocity, program, channel = ints = [entry[f] for f in ("pitch", "velocity", "program", "channel")]
    bend = entry["bend"]
    if (not all(isinstance(v, int) and not isinstance(v, bool) for v in ints) or not _number(entry["onset"])
            or not _number(entry["offset"]) or not isinstance(bend, list)
            or not all(isinstance(b, list) and len(b) == 2 and all(map(_number, b)) for b in bend)):
        raise LatentbridgeError(f"{where}: note {k} has a field of the wrong type")
    if not 0 <= entry["onset"] <= entry["offset"] or not 0 <= entry["pitch"] <= 127:
        raise LatentbridgeError(f"{where}: note {k} has onset > offset or a pitch outside 0..127")
    return NoteLabel(float(entry["onset"]), float(entry["offset"]), pitch, velocity, program, channel,
                     tuple((float(t), float(s)) for t, s in bend))


def _rendered(root: Path, split: str, name: str) -> PolyPhrase:
    where = root / split / f"{name}.json"
    data = _load_json(where)
    if not isinstance(data, dict):
        raise LatentbridgeError(f"{where}: not a JSON object")
    for field, kind in (("notes", list), ("instruments", list), ("style", str)):
        if not isinstance(data.get(field), kind):
            raise LatentbridgeError(f"{where}: field {field!r} missing or not a {kind.__name__}")
    if not _number(data.get("seconds")):
        raise LatentbridgeError(f"{where}: field 'seconds' missing or not a number")
    if not isinstance(data.get("soundfont", ""), str):
        raise LatentbridgeError(f"{where}: field 'soundfont' is not a string")
    if not all(isinstance(i, dict) and isinstance(i.get("program"), int) for i in data["instruments"]):
        raise LatentbridgeError(f"{where}: an instrument lacks an integer 'program'")
    audio = where.with_suffix(".wav")
    if not audio.is_file():
        raise LatentbridgeError(f"{audio}: no such audio file")
    notes = tuple(_note(entry, where, k) for k, entry in enumerate(data["notes"]))
    return PolyPhrase(name, split, audio, notes, float(data["seconds"]), data["style"],
                      tuple(i["program"] for i in data["instruments"]), data.get("soundfont", ""))


def _from_index(root: Path, split: str | None) -> list[PolyPhrase]:
    index = _load_json(root / INDEX)
    splits = index.get("splits") if isinstance(index, dict) else None
    if not isinstance(splits, dict) or not all(isinstance(v, list) and all(isinstance(n, str) for n in v)
                                               for v in splits.values()):
        raise LatentbridgeError(f"{root / INDEX}: no 'splits' object of name lists")
    if split is not None and split not in splits:
        raise LatentbridgeError(f"{root / INDEX}: no split {split!r} (splits here: {', '.join(splits)})")
    chosen = [split] if split is not None else list(splits)
    return sorted((_rendered(root, s, name) for s in chosen for name in splits[s]), key=lambda p: p.name)


def _seconds(audio: Path) -> float:
    """Duration from the header (as far as the data goes for a truncated WAV)."""
    from pedalboard.io import AudioFile

    try:
        with AudioFile(str(audio)) as f:
            frames, rate = int(f.frames), float(f.samplerate)
    except Exception as exc:  # pedalboard raises several unrelated types for corrupt files
        raise LatentbridgeError(f"{audio}: cannot decode audio ({str(exc).splitlines()[0]})") from None
    held = frames_held(audio)
    return min(frames, held[1]) / rate if held is not None else frames / rate


def _from_pairs(folder: Path, split: str | None) -> list[PolyPhrase]:
    phrases = []
    for audio in sorted(folder.glob("*.wav")):
        midi = next((m for m in (audio.with_suffix(s) for s in MIDI_SUFFIXES) if m.is_file()), None)
        if midi is None:
            continue
        labels = read_midi(midi)
        programs = tuple(labels.programs[ch] for ch in sorted(labels.programs))
        phrases.append(PolyPhrase(audio.stem, split, audio, labels.notes, _seconds(audio), "midi", programs))
    if not phrases:
        raise LatentbridgeError(f"{folder}: no {INDEX} and no NAME.wav + NAME.mid pairs")
    return phrases


def read_poly(root: str | os.PathLike[str], split: str | None = None) -> list[PolyPhrase]:
    """The phrases of one split (all splits with None) of a `dataset poly` render, or the WAV + MIDI pairs of
    `root/split` (of `root` with None)."""
    base = Path(root)
    if not base.is_dir():
        raise LatentbridgeError(f"{base}: no such dataset directory")
    if (base / INDEX).exists():
        return _from_index(base, split)
    folder = base if split is None else base / split
    if not folder.is_dir():
        raise LatentbridgeError(f"{base}: no {INDEX} and no {split!r} folder of NAME.wav + NAME.mid pairs")
    return _from_pairs(folder, split)
