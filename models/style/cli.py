"""`latentbridge style --content C --style S --out O --method {nsynth,stft-gram,random-cnn}`: optimisation-based
style transfer (torch; CUDA when present); `--method feedforward --model RUN` runs a trained network instead
(`style train`, models/style/ff_cli.py). Inputs of any rate or channel count are mixed to mono at 16 kHz;
the result is written at the content's rate with a JSON report beside it (and a PNG with --plots)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.core.audio_io import FORMAT_SUFFIX, check_outputs
from export.core.errors import LatentbridgeError
from models.style.ff_cli import add_train_parser
from models.style.style_phrases import add_phrase_parser


def _layer_weights(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise LatentbridgeError(f"--layer-weights must be comma-separated numbers, got {text!r}") from exc


def _run_feedforward(args: argparse.Namespace, out: Path, sidecar: Path) -> int:
    from export.core.audio_io import atomic_output
    from models.style.ff_cli import run_feedforward

    report = run_feedforward(args)
    report.update({"content": args.content, "output": str(out)})
    with atomic_output(sidecar, force=args.force) as tmp:
        tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        kept = f"STOI {report['stoi']:.3f}" if "stoi" in report else f"pitch agreement {report['pitch_agreement']}"
        went = "n/a" if report["moved"] is None else f"{report['moved']:.2f}"
        g = report["gram_distance"]
        print(f"{out}: feedforward {report['model']} in {report['seconds']:.2f} s; Gram distance {g['before']:.3g} -> "
              f"{g['after']:.3g}; moved {went} of the way to the style's mean log-mel spectrum; {kept}")
    return 0


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from export.core.audio_io import MODEL_RATE, atomic_output, fit_length, mono_at, read_audio, resample, write_audio
    from models.style.transfer import StyleSettings, style_transfer

    if args.threads:
        torch.set_num_threads(args.threads)
    needed = ("--content", "--out") if args.method == "feedforward" else ("--content", "--style", "--out")
    missing = [n for n in needed if not getattr(args, n[2:])]
    if missing:
        raise LatentbridgeError(f"style --method {args.method} needs {', '.join(missing)} "
                                "(or a sub-command: style train, style phrase)")
    out = Path(args.out)
    sidecar, plot = out.with_suffix(".json"), out.with_suffix(".png")
    inputs = [Path(args.content)] + ([Path(args.style)] if args.style else [])
    check_outputs([out, sidecar] + ([plot] if args.plots else []), inputs, args.force)
    if out.suffix.lower() != FORMAT_SUFFIX[args.format]:
        raise LatentbridgeError(f"{out}: format {args.format} needs a {FORMAT_SUFFIX[args.format]} file name")
    if args.method == "feedforward":
        return _run_feedforward(args, out, sidecar)
    for name, value in (("--iterations", args.iterations), ("--filters", args.filters)):
        if value is not None and value < 1:
            raise LatentbridgeError(f"{name} must be >= 1, got {value}")
    for name, value in (("--style-weight", args.style_weight), ("--content-weight", args.content_weight),
                        ("--lr", args.lr), ("--envelope-weight", args.envelope_weight), ("--boost-db", args.boost_db),
                        ("--cut-db", args.cut_db)):
        if value is not None and (not np.isfinite(value) or value < 0):
            raise LatentbridgeError(f"{name} must be a finite number >= 0, got {value}")
    content_audio, content_rate = read_audio(args.content)
    content = mono_at(content_audio, content_rate)
    style = mono_at(*read_audio(args.style))
    settings = StyleSettings(method=args.method, iterations=args.iterations, lr=args.lr,
                             content_weight=args.content_weight, style_weight=args.style_weight,
                             style_loss=args.style_loss, domain=args.domain,
                             layer_weights=_layer_weights(args.layer_weights),
                             envelope_weight=args.envelope_weight, boost_db=args.boost_db, cut_db=args.cut_db,
                             filters=args.filters or 4096, window_s=args.window, overlap_s=args.overlap,
                             content_kind=args.content_kind, seed=args.seed)
    result, report = style_transfer(content, style, settings)
    if not np.all(np.isfinite(result)):
        raise LatentbridgeError("the optimisation diverged (NaN or Inf in the result); lower --lr")
    peak = float(np.abs(result).max())
    at_rate = fit_length(resample(result, MODEL_RATE, content_rate), content_audio.shape[1])
    write_audio(out, at_rate[None, :], content_rate, args.format, force=args.force)
    report.update({"content": args.content, "style": args.style, "output": str(out), "sample_rate": content_rate,
                   "frames": int(at_rate.size), "peak": peak})
    if args.plots:
        from models.style.plots import plot_style

        report["plot"] = str(plot_style(plot, content, style, result, report, args.force))
    with atomic_output(sidecar, force=args.force) as tmp:
        tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        g = report["gram_distance"]
        kept = (f"STOI {report['stoi']:.3f}" if "stoi" in report else
                f"pitch agreement {report['pitch_agreement']}" if report.get("pitch_agreement") is None else
                f"pitch agreement {report['pitch_agreement']:.2f}")
        went = "n/a" if report["moved"] is None else f"{report['moved']:.2f}"
        print(f"{out}: {args.method}, {report['iterations']} iterations x {report['windows']} window(s) in "
              f"{report['seconds']:.1f} s; style loss {report['style_loss'][0]:.3g} -> {report['style_loss'][-1]:.3g}, "
              f"Gram distance {g['before']:.3g} -> {g['after']:.3g}; moved {went} of the way to the style's "
              f"mean log-mel spectrum; {kept}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "style", help="neural style transfer (nsynth encoder, STFT Gram, random CNN)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: latentbridge style --content export/bundled/demo_speech.wav "
               "--style export/bundled/demo_reed_note.wav --out speech_reed.wav --method nsynth --plots")
    parser.add_argument("--content", help="content audio (any format pedalboard reads)")
    parser.add_argument("--style", help="style audio (feedforward: to judge against; default the model's own)")
    parser.add_argument("--out", help="output audio file")
    parser.add_argument("--method", choices=("nsynth", "stft-gram", "random-cnn", "feedforward"), default="nsynth")
    parser.add_argument("--model", default=None,
                        help="feedforward: a `style train` run directory or its .style_gains.onnx")
    parser.add_argument("--iterations", type=int, default=None, help="optimiser iterations (default 100)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam learning rate (nsynth: 0.07 in log-magnitude units, 0.05 in mu-law units for "
                             "--domain waveform; stft-gram: 0.05)")
    parser.add_argument("--content-weight", type=float, default=None,
                        help="content loss weight (default 1; random-cnn 0.01)")
    parser.add_argument("--style-weight", type=float, default=None, help="style loss weight (default 1)")
    parser.add_argument("--style-loss", choices=("gram", "l2"), default="gram", help="nsynth style loss")
    parser.add_argument("--domain", choices=("magnitude", "waveform"), default="magnitude",
                        help="nsynth: optimise the log-magnitude STFT with the content's phase (default), or the "
                             "mu-law waveform as in the seed paper")
    parser.add_argument("--layer-weights", default=None,
                        help="nsynth: comma-separated weights, one per encoder ReLU (2 per layer; default equal)")
    parser.add_argument("--envelope-weight", type=float, default=None,
                        help="nsynth: weight of the spectral-envelope style term (default 0.3 in the magnitude "
                             "domain, 0 in the waveform domain)")
    parser.add_argument("--boost-db", type=float, default=None,
                        help="nsynth magnitude domain: the most a bin may rise above the content's (default 10)")
    parser.add_argument("--cut-db", type=float, default=None,
                        help="nsynth magnitude domain: the most a bin may fall below the content's (default 8)")
    parser.add_argument("--filters", type=int, default=None, help="random-cnn: random filters (default 4096)")
    parser.add_argument("--window", type=float, default=3.0, help="window length in seconds for long inputs")
    parser.add_argument("--overlap", type=float, default=0.25, help="crossfade between windows in seconds")
    parser.add_argument("--content-kind", choices=("music", "speech"), default="music",
                        help="what the report judges: CREPE pitch agreement (music) or STOI (speech)")
    parser.add_argument("--format", choices=sorted(FORMAT_SUFFIX), default="wav24",
                        help="output format (default wav24)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--plots", action="store_true", help="write OUT.png: spectrograms and loss curves")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)
    actions = parser.add_subparsers(dest="style_command", metavar="{train,phrase}")
    add_train_parser(actions)
    add_phrase_parser(actions)
