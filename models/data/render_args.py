"""The command-line arguments the SoundFont dataset renders share (`dataset notes`, `dataset poly`).

In one order around the command's own: --out, --soundfont, (the command's), --limit, --seed, --ratios, --gain-db
(dB, default note_synth.DEFAULT_GAIN_DB), --workers, --force, --json; each command words its own help where the
meaning differs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from models.data.note_synth import DEFAULT_GAIN_DB


def add_render_arguments(parser: argparse.ArgumentParser, own: Callable[[argparse.ArgumentParser], None], *,
                         limit: str, seed: str, ratios: str, gain_db: str, force: str) -> None:
    """Add the shared arguments to `parser`, `own` adding the command's after --soundfont; the keywords are the
    help texts of --limit, --seed, --ratios, --gain-db and --force."""
    parser.add_argument("--out", required=True, help="output directory (created; see --force)")
    parser.add_argument("--soundfont", action="append", metavar="PATH",
                        help="a General MIDI .sf2 (repeatable); default: FluidR3_GM and TimGM6mb")
    own(parser)
    parser.add_argument("--limit", type=int, help=limit)
    parser.add_argument("--seed", type=int, default=0, help=seed)
    parser.add_argument("--ratios", default="80,10,10", metavar="TRAIN,VALID,TEST", help=ratios)
    parser.add_argument("--gain-db", type=float, default=DEFAULT_GAIN_DB, help=gain_db)
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    parser.add_argument("--force", action="store_true", help=force)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
