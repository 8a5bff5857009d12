"""`latentbridge dataset organs`: SoundFonts of additive drawbar and pipe organs (plus a bass), each console a
random registration, for training the multi-pitch tracker on what an organ's key means.

An organ key names its 8-foot pitch, whatever else is drawn: a 16-foot stop sounds an octave below the key and a
5 1/3-foot one a twelfth above that, so with both drawn the tone repeats at the period an octave below the key
(FluidR3's rock organ plays MIDI 60 that way). SoundFonts disagree on how loud those stops are, so a tracker
trained on a few learns both answers. These fonts draw many registrations, each labelled at the key.

Every rank is a looped single-cycle wave (`CYCLE` samples at whatever rate puts its pitch on the zone's root key)
in one zone per octave of keys, holding only the harmonics that stay under `BAND_LIMIT_HZ` at the octave's top
key: rendered at 16 kHz nothing aliases. Programs (GM, 0-based): 16 drawbar organ, 17 percussive organ (a
decaying 2nd or 3rd harmonic on every key), 18 rock organ (16-foot stop drawn more often and louder), 19 church
organ (pipe ranks with a few harmonics each, slightly detuned, slower speech) and 33 a finger bass, so `dataset
poly` can render organ chords over a bass. OUT/organs_NNN.sf2 and OUT/registrations.json (every font's ranks).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError
from export.core.pitch_units import midi_to_hz
from models.data.output_dir import check_out, staged_dir
from models.data.sf2_writer import LOOP_CONTINUOUSLY, Instrument, Preset, Sample, Zone, timecents, write_sf2

CYCLE = 1024  # samples per stored period
BAND_LIMIT_HZ = 7500.0
LOWEST_KEY, HIGHEST_KEY = 12, 119  # zones cover these keys, one octave each
MARKERS = ("registrations.json",)
# Hammond drawbars: footage -> ratio to the key's (8-foot) frequency
DRAWBARS: dict[str, float] = {"16'": 0.5, "5 1/3'": 1.5, "8'": 1.0, "4'": 2.0, "2 2/3'": 3.0, "2'": 4.0,
                              "1 3/5'": 5.0, "1 1/3'": 6.0, "1'": 8.0}
DRAWBAR_DB = 3.0  # per drawbar step (8 = 0 dB, 0 = off)
PIPE_HARMONICS = (1.0, 0.45, 0.25, 0.14, 0.08, 0.05)  # a principal pipe's first partials
BASS_HARMONICS = tuple(1.0 / n ** 1.15 for n in range(1, 33))


@dataclass(frozen=True)
class Rank:
    ratio: float  # frequency ratio to the key
    level_db: float
    cents: float = 0.0  # detuning
    harmonics: tuple[float, ...] = (1.0,)


@dataclass(frozen=True)
class Voicing:
    """One program of a console: its ranks and envelope."""
    program: int
    name: str
    ranks: tuple[Rank, ...]
    attack_s: float
    release_s: float
    vibrato_cents: int = 0
    percussion: Rank | None = None  # a decaying rank on every key (percussive organ)
    percussion_decay_s: float = 0.0
    decay_s: float = 0.0  # > 0: the ranks decay to `sustain_db` (the bass)
    sustain_db: float = 0.0


def _drawbar_levels(rng: np.random.Generator, sub_octave: tuple[float, int]) -> dict[str, int]:
    """Random drawbar settings 0..8: the 8-foot always drawn, the 16-foot with probability and floor
    `sub_octave`, the others less often the higher they sound."""
    off_chance = {"5 1/3'": 0.5, "4'": 0.3, "2 2/3'": 0.5, "2'": 0.5, "1 3/5'": 0.7, "1 1/3'": 0.7, "1'": 0.65}
    levels = {"8'": int(rng.integers(4, 9))}
    chance, floor = sub_octave
    levels["16'"] = int(rng.integers(floor, 9)) if rng.random() < chance else 0
    for bar, p in off_chance.items():
        levels[bar] = 0 if rng.random() < p else int(rng.integers(2, 9))
    return {bar: levels[bar] for bar in DRAWBARS}


def _drawbar_ranks(levels: dict[str, int]) -> tuple[Rank, ...]:
    return tuple(Rank(DRAWBARS[bar], -DRAWBAR_DB * (8 - level)) for bar, level in levels.items() if level > 0)


def console(rng: np.random.Generator) -> list[Voicing]:
    """One font's programs (see the module docstring)."""
    vibrato = int(rng.choice([0, 0, 6, 10, 16]))
    drawbar = Voicing(16, "drawbar organ", _drawbar_ranks(_drawbar_levels(rng, (0.75, 3))),
                      float(rng.uniform(0.003, 0.012)), float(rng.uniform(0.02, 0.08)), vibrato)
    percussion_ratio = float(rng.choice([2.0, 3.0]))
    percussive = Voicing(17, "percussive organ", _drawbar_ranks(_drawbar_levels(rng, (0.6, 2))),
                         float(rng.uniform(0.002, 0.008)), float(rng.uniform(0.02, 0.06)), vibrato,
                         percussion=Rank(percussion_ratio, float(rng.uniform(-3, 3))),
                         percussion_decay_s=float(rng.uniform(0.2, 1.0)))
    rock = Voicing(18, "rock organ", _drawbar_ranks(_drawbar_levels(rng, (0.9, 5))),
                   float(rng.uniform(0.003, 0.010)), float(rng.uniform(0.03, 0.10)), int(rng.choice([6, 12, 20])))
    pipes = [Rank(1.0, 0.0, float(rng.uniform(-2, 2)), PIPE_HARMONICS)]
    for ratio, chance in ((0.5, 0.5), (2.0, 0.7), (3.0, 0.3), (4.0, 0.4), (0.25, 0.1), (6.0, 0.2), (8.0, 0.2)):
        if rng.random() < chance:
            pipes.append(Rank(ratio, float(rng.uniform(-12, -2)), float(rng.uniform(-4, 4)), PIPE_HARMONICS))
    church = Voicing(19, "church organ", tuple(pipes), float(rng.uniform(0.03, 0.09)),
                     float(rng.uniform(0.1, 0.3)))
    bass = Voicing(33, "finger bass", (Rank(1.0, 0.0, 0.0, BASS_HARMONICS),), 0.004, float(rng.uniform(0.04, 0.1)),
                   decay_s=float(rng.uniform(0.8, 2.5)), sustain_db=float(rng.uniform(-18, -8)))
    return [drawbar, percussive, rock, church, bass]


