"""`latentbridge bench encode`: the command line of `export.autoencoder.bench` (ONNX Runtime only)."""

from __future__ import annotations

import argparse
from typing import Any

from export.core.bench_results import add_save_options, run_bench


def run_encode(args: argparse.Namespace) -> int:
    from export.autoencoder.bench import bench_encode

    return run_bench(args, lambda: bench_encode(args.model, args.seconds), _print_encode)


def _print_encode(rows: list[dict[str, Any]]) -> None:
    print(f"{'graph':<10}{'mode':<9}{'block':>9}{'threads':>8}{'x realtime':>12}")
    for r in rows:
        print(f"{r['graph']:<10}{r['mode']:<9}{r['block_samples']:>9}{r['threads']:>8}{r['realtime_factor']:>12.1f}")


def add_bench_parsers(kinds: argparse._SubParsersAction) -> None:
    enc = kinds.add_parser("encode", help="the autoencoder graphs on ONNX Runtime: offline and streaming",
                           epilog="Example: latentbridge bench encode --json")
    enc.add_argument("--model", default=None, help="exported autoencoder prefix (default: the bundled one)")
    enc.add_argument("--seconds", type=float, default=20.0, help="seconds of test audio (default 20)")
    enc.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_save_options(enc)
    enc.set_defaults(func=run_encode)
