"""`latentbridge dataset notes`: NSynth-style notes rendered from General MIDI SoundFonts, official layout.

OUT/{train,valid,test}/examples.json (keyed by note_str, official NSynth fields) and
OUT/<split>/audio/<note_str>.wav (16 kHz mono 16-bit, 64000 samples: key held 3 s, released to 4 s),
plus OUT/instruments.json (instrument_str -> SoundFont, program, GM name, split) and OUT/summary.json.
Everything is written into a temporary directory beside OUT, renamed into place once complete.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.data import note_qualities as nq
from models.data.gm_programs import FAMILIES, MIDI_HI, MIDI_LO, QUALITIES, SOURCES
from models.data.instrument_splits import (
    SPLITS,
    Instrument,
    Note,
    all_instruments,
    assign_splits,
    parse_ratios,
    split_quotas,
    spread_order,
)
from models.data.note_synth import SAMPLE_RATE, NoteSynth
from models.data.output_dir import check_out, staged_dir
from models.data.render_args import add_render_arguments
from models.data.soundfonts import resolve_soundfonts
from models.data.workers import unordered_results

VELOCITIES: tuple[int, ...] = (25, 50, 75, 100, 127)
CHUNK = 64  # notes per worker task
MARKERS = ("instruments.json", "summary.json")  # what a previous render left; --force replaces only those


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_render_arguments(parser, _add_note_arguments,
                         limit="total notes, spread over instruments and all three splits",
                         seed="seed for the split and the --limit choice", ratios="instrument split ratios",
                         gain_db="fixed synth gain for every note, dB", force="replace an existing non-empty --out")


def _add_note_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--families", help=f"comma list of NSynth families ({','.join(FAMILIES)}); "
                        "default all")
    parser.add_argument("--pitches", default=f"{MIDI_LO}:{MIDI_HI}", metavar="LO:HI",
                        help="MIDI pitch range, intersected with each instrument's playable range")
    parser.add_argument("--velocities", default=",".join(map(str, VELOCITIES)),
                        help="comma list of MIDI velocities")


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LatentbridgeError(f"{what} {text!r}: expected a comma list of integers") from None


def _pitch_range(text: str) -> tuple[int, int]:
    parts = text.split(":")
    lo_hi = _ints(",".join(parts), "--pitches") if len(parts) == 2 else []
    if len(lo_hi) != 2 or not 0 <= lo_hi[0] <= lo_hi[1] <= 127:
        raise LatentbridgeError(f"--pitches {text!r}: expected LO:HI with 0 <= LO <= HI <= 127, e.g. 48:72")
    return lo_hi[0], lo_hi[1]


def _families(text: str | None) -> list[str]:
    if text is None:
        return list(FAMILIES)
    names = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in names if f not in FAMILIES]
    if unknown or not names:
        raise LatentbridgeError(f"--families: unknown {', '.join(unknown) or '(empty)'}; "
                                f"choose from {', '.join(FAMILIES)}")
    return names


@functools.lru_cache(maxsize=8)
def _synth(soundfont: str, gain_db: float) -> NoteSynth:
    """One loaded synth per SoundFont and process (workers inherit the parent's when forked)."""
    return NoteSynth(soundfont, gain_db)


# soundfont, gain dB, output root, [(program, pitch, velocity, path relative to root)]
Task = tuple[str, float, str, list[tuple[int, int, int, str]]]
Outcome = tuple[str | None, tuple[int, ...]]  # drop reason or None, measured qualities


def _render_chunk(task: Task) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """Worker: render, check, measure and write notes of one SoundFont; (relative path, drop, qualities)."""
    soundfont, gain_db, root, notes = task
    synth = _synth(soundfont, gain_db)
    results = []
    for program, pitch, velocity, rel_path in notes:
        audio = synth.render(program, pitch, velocity)
        reason = nq.drop_reason(audio)
        qualities: tuple[int, ...] = ()
        if reason is None:
            qualities = nq.measure_qualities(audio, pitch)
            write_audio(Path(root) / rel_path, audio, SAMPLE_RATE, fmt="wav16")
        results.append((rel_path, reason, qualities))
    return results


def _tasks(notes: Sequence[Note], split_of: dict[int, str], gain_db: float, root: Path) -> list[Task]:
    by_font: dict[Path, list[Note]] = {}
    for note in notes:
        by_font.setdefault(note.inst.soundfont, []).append(note)
    tasks = []
    for font, group in by_font.items():
        rows = [(n.inst.gm.program, n.pitch, n.velocity, f"{split_of[n.inst.id]}/audio/{n.note_str}.wav")
                for n in group]
        tasks += [(str(font), gain_db, str(root), rows[i:i + CHUNK]) for i in range(0, len(rows), CHUNK)]
    return tasks


def _render(notes: Sequence[Note], split_of: dict[int, str], gain_db: float, root: Path,
            workers: int) -> dict[str, Outcome]:
    """Render every note into root; note_str -> (drop reason or None, qualities)."""
    tasks = _tasks(notes, split_of, gain_db, root)
    results: dict[str, Outcome] = {}
    with bar("rendering notes", total=len(notes), unit="note") as progress:
        for chunk in unordered_results(_render_chunk, tasks, workers):
            for rel_path, reason, qualities in chunk:
                results[Path(rel_path).stem] = (reason, qualities)
            progress.update(len(chunk))
    return results


def _example(note: Note, qualities: tuple[int, ...]) -> dict:
    """One examples.json entry, official field names and order."""
    inst = note.inst
    return {
        "note": note.note_id, "note_str": note.note_str, "instrument": inst.id, "instrument_str": inst.name,
        "pitch": note.pitch, "velocity": note.velocity, "sample_rate": SAMPLE_RATE,
        "qualities": list(qualities), "qualities_str": nq.quality_names(qualities),
        "instrument_family": inst.gm.family_index, "instrument_family_str": inst.family,
        "instrument_source": inst.gm.source_index, "instrument_source_str": inst.source,
    }


def _write_json(path: Path, data: dict) -> None:
    """Atomic JSON write, one top-level entry per line (compact yet diff-friendly)."""
    body = ",\n".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in data.items())
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    os.replace(tmp, path)


