"""`latentbridge train {autoencoder}`: train models from rendered datasets (torch imported only when run).

Outputs go to --out (checkpoint.pt, config.json, log.csv, cache/); --resume continues a run bit-identically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.errors import LatentbridgeError

EXAMPLE = ("latentbridge train autoencoder --data data/notes --config ae_small --out runs/ae_default "
           "--steps 20000 --threads 1\n"
           "  (continue later: the same command with --resume; several processes: "
           "torchrun --nproc_per_node 2 -m export.cli train autoencoder ...)")


def _pitch_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LO:HI MIDI pitches, got {text!r}") from exc
    if not 0 <= lo <= hi <= 127:
        raise argparse.ArgumentTypeError(f"pitch range {text!r} must satisfy 0 <= LO <= HI <= 127")
    return lo, hi


def _velocities(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated velocities, got {text!r}") from exc
    return values


def add_autoencoder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="NSynth-layout dataset root (e.g. data/notes)")
    parser.add_argument("--split", default="train", help="split to train on (default: train)")
    parser.add_argument("--config", default="ae_small", help="named config (default: ae_small; "
                        "also nsynth_small, nsynth_h512_bo16)")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--steps", type=int, default=1000, help="total steps (default: 1000)")
    parser.add_argument("--batch", type=int, default=8, help="crops per step and process (default: 8)")
    parser.add_argument("--crop-seconds", type=float, default=1.0,
                        help="crop length, rounded to the latent hop (default: 1.0)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--force", action="store_true", help="restart even if OUT holds a checkpoint")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data order (default: 0)")
    parser.add_argument("--ckpt-every-min", type=float, default=3.0,
                        help="minutes between checkpoints (default: 3)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this long")
    parser.add_argument("--cache", type=Path, default=None,
                        help="notes + controls cache (default: OUT/cache)")
    parser.add_argument("--per-instrument", type=int, default=18,
                        help="notes per instrument in the training subset (default: 18)")
    parser.add_argument("--pitches", type=_pitch_range, default=(28, 91),
                        help="MIDI pitch range LO:HI (default: 28:91, inside the pitch tracker's 40-1600 Hz)")
    parser.add_argument("--velocities", type=_velocities, default=(50, 75, 100, 127),
                        help="velocities to draw from (default: 50,75,100,127)")
    parser.add_argument("--note-seconds", type=float, default=3.0,
                        help="seconds kept from each note's onset (default: 3.0, attack + held part)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_autoencoder(args: argparse.Namespace) -> int:
    from models.training.note_batches import NoteSubset
    from models.training.train_autoencoder import TrainOptions, train

    if args.threads < 1 or args.per_instrument < 1:
        raise LatentbridgeError("--threads and --per-instrument must be >= 1")
    subset = NoteSubset(split=args.split, per_instrument=args.per_instrument, pitches=args.pitches,
                        velocities=args.velocities, seconds=args.note_seconds, seed=0)
    opts = TrainOptions(data=args.data, out=args.out, config=args.config, steps=args.steps, batch=args.batch,
                        crop_seconds=args.crop_seconds, resume=args.resume, force=args.force,
                        threads=args.threads, seed=args.seed, ckpt_every_min=args.ckpt_every_min, lr=args.lr,
                        max_minutes=args.max_minutes, cache=args.cache, subset=subset)
    summary = train(opts)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"trained {summary['steps']} steps (from {summary['start_step']}), loss {summary['loss']:.4f}, "
              f"{summary['audio_seconds_per_s']:.1f} audio-s/s -> {summary['checkpoint']}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train models", description="Train models.")
    kinds = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    sub = kinds.add_parser("autoencoder", help="the pitch/loudness-controlled harmonic autoencoder",
                           description="Train the NSynth-style autoencoder with explicit pitch and loudness "
                                       "controls and a harmonic-plus-noise decoder.",
                           epilog=f"Example: {EXAMPLE}", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_autoencoder_arguments(sub)
    sub.set_defaults(func=run_autoencoder)
