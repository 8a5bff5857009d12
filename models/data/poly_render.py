"""`latentbridge dataset poly`: polyphonic phrases (strums, block chords, arpeggios, bass plus chords, single lines)
rendered from General MIDI SoundFonts, with exact note labels.

OUT/<split>/<name>.wav (16 kHz mono 16-bit), <name>.mid (what was rendered, see poly_midi) and <name>.json (labels:
onset/offset in seconds, pitch, velocity, program, channel, pitch bend), OUT/phrases.json (index) and
OUT/summary.json. Splits are by instrument (SoundFont x program) exactly as `dataset notes`; phrase i is drawn from
(--seed, i) alone, so --limit N gives the first N phrases of the full render, byte for byte, for any --workers.

Labels are exact only where an instrument sounds at its keys. `--skip-instruments` names a `dataset tuning` report
(default: OFF_KEY_REPORT, the Debian fonts' seven instruments that do not): a phrase drawn onto one of its off-key
instruments is left out, its name unused, so every other phrase is byte for byte what a render without the report
writes. The summary counts what was left out, and names the fonts the report never checked.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.data import poly_stats
from models.data.gm_programs import GM_PROGRAMS
from models.data.instrument_splits import SPLITS, Instrument, all_instruments, assign_splits, parse_ratios
from models.data.key_tuning import read_report
from models.data.note_synth import SAMPLE_RATE
from models.data.output_dir import check_out, staged_dir
from models.data.poly_compose import STYLES, Voice, compose
from models.data.poly_midi import labels, timed_messages, write_midi
from models.data.poly_synth import PolySynth
from models.data.render_args import add_render_arguments
from models.data.soundfonts import resolve_soundfonts
from models.data.workers import unordered_results

OFF_KEY_REPORT = Path(__file__).with_name("off_key_instruments.json")
DEFAULT_PHRASES = 45000  # measured: ~320 audio-s/s on one core, so about 10 minutes
DEFAULT_SECONDS = 4.0
CHUNK = 16  # phrases per worker task
MARKERS = ("phrases.json", "summary.json")  # what a previous render left; --force replaces only those


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_render_arguments(parser, _add_phrase_arguments, limit="render only the first N phrases (quick runs)",
                         seed="seed for the instrument split and every phrase",
                         ratios="instrument split ratios (as `dataset notes`); phrases follow the same ratios",
                         gain_db="fixed synth gain, dB; lowered only for a phrase that would clip",
                         force="replace a previous `dataset poly` output")


def _add_phrase_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phrases", type=int, default=DEFAULT_PHRASES,
                        help=f"number of phrases (default {DEFAULT_PHRASES}, about 10 minutes on one core)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"phrase length including a 0.5 s release tail (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--skip-instruments", default=str(OFF_KEY_REPORT), metavar="TUNING_JSON",
                        help="a `dataset tuning` report: phrases of instruments it marks off their keys are left "
                             "out ('none': keep them; default: the Debian fonts' report shipped with latentbridge)")


@dataclass(frozen=True)
class PhraseJob:
    index: int
    name: str
    split: str
    style: str
    soundfont: str  # path
    instruments: tuple[tuple[str, int, str], ...]  # (instrument name, program, family), channel = position
    seconds: float
    seed: int
    gain_db: float
    root: str


@functools.lru_cache(maxsize=8)
def _synth(soundfont: str, gain_db: float) -> PolySynth:
    """One loaded synth per SoundFont and process."""
    return PolySynth(soundfont, gain_db)


def render_phrase(job: PhraseJob) -> dict:
    """Compose, write the MIDI, render it, write the WAV and the labels; the phrase's summary record."""
    voices = tuple(Voice(ch, program, family, GM_PROGRAMS[program].lo, GM_PROGRAMS[program].hi)
                   for ch, (_, program, family) in enumerate(job.instruments))
    phrase = compose(np.random.default_rng([job.seed, job.index, 1]), job.style, voices, job.seconds)
    base = Path(job.root) / job.split / job.name
    write_midi(phrase, base.with_suffix(".mid"), job.name)
    events, _ = timed_messages(base.with_suffix(".mid"))
    audio, gain_db = _synth(job.soundfont, job.gain_db).render(events, phrase.length)
    write_audio(base.with_suffix(".wav"), audio, SAMPLE_RATE, fmt="wav16")
    notes = [n.to_json() for n in labels(phrase)]
    record = {
        "name": job.name, "split": job.split, "seconds": phrase.length / SAMPLE_RATE, "sample_rate": SAMPLE_RATE,
        "soundfont": Path(job.soundfont).name, "style": job.style,
        "instruments": [{"program": p, "family": f, "channel": ch, "instrument": i}
                        for ch, (i, p, f) in enumerate(job.instruments)],
        "gain_db": gain_db, "notes": notes,
    }
    body = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in record.items() if k != "notes")
    body += ',\n"notes": [\n' + ",\n".join(json.dumps(n) for n in notes) + "\n]"
    base.with_suffix(".json").write_text("{\n" + body + "\n}\n", encoding="utf-8")
    return {**record, "notes": len(notes), "polyphony": poly_stats.polyphony(notes, phrase.length / SAMPLE_RATE),
            "scaled": gain_db != job.gain_db}


