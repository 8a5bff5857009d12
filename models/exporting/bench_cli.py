"""`latentbridge bench {generate,encode,stream,stalls,render,style}`: the command lines of `models.exporting.bench`
and `models.style.bench` (torch imported only when run), `export.autoencoder_bench`, `realtime.stream_bench`,
`realtime.stall_bench` and `plugin_host.render_bench` (ONNX Runtime only)."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from models.exporting.bench import bench_generate

    rows = bench_generate(args.naive_samples, args.loop_samples, args.native_seconds)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'config':<26}{'backend':<18}{'batch':>6}{'threads':>8}{'us/sample':>11}{'x realtime':>11}"
              f"{'vs native':>10}")
        for r in rows:
            print(f"{r['config']:<26}{r['backend']:<18}{r['batch']:>6}{r['threads']:>8}{r['us_per_sample']:>11.1f}"
                  f"{r['realtime_factor_16k']:>11.2f}{r['ratio_to_native']:>10.1f}")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    from export.autoencoder_bench import bench_encode

    rows = bench_encode(args.model, args.seconds)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'graph':<10}{'mode':<9}{'block':>9}{'threads':>8}{'x realtime':>12}")
        for r in rows:
            print(f"{r['graph']:<10}{r['mode']:<9}{r['block_samples']:>9}{r['threads']:>8}{r['realtime_factor']:>12.1f}")
    return 0


def run_stream(args: argparse.Namespace) -> int:
    from realtime.stream_bench import bench_stream

    rows = bench_stream(args.preset or None, args.seconds, args.samplerate, args.blocksize, args.prefill)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'preset':<14}{'latency ms':>11}{'worker mean':>12}{'p99':>7}{'max':>7}{'late':>6}{'RSS +MB':>9}")
        for r in rows:
            w = r["worker_fraction"]
            print(f"{r['preset']:<14}{r['added_latency_ms']:>11.1f}{w['mean']:>12.2f}{w['p99']:>7.2f}{w['max']:>7.2f}"
                  f"{r['late_blocks']:>6}{r['rss_growth_mb']:>9.1f}")
    return 0


def run_stalls(args: argparse.Namespace) -> int:
    from realtime.stall_bench import BUCKETS_MS, measure_stalls

    report = measure_stalls(args.seconds)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    if not report["realtime"]:
        print("the probe could not run under SCHED_FIFO here: what it saw includes ordinary scheduling delays")
    print(f"{'cpu':<5}" + "".join(f"{'> ' + format(b, 'g') + ' ms':>11}" for b in BUCKETS_MS)
          + f"{'max ms':>9}{'total ms':>10}")
    for row in report["cpus"]:
        print(f"{row['cpu']:<5}" + "".join(f"{n:>11}" for n in row["over_ms"].values())
              + f"{row['max_ms']:>9.1f}{row['total_ms']:>10.1f}")
    print(f"{report['seconds']:g} s, {report['wakeups']} wake-ups; > 5.3 ms is an xrun at 48 kHz / 256, "
          "> 21.3 ms a late block at the default write-ahead")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from plugin_host.render_bench import bench_render

    report = bench_render(args.preset, args.seconds, args.stems, args.stem_seconds)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        s = report["scaling"]
        for block, wall in report["wall_s"].items():
            print(f"{report['preset']}: {report['stem_seconds']:.0f} s stereo 44.1 kHz in {wall:.1f} s with "
                  f"{block}-sample blocks ({report['realtime_factor'][block]:.1f}x real time)")
        print(f"{s['stems']} stems x {s['stem_seconds']:.0f} s: " +
              ", ".join(f"{w} worker(s) {t:.1f} s" for w, t in s["wall_s"].items()) + f" -> {s['speedup']:.2f}x")
    return 0


def run_style(args: argparse.Namespace) -> int:
    from models.style.bench import bench_style

    rows = bench_style(args.random_cnn_iterations)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'method':<11}{'iters':>6}{'command s':>10}{'optimise s':>11}{'style fall':>11}"
              f"{'Gram before':>12}{'after':>8}{'STOI':>7}")
        for r in rows:
            print(f"{r['method']:<11}{r['iterations']:>6}{r['command_s']:>10.1f}{r['optimise_s']:>11.1f}"
                  f"{r['style_loss_fall']:>11.0%}{r['gram_before']:>12.3f}{r['gram_after']:>8.3f}{r['stoi']:>7.3f}")
            if "extrapolated_100_iterations_s" in r:
                print(f"  random-cnn: 100 iterations would take about {r['extrapolated_100_iterations_s']:.0f} s here")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="speed benchmarks (ratios measured side by side)",
                                   description="Speed benchmarks; every number of a run is measured in that run.")
    kinds = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    gen = kinds.add_parser("generate", help="WaveNet generation: naive, torch, ONNX Runtime, native kernel",
                           epilog="Example: latentbridge bench generate --json")
    gen.add_argument("--naive-samples", type=int, default=200, help="samples for the naive backend (default 200)")
    gen.add_argument("--loop-samples", type=int, default=2000,
                     help="samples for the torch and ONNX Runtime step loops (default 2000)")
    gen.add_argument("--native-seconds", type=float, default=1.0, help="seconds per native run (default 1)")
    gen.add_argument("--json", action="store_true", help="print the rows as JSON")
    gen.set_defaults(func=run)
    enc = kinds.add_parser("encode", help="the autoencoder graphs on ONNX Runtime: offline and streaming",
                           epilog="Example: latentbridge bench encode --json")
    enc.add_argument("--model", default=None, help="exported autoencoder prefix (default: the bundled one)")
    enc.add_argument("--seconds", type=float, default=20.0, help="seconds of test audio (default 20)")
    enc.add_argument("--json", action="store_true", help="print the rows as JSON")
    enc.set_defaults(func=run_encode)
    stream = kinds.add_parser("stream", help="each preset in the live engine on a simulated device clock",
                              epilog="Example: latentbridge bench stream --json")
    stream.add_argument("--preset", action="append", default=[], help="preset(s) to run (default: all bundled)")
    stream.add_argument("--seconds", type=float, default=20.0, help="seconds per preset (default 20)")
    stream.add_argument("--samplerate", type=int, default=48000, help="device rate (default 48000)")
    stream.add_argument("--blocksize", type=int, default=256, help="device block (default 256)")
    stream.add_argument("--prefill", type=int, default=4, help="blocks of write-ahead (default 4)")
    stream.add_argument("--json", action="store_true", help="print the rows as JSON")
    stream.set_defaults(func=run_stream)
    stalls = kinds.add_parser("stalls", help="how long the kernel or hypervisor holds each CPU (is it fit for live?)",
                              epilog="Example: latentbridge bench stalls --seconds 30")
    stalls.add_argument("--seconds", type=float, default=10.0, help="seconds to watch (default 10)")
    stalls.add_argument("--json", action="store_true", help="print the report as JSON")
    stalls.set_defaults(func=run_stalls)
    render = kinds.add_parser("render", help="offline rendering: a long stereo stem, and scaling over stems",
                              epilog="Example: latentbridge bench render --json")
    render.add_argument("--preset", default="morph-reed", help="preset (default morph-reed)")
    render.add_argument("--seconds", type=float, default=180.0, help="length of the stereo stem (default 180)")
    render.add_argument("--stems", type=int, default=8, help="stems for the scaling run (default 8)")
    render.add_argument("--stem-seconds", type=float, default=10.0, help="length of each (default 10)")
    render.add_argument("--json", action="store_true", help="print the report as JSON")
    render.set_defaults(func=run_render)
    style = kinds.add_parser("style", help="each style method as a whole command on 3 s of bundled speech",
                             epilog="Example: latentbridge bench style --json")
    style.add_argument("--random-cnn-iterations", type=int, default=5,
                       help="iterations timed for random-cnn (default 5; 100 is extrapolated)")
    style.add_argument("--json", action="store_true", help="print the rows as JSON")
    style.set_defaults(func=run_style)