def _provenance(inst: Instrument, split: str) -> dict:
    return {"instrument": inst.id, "soundfont": inst.soundfont.name, "soundfont_path": str(inst.soundfont),
            "bank": 0, "program": inst.gm.program, "gm_name": inst.gm.name, "family": inst.family,
            "source": inst.source, "lo": inst.gm.lo, "hi": inst.gm.hi, "split": split}


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out = Path(args.out)
    families = _families(args.families)
    p_lo, p_hi = _pitch_range(args.pitches)
    velocities = sorted(set(_ints(args.velocities, "--velocities")))
    if not velocities or not all(1 <= v <= 127 for v in velocities):
        raise LatentbridgeError(f"--velocities {args.velocities!r}: expected integers in 1..127")
    ratios = parse_ratios(args.ratios)
    if args.limit is not None and args.limit < 1:
        raise LatentbridgeError("--limit must be at least 1")
    if args.workers < 1:
        raise LatentbridgeError("--workers must be at least 1")
    soundfonts = resolve_soundfonts(args.soundfont)
    check_out(out, args.force, MARKERS, "dataset notes")

    instruments, skipped = [], []
    for inst in all_instruments(soundfonts):
        if inst.family not in families:
            continue
        if _synth(str(inst.soundfont), args.gain_db).preset_name(inst.gm.program) is None:
            skipped.append({"instrument_str": inst.name, "soundfont": inst.soundfont.name,
                            "program": inst.gm.program, "reason": "no bank-0 preset"})
        else:
            instruments.append(inst)
    if not instruments:
        raise LatentbridgeError("no instrument to render (check --families and the SoundFonts' presets)")
    split_of = assign_splits(instruments, args.seed, ratios)
    candidates: dict[str, dict[int, list[Note]]] = {s: {} for s in SPLITS}
    for inst in instruments:
        notes = [Note(inst, p, v) for p in range(max(inst.gm.lo, p_lo), min(inst.gm.hi, p_hi) + 1)
                 for v in velocities]
        if notes:
            candidates[split_of[inst.id]][inst.id] = notes
    ordered = {s: spread_order(candidates[s], args.seed, s) for s in SPLITS}
    if not any(ordered.values()):
        raise LatentbridgeError(f"no playable note in --pitches {p_lo}:{p_hi} for the chosen instruments")
    available = {s: len(ordered[s]) for s in SPLITS}
    quota = available if args.limit is None else split_quotas(args.limit, available, ratios)

    with staged_dir(out) as tmp:
        for split in SPLITS:
            (tmp / split / "audio").mkdir(parents=True)
        kept: dict[str, list[tuple[Note, tuple[int, ...]]]] = {s: [] for s in SPLITS}
        dropped: Counter[str] = Counter()
        cursor = dict.fromkeys(SPLITS, 0)
        while True:  # under --limit, replace dropped notes by the next ones of the same deterministic order
            batch = []
            for s in SPLITS:
                take = ordered[s][cursor[s]: cursor[s] + quota[s] - len(kept[s])]
                cursor[s] += len(take)
                batch += take
            if not batch:
                break
            results = _render(batch, split_of, args.gain_db, tmp, args.workers)
            for note in batch:
                reason, qualities = results[note.note_str]
                if reason is None:
                    kept[split_of[note.inst.id]].append((note, qualities))
                else:
                    dropped[reason] += 1
        for split in SPLITS:
            entries = sorted(kept[split], key=lambda item: item[0].note_str)
            _write_json(tmp / split / "examples.json", {n.note_str: _example(n, q) for n, q in entries})
        _write_json(tmp / "instruments.json", {i.name: _provenance(i, split_of[i.id]) for i in instruments})
        summary = _summary(out, kept, dropped, skipped, split_of, instruments, soundfonts, args)
        summary["rendered"] = sum(cursor.values())
        _write_json(tmp / "summary.json", summary)
    summary["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary, indent=1) if args.json else _table(summary))
    return 0


def _summary(out: Path, kept: dict[str, list[tuple[Note, tuple[int, ...]]]], dropped: Counter[str],
             skipped: list[dict], split_of: dict[int, str], instruments: list[Instrument],
             soundfonts: list[Path], args: argparse.Namespace) -> dict:
    def per(key: str, names: tuple[str, ...]) -> dict[str, dict[str, int]]:
        table = {name: dict.fromkeys(SPLITS, 0) for name in names}
        for split in SPLITS:
            for note, _ in kept[split]:
                table[getattr(note.inst, key)][split] += 1
        return {name: counts for name, counts in table.items() if any(counts.values())}

    flags = Counter(QUALITIES[i] for s in SPLITS for _, q in kept[s] for i, f in enumerate(q) if f)
    return {
        "out": str(out), "notes": sum(len(kept[s]) for s in SPLITS),
        "splits": {s: len(kept[s]) for s in SPLITS},
        "instruments": {s: sum(1 for i in instruments if split_of[i.id] == s) for s in SPLITS},
        "families": per("family", FAMILIES), "sources": per("source", SOURCES),
        "qualities": {q: flags.get(q, 0) for q in QUALITIES},
        "dropped": {"silent": dropped.get("silent", 0), "clipped": dropped.get("clipped", 0)},
        "skipped_instruments": skipped,
        "soundfonts": [str(p) for p in soundfonts], "seed": args.seed, "limit": args.limit,
        "velocities": args.velocities, "pitches": args.pitches, "ratios": args.ratios,
        "gain_db": args.gain_db,
        "thresholds": {"silent_peak_dbfs": nq.SILENT_PEAK_DBFS, "silent_rms_dbfs": nq.SILENT_RMS_DBFS,
                       "clip_peak": nq.CLIP_PEAK},
    }


def _table(summary: dict) -> str:
    th, dropped, skipped = summary["thresholds"], summary["dropped"], summary["skipped_instruments"]
    rate = summary["rendered"] / max(summary["seconds"], 1e-9)
    lines = [f"{summary['notes']} notes written to {summary['out']} in {summary['seconds']:.1f} s "
             f"({summary['rendered']} rendered, {rate:.0f} notes/s)",
             f"{'':<22}" + "".join(f"{s:>8}" for s in (*SPLITS, "total"))]

    def row(name: str, counts: dict[str, int]) -> str:
        return f"{name:<22}" + "".join(f"{counts[s]:>8}" for s in SPLITS) + f"{sum(counts.values()):>8}"

    lines.append(row("instruments", summary["instruments"]))
    lines.append("notes by family")
    lines += [row(f"  {name}", counts) for name, counts in summary["families"].items()]
    lines.append("notes by source")
    lines += [row(f"  {name}", counts) for name, counts in summary["sources"].items()]
    lines.append(row("notes", summary["splits"]))
    lines.append(f"dropped: {dropped['silent']} near-silent (peak < {th['silent_peak_dbfs']:g} dBFS or "
                 f"RMS < {th['silent_rms_dbfs']:g} dBFS), {dropped['clipped']} clipped "
                 f"(peak > {th['clip_peak']:g} at gain {summary['gain_db']:g} dB)")
    lines.append(f"skipped instruments: {len(skipped)}")
    lines += [f"  {s['instrument_str']} ({s['soundfont']} program {s['program']}: {s['reason']})"
              for s in skipped]
    lines.append("qualities: " + ", ".join(f"{q} {n}" for q, n in summary["qualities"].items() if n))
    return "\n".join(lines)
