"""`latentbridge bench render`: the command line of `plugin_host.render_bench` (ONNX Runtime only)."""

from __future__ import annotations

import argparse
from typing import Any

from export.core.bench_results import add_save_options, run_bench


def run_render(args: argparse.Namespace) -> int:
    from plugin_host.render_bench import bench_render

    return run_bench(args, lambda: bench_render(args.preset, args.seconds, args.stems, args.stem_seconds),
                     _print_render)


def _print_render(report: dict[str, Any]) -> None:
    s = report["scaling"]
    for block, wall in report["wall_s"].items():
        print(f"{report['preset']}: {report['stem_seconds']:.0f} s stereo 44.1 kHz in {wall:.1f} s with "
              f"{block}-sample blocks ({report['realtime_factor'][block]:.1f}x real time)")
    print(f"{s['stems']} stems x {s['stem_seconds']:.0f} s: " +
          ", ".join(f"{w} worker(s) {t:.1f} s" for w, t in s["wall_s"].items()) + f" -> {s['speedup']:.2f}x")


def add_bench_parsers(kinds: argparse._SubParsersAction) -> None:
    render = kinds.add_parser("render", help="offline rendering: a long stereo stem, and scaling over stems",
                              epilog="Example: latentbridge bench render --json")
    render.add_argument("--preset", default="morph-reed", help="preset (default morph-reed)")
    render.add_argument("--seconds", type=float, default=180.0, help="length of the stereo stem (default 180)")
    render.add_argument("--stems", type=int, default=8, help="stems for the scaling run (default 8)")
    render.add_argument("--stem-seconds", type=float, default=10.0, help="length of each (default 10)")
    render.add_argument("--json", action="store_true", help="print the report as JSON")
    add_save_options(render)
    render.set_defaults(func=run_render)
