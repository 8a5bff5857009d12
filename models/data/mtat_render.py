"""`latentbridge dataset clips`: tagged multi-instrument music clips in the MagnaTagATune layout.

OUT/annotations_final.csv (MTAT's format: tab-separated, every field double-quoted, "clip_id", one 0/1 column
per tag, "mp3_path"), OUT/<hex>/clip_NNNNN.wav (16 kHz mono 16-bit; named in the mp3_path column, relative to
OUT), OUT/midi/<clip_id>.mid (the MIDI that was rendered), OUT/render_log.jsonl (one record per clip: what was
rendered, measured and tagged; see clip_tags) and OUT/splits.json. Clip i goes to hex folder (7 * i) mod 16,
so every 16 consecutive clips fill each folder once; folders 0-b are train, c valid, d-f test, as is common
for MTAT. Clip i is generated from the seed sequence (--seed, i) alone: any --workers gives the same bytes.
The whole tree is written into a temporary directory beside OUT and renamed into place once complete.
With --extend, the clips of a previous render of OUT are kept (hard-linked into the new tree, or copied) and
only clips beyond them are rendered: the result is byte-identical to rendering all --clips at once. The previous
render must have used the same seed, duration, SoundFonts and vocals; its last clip is rendered again and
compared to check. The previous records are tagged again with today's rules (`clip_tags.tags_for` reads only
the record), so `--extend` with the same --clips re-annotates a render after a change of the tag vocabulary.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.data import clip_tags
from models.data.clip_compose import (
    ELECTRONIC_KITS,
    SAMPLE_RATE,
    ClipSynth,
    Part,
    compose,
    midi_events,
    write_midi,
)
from models.data.clip_effects import Effect, apply_chain, choose_mix_effects, choose_part_effects
from models.data.clip_vocals import choose_vocal, mix_in, render_vocal
from models.data.gm_programs import GM_PROGRAMS
from models.data.output_dir import check_out, staged_dir
from models.data.soundfonts import resolve_soundfonts
from models.data.workers import unordered_results

SPLIT_FOLDERS = {"train": "0123456789ab", "valid": "c", "test": "def"}
SPLITS = tuple(SPLIT_FOLDERS)
VOCAL_PROBABILITY = 0.3
TARGET_RMS_DBFS = (-30.0, -12.0)  # the final level is drawn from this range, then peak-limited
PEAK_CEILING = 0.98
MARKERS = ("annotations_final.csv", "render_log.jsonl")  # a previous render; --force replaces only those
CHUNK = 4  # clips per worker task


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created; see --force)")
    parser.add_argument("--clips", type=int, default=200, help="number of clips (default 200)")
    parser.add_argument("--duration", type=float, default=30.0, help="clip length in seconds (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed; the same seed gives the same dataset")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    parser.add_argument("--soundfont", action="append", metavar="PATH",
                        help="a General MIDI .sf2 (repeatable; each clip draws one); "
                             "default: FluidR3_GM and TimGM6mb")
    parser.add_argument("--no-vocals", action="store_true", help="never mix in espeak-ng vocals")
    parser.add_argument("--force", action="store_true", help="replace a previous `dataset clips` output")
    parser.add_argument("--extend", action="store_true",
                        help="keep the clips of a previous render of OUT (same seed, duration, SoundFonts, vocals) "
                        "and render only the clips beyond them")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def folder_of(index: int) -> str:
    return f"{(7 * index) % 16:x}"


def split_of_folder(folder: str) -> str:
    return next(split for split, folders in SPLIT_FOLDERS.items() if folder in folders)


@dataclass(frozen=True)
class ClipJob:
    seed: int
    seconds: float
    soundfonts: tuple[str, ...]
    vocals: bool
    root: str


@functools.lru_cache(maxsize=8)
def _synth(soundfont: str) -> ClipSynth:
    """One loaded SoundFont per process (workers inherit the parent's when forked)."""
    return ClipSynth(soundfont)


def render_clip(job: ClipJob, index: int) -> dict:
    """Compose, write the MIDI, render, mix, measure, tag and write clip `index`; its render record."""
    rng = np.random.default_rng([job.seed, index])
    root, clip_id = Path(job.root), str(index)
    font = job.soundfonts[int(rng.integers(len(job.soundfonts)))]
    synth = _synth(font)
    song = compose(rng, job.seconds, synth.programs, synth.kits)
    midi_path = root / "midi" / f"{clip_id}.mid"
    write_midi(song, midi_path)
    events = midi_events(midi_path)
    length = int(round(job.seconds * SAMPLE_RATE))
    stems = synth.render_stems(events, length)
    melodic = [p for p in song.parts if p.role != "drums"]
    part_fx = {p.channel: choose_part_effects(rng, song.bpm) for p in melodic}
    mix = np.sum([apply_chain(stem, part_fx.get(ch, ())) for ch, stem in stems.items()], axis=0)
    wants_vocal, plan = rng.random() < VOCAL_PROBABILITY, choose_vocal(rng)  # drawn even with --no-vocals
    vocal = None
    if job.vocals and wants_vocal:
        track, vocal = render_vocal(plan, melodic[0], song.tempo / 1e6, length)
        mix = mix_in(mix, track, plan.level_db)
    mix_fx = choose_mix_effects(rng, song.bpm)
    mix = apply_chain(mix.astype(np.float32), mix_fx)
    target = round(float(rng.uniform(*TARGET_RMS_DBFS)), 2)
    mix = mix * 10 ** ((target - clip_tags.rms_dbfs(mix)) / 20)
    peak = float(np.max(np.abs(mix)))
    if peak > PEAK_CEILING:
        mix = mix * (PEAK_CEILING / peak)
    mix = mix.astype(np.float32)
    rel_path = f"{folder_of(index)}/clip_{index:05d}.wav"
    write_audio(root / rel_path, mix, SAMPLE_RATE, fmt="wav16")

    drums = next((p for p in song.parts if p.role == "drums"), None)
    record = {
        "clip_id": clip_id, "mp3_path": rel_path, "split": split_of_folder(folder_of(index)),
        "seed": job.seed, "index": index, "soundfont": Path(font).name, "soundfont_path": font,
        "duration_s": job.seconds, "tempo": song.tempo, "bpm": clip_tags.bpm_of_tempo(song.tempo),
        "key": song.key_name, "mode": song.mode, "meter": f"{song.beats_per_bar}/4",
        "progression": list(song.progression),
        "parts": [_part_record(p, part_fx[p.channel]) for p in melodic],
        "drums": None if drums is None else _drums_record(drums),
        "vocal": vocal, "mix_effects": [e.to_dict() for e in mix_fx],
        "level": {"target_rms_dbfs": target, "peak_limited": peak > PEAK_CEILING},
        "measured": {"rms_dbfs": round(clip_tags.rms_dbfs(mix), 2),
                     "peak": round(float(np.max(np.abs(mix))), 4),
                     "centroid_hz": round(clip_tags.spectral_centroid(mix), 1)},
    }
    record["tags"] = list(clip_tags.tags_for(record))
    return record


def _part_record(part: Part, effects: tuple[Effect, ...]) -> dict:
    gm = GM_PROGRAMS[part.program]
    return {"role": part.role, "channel": part.channel, "program": part.program, "gm_name": gm.name,
            "family": gm.family, "source": gm.source, "volume": part.volume, "pattern": part.pattern,
            "notes": len(part.notes), "median_pitch": float(np.median([n.pitch for n in part.notes])),
            "effects": [e.to_dict() for e in effects]}


def _drums_record(part: Part) -> dict:
    return {"channel": part.channel, "kit": part.program, "volume": part.volume, "pattern": part.pattern,
            "notes": len(part.notes),
            "kit_source": "electronic" if part.program in ELECTRONIC_KITS else "acoustic"}


def _render_chunk(args: tuple[ClipJob, list[int]]) -> list[dict]:
    job, indices = args
    return [render_clip(job, i) for i in indices]


def _render_all(job: ClipJob, clips: int, workers: int, start: int = 0) -> list[dict]:
    """Records of clips start..clips-1, rendered into job.root."""
    tasks = [(job, list(range(i, min(i + CHUNK, clips)))) for i in range(start, clips, CHUNK)]
    records: dict[int, dict] = {}
    with bar("rendering clips", total=clips - start, unit="clip") as progress:
        for chunk in unordered_results(_render_chunk, tasks, workers):
            records.update((r["index"], r) for r in chunk)
            progress.update(len(chunk))
    return [records[i] for i in range(start, clips)]


def previous_records(out: Path, job: ClipJob, clips: int) -> list[dict]:
    """The render records of OUT for --extend, checked against `job` (see the module docstring)."""
    log_path = out / "render_log.jsonl"
    if not all((out / m).is_file() for m in MARKERS):
        raise LatentbridgeError(f"{out}: not a previous `dataset clips` output; nothing to extend")
    records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if [r["index"] for r in records] != list(range(len(records))) or not records:
        raise LatentbridgeError(f"{log_path}: clip indices are not 0..N-1; cannot extend")
    records = [{**r, "tags": list(clip_tags.tags_for(r))} for r in records]
    if clips < len(records):
        raise LatentbridgeError(f"{out} holds {len(records)} clips; --extend needs --clips >= {len(records)}")
    last = records[-1]
    with tempfile.TemporaryDirectory(prefix=".extend-check-", dir=out.parent) as tmp:
        root = Path(tmp)
        for folder in ("midi", folder_of(last["index"])):
            (root / folder).mkdir()
        again = render_clip(ClipJob(job.seed, job.seconds, job.soundfonts, job.vocals, str(root)), last["index"])
        same_audio = (root / again["mp3_path"]).read_bytes() == (out / last["mp3_path"]).read_bytes()
    if json.loads(json.dumps(again)) != last or not same_audio:
        raise LatentbridgeError(f"{out}: clip {last['index']} rendered again with these settings differs from the "
                                "stored one (another --seed, --duration, --soundfont or --no-vocals?); "
                                "cannot extend")
    return records


def _link_previous(out: Path, tmp: Path, records: list[dict]) -> None:
    """Hard-link (or copy) the previous clips' audio and MIDI into the new tree."""
    for r in records:
        for rel in (r["mp3_path"], f"midi/{r['clip_id']}.mid"):
            try:
                os.link(out / rel, tmp / rel)
            except OSError:
                shutil.copy2(out / rel, tmp / rel)


def annotation_lines(records: list[dict]) -> list[str]:
    """annotations_final.csv lines: MTAT's tab-separated, double-quoted fields."""
    def line(fields: list[str]) -> str:
        return "\t".join(f'"{f}"' for f in fields)

    rows = [line(["clip_id", *clip_tags.TAGS, "mp3_path"])]
    for r in records:
        on = set(r["tags"])
        rows.append(line([r["clip_id"], *("1" if t in on else "0" for t in clip_tags.TAGS), r["mp3_path"]]))
    return rows


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out = Path(args.out)
    if args.clips < 1:
        raise LatentbridgeError("--clips must be at least 1")
    if not 2.0 <= args.duration <= 600.0:
        raise LatentbridgeError(f"--duration {args.duration:g}: expected 2 to 600 seconds")
    if args.workers < 1:
        raise LatentbridgeError("--workers must be at least 1")
    soundfonts = tuple(str(p) for p in resolve_soundfonts(args.soundfont))
    for font in soundfonts:
        _synth(font)  # load (and check) every SoundFont once, before forking
    previous: list[dict] = []
    if args.extend and out.is_dir() and any(out.iterdir()):
        previous = previous_records(out, ClipJob(args.seed, float(args.duration), soundfonts, not args.no_vocals,
                                                 ""), args.clips)
    else:
        check_out(out, args.force, MARKERS, "dataset clips")
    with staged_dir(out) as tmp:
        (tmp / "midi").mkdir()
        for folder in "0123456789abcdef":
            (tmp / folder).mkdir()
        job = ClipJob(args.seed, float(args.duration), soundfonts, not args.no_vocals, str(tmp))
        _link_previous(out, tmp, previous)
        records = previous + _render_all(job, args.clips, args.workers, start=len(previous))
        (tmp / "annotations_final.csv").write_text("".join(f"{line}\n" for line in annotation_lines(records)),
                                                   encoding="utf-8")
        (tmp / "render_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records),
                                              encoding="utf-8")
        rule = ", ".join(f"{folders} -> {split}" for split, folders in SPLIT_FOLDERS.items())
        splits = {"rule": f"hex folder of mp3_path: {rule}",
                  **{s: [r["clip_id"] for r in records if r["split"] == s] for s in SPLITS}}
        (tmp / "splits.json").write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    summary = _summary(out, records, args, soundfonts, time.monotonic() - started)
    summary["rendered"] = len(records) - len(previous)
    print(json.dumps(summary, indent=1) if args.json else _table(summary))
    return 0


def _summary(out: Path, records: list[dict], args: argparse.Namespace, soundfonts: tuple[str, ...],
             seconds: float) -> dict:
    tags = {t: dict.fromkeys(SPLITS, 0) for t in clip_tags.TAGS}
    for r in records:
        for t in r["tags"]:
            tags[t][r["split"]] += 1
    return {"out": str(out), "clips": len(records), "duration_s": args.duration, "seed": args.seed,
            "splits": {s: sum(r["split"] == s for r in records) for s in SPLITS}, "tags": tags,
            "soundfonts": list(soundfonts), "vocals": not args.no_vocals, "workers": args.workers,
            "thresholds": {"fast_bpm": clip_tags.FAST_BPM, "slow_bpm": clip_tags.SLOW_BPM,
                           "bright_hz": clip_tags.BRIGHT_HZ, "dark_hz": clip_tags.DARK_HZ,
                           "loud_dbfs": clip_tags.LOUD_DBFS, "quiet_dbfs": clip_tags.QUIET_DBFS,
                           "high_pitch": clip_tags.HIGH_PITCH, "low_pitch": clip_tags.LOW_PITCH},
            "seconds": round(seconds, 2)}


def _table(summary: dict) -> str:
    audio_s = summary["rendered"] * summary["duration_s"]
    kept = summary["clips"] - summary["rendered"]
    lines = [f"{summary['clips']} clips of {summary['duration_s']:g} s written to {summary['out']} in "
             f"{summary['seconds']:.1f} s ({audio_s / max(summary['seconds'], 1e-9):.0f}x real time)"
             + (f", {kept} of them kept from the previous render" if kept else ""),
             f"{'':<16}" + "".join(f"{s:>8}" for s in (*SPLITS, "total"))]

    def row(name: str, counts: dict[str, int]) -> str:
        return f"{name:<16}" + "".join(f"{counts[s]:>8}" for s in SPLITS) + f"{sum(counts.values()):>8}"

    lines.append(row("clips", summary["splits"]))
    lines += [row(f"  {tag}", counts) for tag, counts in summary["tags"].items()]
    return "\n".join(lines)