def _cycle(harmonics: tuple[float, ...], top_hz: float) -> np.ndarray | None:
    """One period of the wave, holding the harmonics under BAND_LIMIT_HZ at `top_hz`; None when none is."""
    usable = [(n, a) for n, a in enumerate(harmonics, 1) if n * top_hz <= BAND_LIMIT_HZ]
    if not usable:
        return None
    phase = 2 * np.pi * np.arange(CYCLE) / CYCLE
    wave = sum(a * np.sin(n * phase) for n, a in usable)
    return (wave / np.max(np.abs(wave))).astype(np.float32)


def _db_to_centibels(db: float) -> int:
    return int(round(-10 * db))


def _rank_zones(rank: Rank, samples: list[Sample], label: str, envelope: dict[str, int]) -> list[Zone]:
    zones = []
    for root in range(LOWEST_KEY, HIGHEST_KEY + 1, 12):
        top = min(root + 11, HIGHEST_KEY)
        wave = _cycle(rank.harmonics, float(midi_to_hz(top)) * rank.ratio * 2 ** (rank.cents / 1200))
        if wave is None:
            continue
        hz = float(midi_to_hz(root)) * rank.ratio * 2 ** (rank.cents / 1200)
        samples.append(Sample(f"{label}{root}", np.tile(wave, 3), int(round(hz * CYCLE)), root, (CYCLE, 2 * CYCLE)))
        zones.append(Zone(len(samples) - 1, (root, top), {
            "initialAttenuation": _db_to_centibels(rank.level_db), "sampleModes": LOOP_CONTINUOUSLY, **envelope}))
    return zones


def _instrument(voicing: Voicing, samples: list[Sample]) -> Instrument:
    # the ranks' sum stays near full scale: louder consoles are turned down by their level sum
    total_db = 20 * np.log10(sum(10 ** (r.level_db / 20) for r in voicing.ranks))
    envelope = {"attackVolEnv": timecents(voicing.attack_s), "releaseVolEnv": timecents(voicing.release_s)}
    if voicing.vibrato_cents:
        envelope |= {"vibLfoToPitch": voicing.vibrato_cents, "freqVibLFO": int(round(1200 * np.log2(6.5 / 8.176)))}
    if voicing.decay_s:
        envelope |= {"decayVolEnv": timecents(voicing.decay_s), "sustainVolEnv": _db_to_centibels(voicing.sustain_db)}
    zones = []
    for i, rank in enumerate(voicing.ranks):
        zones += _rank_zones(Rank(rank.ratio, rank.level_db - total_db, rank.cents, rank.harmonics), samples,
                             f"p{voicing.program}r{i}k", envelope)
    if voicing.percussion is not None:
        hit = Rank(voicing.percussion.ratio, voicing.percussion.level_db - total_db)
        zones += _rank_zones(hit, samples, f"p{voicing.program}hk", {
            "attackVolEnv": timecents(0.001), "decayVolEnv": timecents(voicing.percussion_decay_s),
            "sustainVolEnv": 1000, "releaseVolEnv": timecents(0.02)})
    return Instrument(voicing.name, tuple(zones))


def write_console(path: Path, voicings: list[Voicing]) -> None:
    samples: list[Sample] = []
    instruments = [_instrument(v, samples) for v in voicings]
    presets = [Preset(v.name, v.program, i) for i, v in enumerate(voicings)]
    write_sf2(path, path.stem, samples, instruments, presets)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created; see --force)")
    parser.add_argument("--fonts", type=int, default=12, help="consoles, one .sf2 each (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every registration")
    parser.add_argument("--force", action="store_true", help="replace a previous `dataset organs` output")
    parser.add_argument("--json", action="store_true", help="print the registrations as JSON")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.fonts <= 1000:
        raise LatentbridgeError(f"--fonts {args.fonts}: expected 1 to 1000")
    out = Path(args.out)
    check_out(out, args.force, MARKERS, "dataset organs")
    started = time.monotonic()
    record = {"seed": args.seed, "band_limit_hz": BAND_LIMIT_HZ, "fonts": {}}
    with staged_dir(out) as tmp:
        for i in range(args.fonts):
            voicings = console(np.random.default_rng([args.seed, i]))
            name = f"organs_{i:03d}.sf2"
            write_console(tmp / name, voicings)
            record["fonts"][name] = [asdict(v) for v in voicings]
        (tmp / "registrations.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(record))
    else:
        print(f"{args.fonts} organ SoundFonts in {out} ({time.monotonic() - started:.1f} s); render phrases with "
              f"`latentbridge dataset poly --soundfont {out}/organs_000.sf2 ... --ratios 1,0,0`")
    return 0
