"""`latentbridge bench generate`: the command line of `models.exporting.bench` (torch imported only when run)."""

from __future__ import annotations

import argparse
from typing import Any

from export.core.bench_results import add_save_options, run_bench


def run_generate(args: argparse.Namespace) -> int:
    from models.exporting.bench import bench_generate

    return run_bench(args, lambda: bench_generate(args.naive_samples, args.loop_samples, args.native_seconds),
                     _print_generate)


def _print_generate(rows: list[dict[str, Any]]) -> None:
    print(f"{'config':<26}{'backend':<24}{'batch':>6}{'threads':>8}{'us/sample':>11}{'x realtime':>11}"
          f"{'vs native':>10}")
    for r in rows:
        print(f"{r['config']:<26}{r['backend']:<24}{r['batch']:>6}{r['threads']:>8}{r['us_per_sample']:>11.1f}"
              f"{r['realtime_factor_16k']:>11.2f}{r['ratio_to_native']:>10.1f}")


def add_bench_parsers(kinds: argparse._SubParsersAction) -> None:
    gen = kinds.add_parser("generate", help="WaveNet generation: naive, torch, ONNX Runtime, native kernel",
                           epilog="Example: latentbridge bench generate --json")
    gen.add_argument("--naive-samples", type=int, default=200, help="samples for the naive backend (default 200)")
    gen.add_argument("--loop-samples", type=int, default=2000,
                     help="samples for the torch and ONNX Runtime step loops (default 2000)")
    gen.add_argument("--native-seconds", type=float, default=1.0, help="seconds per native run (default 1)")
    gen.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_save_options(gen)
    gen.set_defaults(func=run_generate)
