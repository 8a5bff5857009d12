"""`latentbridge bench generate` and `bench tracker`: the command lines of `models.exporting.bench` and
`models.exporting.tracker_bench` (torch imported only when run)."""

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
    _add_tracker_parser(kinds)


def run_tracker(args: argparse.Namespace) -> int:
    from models.exporting.tracker_bench import WIDTHS, bench_tracker

    widths = tuple(args.width or WIDTHS)
    return run_bench(args, lambda: bench_tracker(widths, args.train_steps, args.frames), _print_tracker)


def _print_tracker(rows: list[dict[str, Any]]) -> None:
    print(f"{'config':<28}{'params':>9}{'train audio-s/s':>17}{'ms/frame':>10}{'of frame':>10}")
    for r in rows:
        params = "" if r["parameters"] is None else f"{r['parameters']:,}"
        train = "" if r["train_audio_s_per_s"] is None else f"{r['train_audio_s_per_s']:.2f}"
        print(f"{r['config']:<28}{params:>9}{train:>17}{r['stream_ms_per_frame']:>10.3f}"
              f"{r['stream_share_of_frame']:>10.3f}")


def _add_tracker_parser(kinds: argparse._SubParsersAction) -> None:
    tracker = kinds.add_parser("tracker", help="multi-pitch tracker widths: training speed and streamed cost",
                               epilog="Example: latentbridge bench tracker --json")
    tracker.add_argument("--width", type=_width, action="append", default=None,
                         help="a channel width of poly_onset to measure; repeat for more (default 16, 24, 32)")
    tracker.add_argument("--train-steps", type=_positive, default=5, help="timed training steps (default 5)")
    tracker.add_argument("--frames", type=_positive, default=1000, help="streamed frames per graph (default 1000)")
    tracker.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_save_options(tracker)
    tracker.set_defaults(func=run_tracker)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _width(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 128:
        raise argparse.ArgumentTypeError(f"a width from 1 to 128, got {value}")
    return value
