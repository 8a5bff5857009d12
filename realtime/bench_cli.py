"""`latentbridge bench {stream,stalls}`: the command lines of `realtime.stream_bench` and `realtime.stall_bench`."""

from __future__ import annotations

import argparse
from typing import Any

from export.core.bench_results import add_save_options, run_bench


def run_stream(args: argparse.Namespace) -> int:
    from realtime.stream_bench import bench_stream

    return run_bench(args, lambda: bench_stream(args.preset or None, args.seconds, args.samplerate, args.blocksize,
                                                args.prefill, args.serial_analysis), _print_stream)


def _print_stream(rows: list[dict[str, Any]]) -> None:
    print(f"{'preset':<14}{'analysis':>9}{'latency ms':>11}{'worker mean':>12}{'p99':>7}{'max':>7}{'late':>6}"
          f"{'RSS +MB':>9}")
    for r in rows:
        w = r["worker_fraction"]
        print(f"{r['preset']:<14}{r['analysis']:>9}{r['added_latency_ms']:>11.1f}{w['mean']:>12.2f}{w['p99']:>7.2f}{w['max']:>7.2f}"
              f"{r['late_blocks']:>6}{r['rss_growth_mb']:>9.1f}")


def run_stalls(args: argparse.Namespace) -> int:
    from realtime.stall_bench import measure_stalls

    return run_bench(args, lambda: measure_stalls(args.seconds), _print_stalls)


def _print_stalls(report: dict[str, Any]) -> None:
    from realtime.stall_bench import BUCKETS_MS

    if not report["realtime"]:
        print("the probe could not run under SCHED_FIFO here: what it saw includes ordinary scheduling delays")
    print(f"{'cpu':<5}" + "".join(f"{'> ' + format(b, 'g') + ' ms':>11}" for b in BUCKETS_MS)
          + f"{'max ms':>9}{'total ms':>10}")
    for row in report["cpus"]:
        print(f"{row['cpu']:<5}" + "".join(f"{n:>11}" for n in row["over_ms"].values())
              + f"{row['max_ms']:>9.1f}{row['total_ms']:>10.1f}")
    print(f"{report['seconds']:g} s, {report['wakeups']} wake-ups; > 5.3 ms is an xrun at 48 kHz / 256, "
          "> 21.3 ms a late block at the default write-ahead")


def add_bench_parsers(kinds: argparse._SubParsersAction) -> None:
    stream = kinds.add_parser("stream", help="each preset in the live engine on a simulated device clock",
                              description="Every bundled preset (or each --preset) in the live engine on a simulated "
                                          "device clock: added latency, worker time per block, late blocks, RSS "
                                          "growth. morph-tagged runs too: its tagger analyses on its own thread, "
                                          "beside the worker (not counted in the worker's time).",
                              epilog="Example: latentbridge bench stream --json")
    stream.add_argument("--preset", action="append", default=[], help="preset(s) to run (default: every bundled one)")
    stream.add_argument("--seconds", type=float, default=20.0, help="seconds per preset (default 20)")
    stream.add_argument("--samplerate", type=int, default=48000, help="device rate (default 48000)")
    stream.add_argument("--blocksize", type=int, default=256, help="device block (default 256)")
    stream.add_argument("--prefill", type=int, default=4, help="blocks of write-ahead (default 4)")
    stream.add_argument("--serial-analysis", action="store_true",
                        help="run each preset with poly voices again with their analysis on the worker thread, "
                             "side by side (row `analysis`: thread / worker)")
    stream.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_save_options(stream)
    stream.set_defaults(func=run_stream)
    stalls = kinds.add_parser("stalls", help="how long the kernel or hypervisor holds each CPU (is it fit for live?)",
                              epilog="Example: latentbridge bench stalls --seconds 30")
    stalls.add_argument("--seconds", type=float, default=10.0, help="seconds to watch (default 10)")
    stalls.add_argument("--json", action="store_true", help="print the report as JSON")
    add_save_options(stalls)
    stalls.set_defaults(func=run_stalls)
