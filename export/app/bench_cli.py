"""`latentbridge bench`: the command group; each package registers its own benchmarks (see `export.app.cli`)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    parser = subparsers.add_parser("bench", help="speed benchmarks (ratios measured side by side)",
                                   description="Speed benchmarks; every number of a run is measured in that run.")
    return parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