def _render_chunk(jobs: tuple[PhraseJob, ...]) -> list[dict]:
    return [render_phrase(job) for job in jobs]


def phrase_splits(count: int, ratios: tuple[float, float, float], open_splits: set[str]) -> list[str]:
    """The split of phrases 0..count-1: each split once first, then the one furthest below its share
    (a prefix never depends on count)."""
    share = dict(zip(SPLITS, ratios, strict=True))
    active = [s for s in SPLITS if s in open_splits and share[s] > 0]
    counts = dict.fromkeys(active, 0)
    order = []
    for _ in range(count):
        needy = [s for s in active if counts[s] == 0]
        pick = needy[0] if needy else min(active, key=lambda s: counts[s] / share[s])
        counts[pick] += 1
        order.append(pick)
    return order


Pool = dict[str, dict[str, list[list[Instrument]]]]  # split -> style -> [instruments per voice], one SoundFont


def _pools(instruments: list[Instrument], split_of: dict[int, str], soundfonts: list[Path]) -> dict[str, Pool]:
    """For each split and style, the SoundFonts whose instruments of that split can play every voice."""
    pools: dict[str, Pool] = {s: {} for s in SPLITS}
    for split in SPLITS:
        for style, (roles, _) in STYLES.items():
            for font in soundfonts:
                cast = [[i for i in instruments if i.soundfont == font and split_of[i.id] == split
                         and i.family in families] for families in roles]
                if all(cast):
                    pools[split].setdefault(style, {})[str(font)] = cast
    return pools


@dataclass(frozen=True)
class OffKey:
    """What `--skip-instruments` read: the (SoundFont file name, program) pairs off their keys, the fonts checked."""
    report: str | None
    instruments: frozenset[tuple[str, int]]
    checked: frozenset[str]

    @staticmethod
    def read(value: str) -> OffKey:
        if value == "none":
            return OffKey(None, frozenset(), frozenset())
        report = read_report(Path(value))
        return OffKey(value, report.off_key, report.checked)

    def summary(self, left_out: dict[str, list[str]], soundfonts: list[Path]) -> dict:
        return {"report": self.report,
                "phrases": {s: len(left_out.get(s, [])) for s in SPLITS},
                "instruments": sorted({n for names in left_out.values() for n in names}),
                "soundfonts_not_checked": sorted(p.name for p in soundfonts if p.name not in self.checked)}


