"""`latentbridge dataset plot`: a PNG grid of log-mel spectrograms of a few notes of an NSynth-layout split.

Notes are read at 16 kHz mono; spectrograms are `export.core.spectrogram.log_mel` (dBFS) on one shared colour
scale (so velocities compare). Matplotlib's Agg canvas,
no pyplot state; the PNG is written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.errors import LatentbridgeError
from export.core.spectrogram import DB_RANGE, N_MELS, TICKS_HZ, band_position, log_mel
from models.data.nsynth_reader import NSynthDataset, NSynthExample

RELEASE_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR",
                        help="a `dataset notes` output, a split directory or an NSynth release")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--count", type=int, default=6, help="number of notes to plot")
    parser.add_argument("--split", default="train", help="split to read when DIR holds several")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    parser.add_argument("--json", action="store_true", help="print the plotted notes as JSON")


def pick_examples(examples: list[NSynthExample], count: int) -> list[NSynthExample]:
    """`count` notes from instruments evenly spaced over the sorted instrument list, at each one's median
    pitch and loudest velocity (deterministic)."""
    by_inst: dict[str, list[NSynthExample]] = {}
    for e in examples:
        by_inst.setdefault(e.instrument_str, []).append(e)
    names = sorted(by_inst)
    if len(names) >= count:
        chosen = [names[round(k * (len(names) - 1) / max(count - 1, 1))] for k in range(count)]
        picks = []
        for name in chosen:
            notes = by_inst[name]
            pitches = sorted({e.pitch for e in notes})
            pitch = pitches[len(pitches) // 2]
            picks.append(max((e for e in notes if e.pitch == pitch), key=lambda e: e.velocity))
        return picks
    spaced = sorted(examples, key=lambda e: e.note_str)
    return [spaced[round(k * (len(spaced) - 1) / max(count - 1, 1))] for k in range(min(count, len(spaced)))]


def run(args: argparse.Namespace) -> int:
    from matplotlib.figure import Figure

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise LatentbridgeError(f"{out}: --out must be a .png file")
    if args.count < 1:
        raise LatentbridgeError("--count must be at least 1")
    if out.exists() and not args.force:
        raise LatentbridgeError(f"{out}: already exists (use --force to overwrite)")
    root = Path(args.dir)
    dataset = NSynthDataset(root, None if (root / "examples.json").is_file() else args.split)
    if len(dataset) == 0:
        raise LatentbridgeError(f"{dataset.split_dir}: no notes to plot")
    picks = pick_examples(dataset.examples, args.count)
    index = {e.note_str: i for i, e in enumerate(dataset.examples)}
    cols = min(4, math.ceil(math.sqrt(len(picks))))
    rows = math.ceil(len(picks) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for ax, example in zip(axes.flat, picks, strict=False):
        _, audio = dataset[index[example.note_str]]
        spec = log_mel(audio)
        seconds = len(audio) / MODEL_RATE
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                          vmax=DB_RANGE[1], extent=(0.0, seconds, 0, N_MELS), interpolation="nearest")
        if seconds > RELEASE_S:
            ax.axvline(RELEASE_S, color="white", linestyle="--", linewidth=0.8)
        ax.set_title(f"{example.instrument_str}\npitch {example.pitch}, velocity {example.velocity}",
                     fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_yticks([band_position(hz) for hz in TICKS_HZ], [f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"
                                                               for hz in TICKS_HZ])
        ax.set_ylabel("frequency (Hz, mel scale)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(picks):]:
        ax.set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes, label="dBFS", shrink=0.8)
    fig.suptitle(f"{dataset.split_dir}: {len(picks)} of {len(dataset)} notes (dashed line: key release)",
                 fontsize=10)
    with atomic_output(out, force=args.force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    if args.json:
        print(json.dumps({"out": str(out), "notes": [e.note_str for e in picks]}))
    else:
        print(f"wrote {out}: {', '.join(e.note_str for e in picks)}")
    return 0
