"""`latentbridge bench style`: the command line of `models.style.bench`."""

from __future__ import annotations

import argparse
from typing import Any

from export.core.bench_results import add_save_options, run_bench


def run_style(args: argparse.Namespace) -> int:
    from models.style.bench import bench_style

    return run_bench(args, lambda: bench_style(args.random_cnn_iterations), _print_style)


def _print_style(rows: list[dict[str, Any]]) -> None:
    print(f"{'method':<11}{'iters':>6}{'command s':>10}{'optimise s':>11}{'style fall':>11}"
          f"{'Gram before':>12}{'after':>8}{'moved':>7}{'STOI':>7}")
    for r in rows:
        print(f"{r['model'] or r['method']:<11}{r['iterations']:>6}{r['command_s']:>10.1f}{r['optimise_s']:>11.1f}"
              f"{r['style_loss_fall']:>11.0%}{r['gram_before']:>12.3f}{r['gram_after']:>8.3f}{r['moved']:>7.2f}"
              f"{r['stoi']:>7.3f}")
        if "extrapolated_100_iterations_s" in r:
            print(f"  random-cnn: 100 iterations would take about {r['extrapolated_100_iterations_s']:.0f} s here")


def add_bench_parsers(kinds: argparse._SubParsersAction) -> None:
    style = kinds.add_parser("style", help="each style method as a whole command on 3 s of bundled speech",
                             epilog="Example: latentbridge bench style --json")
    style.add_argument("--random-cnn-iterations", type=int, default=5,
                       help="iterations timed for random-cnn (default 5; 100 is extrapolated)")
    style.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_save_options(style)
    style.set_defaults(func=run_style)