def _jobs(count: int, pools: dict[str, Pool], args: argparse.Namespace, ratios: tuple[float, float, float],
          root: Path, off_key: OffKey) -> tuple[list[PhraseJob], dict[str, list[str]]]:
    """The phrases to render, and per split the instruments of every phrase left out for `off_key`."""
    jobs, left_out = [], {}
    for index, split in enumerate(phrase_splits(count, ratios, {s for s in SPLITS if pools[s]})):
        rng = np.random.default_rng([args.seed, index, 0])
        styles = sorted(pools[split])
        weights = np.array([STYLES[s][1] for s in styles])
        style = styles[int(rng.choice(len(styles), p=weights / weights.sum()))]
        fonts = sorted(pools[split][style])
        font = fonts[int(rng.integers(len(fonts)))]
        cast = [role[int(rng.integers(len(role)))] for role in pools[split][style][font]]
        off = [f"{Path(font).name} {i.gm.program} ({i.name})" for i in cast
               if (Path(font).name, i.gm.program) in off_key.instruments]
        if off:
            left_out.setdefault(split, []).extend(off)
            continue
        jobs.append(PhraseJob(index, f"phrase_{index:05d}", split, style, font,
                              tuple((i.name, i.gm.program, i.family) for i in cast), args.seconds, args.seed,
                              args.gain_db, str(root)))
    return jobs, left_out


def _check_args(args: argparse.Namespace) -> None:
    if args.phrases < 1:
        raise LatentbridgeError("--phrases must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise LatentbridgeError("--limit must be at least 1")
    if args.workers < 1:
        raise LatentbridgeError("--workers must be at least 1")
    if not 1.0 <= args.seconds <= 60.0:
        raise LatentbridgeError(f"--seconds {args.seconds:g}: expected 1 to 60")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out = Path(args.out)
    _check_args(args)
    ratios = parse_ratios(args.ratios)
    soundfonts = resolve_soundfonts(args.soundfont)
    off_key = OffKey.read(args.skip_instruments)
    check_out(out, args.force, MARKERS, "dataset poly")
    instruments = [i for i in all_instruments(soundfonts)
                   if _synth(str(i.soundfont), args.gain_db).has_program(i.gm.program)]
    split_of = assign_splits(instruments, args.seed, ratios)
    pools = _pools(instruments, split_of, soundfonts)
    if not any(pools.values()):
        raise LatentbridgeError("no instrument to render (check the SoundFonts' bank-0 presets)")
    count = args.phrases if args.limit is None else min(args.phrases, args.limit)

    with staged_dir(out) as tmp:
        for split in SPLITS:
            (tmp / split).mkdir()
        jobs, left_out = _jobs(count, pools, args, ratios, tmp, off_key)
        if not jobs:
            raise LatentbridgeError("every phrase drawn plays an instrument off its key (see --skip-instruments)")
        chunks = [tuple(jobs[i: i + CHUNK]) for i in range(0, len(jobs), CHUNK)]
        records: list[dict] = []
        render_started = time.monotonic()
        with bar("rendering phrases", total=len(jobs), unit="phrase") as progress:
            for chunk in unordered_results(_render_chunk, chunks, args.workers):
                records += chunk
                progress.update(len(chunk))
        render_seconds = time.monotonic() - render_started
        records.sort(key=lambda r: r["name"])
        index = {"sample_rate": SAMPLE_RATE, "seed": args.seed,
                 "splits": {s: [r["name"] for r in records if r["split"] == s] for s in SPLITS},
                 "phrases": {r["name"]: {"split": r["split"], "style": r["style"], "soundfont": r["soundfont"],
                                         "programs": [i["program"] for i in r["instruments"]],
                                         "notes": r["notes"], "seconds": r["seconds"]} for r in records}}
        poly_stats.write_json(tmp / "phrases.json", index)
        summary = poly_stats.summary(records, instruments, split_of, render_seconds, out, args, soundfonts)
        summary["left_out_off_key"] = off_key.summary(left_out, soundfonts)
        poly_stats.write_json(tmp / "summary.json", summary)
    summary["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary, indent=1) if args.json else poly_stats.table(summary))
    return 0

