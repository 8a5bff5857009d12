"""`latentbridge dream IN --out OUT --tag T --mode MODE`: DreamSound-style activation maximisation on the bundled
tagger (torch gradients), or the smallest change that flips a tag; OUT keeps IN's rate, channels and length.

The tagger hears IN's mono mix at 16 kHz; the change found there is resampled to IN's rate and added to every
channel of IN. The tag's probability is reported before and after every step (on the 16 kHz mix; fooling
judges every step on the file it will write, resampling round trip included) and measured again on OUT.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from export.core.audio_io import check_outputs
from export.core.errors import LatentbridgeError

FORMATS = {".wav": "wav24", ".flac": "flac"}
MODE_HELP = {
    "deepdream": "add the normalised gradient (DreamSound's deep-dream function)",
    "filter": "add the gradient kept only in its strongest STFT bins (hard cut at --threshold)",
    "filter-add": "add the input's own content in those bins, on the gradient's phase",
    "target": "pull --layer's activation statistics toward those of --target FILE (filtered gradient)",
    "fool": "find the smallest change that moves --tag across 0.5; report its SNR",
}
EXAMPLE = """Example: latentbridge dream guitar.wav --out dreamed.wav --tag flute --mode filter --steps 50
More examples:
  latentbridge dream guitar.wav --out deep.wav --mode deepdream --layer block2 --steps 30
  latentbridge dream guitar.wav --out hybrid.wav --mode target --target reed.wav --tag reed
  latentbridge dream guitar.wav --out fooled.wav --mode fool --tag acoustic --json"""


def _paths(args: argparse.Namespace) -> tuple[Path, Path, Path | None]:
    """IN, OUT and the plot path, checked before any work (never over IN or an existing file without --force)."""
    source, out = Path(args.input), Path(args.out)
    plot = Path(args.plot) if args.plot else None
    if out.suffix.lower() not in FORMATS:
        raise LatentbridgeError(f"{out}: write a .wav (24-bit) or .flac file")
    if plot is not None and plot.suffix.lower() != ".png":
        raise LatentbridgeError(f"{plot}: --plot writes a .png file")
    inputs = [source] + ([Path(args.target)] if args.target else [])
    check_outputs([out] + ([plot] if plot is not None else []), inputs, args.force)
    return source, out, plot


def _check_flags(args: argparse.Namespace) -> None:
    if args.target and args.mode != "target":
        raise LatentbridgeError("--target is only for --mode target")
    if args.mode == "target" and not args.target:
        raise LatentbridgeError("--mode target needs --target FILE")
    if args.mode == "fool" and (args.layer or args.target):
        raise LatentbridgeError("--mode fool works on --tag alone (no --layer or --target)")
    if args.mode in ("deepdream", "filter", "filter-add", "fool") and not args.tag and not args.layer:
        raise LatentbridgeError(f"--mode {args.mode} needs --tag T" + ("" if args.mode == "fool" else " or --layer L"))
    if args.every < 1:
        raise LatentbridgeError(f"--every must be >= 1, got {args.every}")
    if args.threads < 1:
        raise LatentbridgeError(f"--threads must be >= 1, got {args.threads}")


def _top(names: tuple[str, ...], probabilities: Any, count: int = 5) -> dict[str, float]:
    order = probabilities.argsort()[::-1][:count]
    return {names[i]: round(float(probabilities[i]), 4) for i in order}


def _objective(args: argparse.Namespace, probe: Any, tag: int | None) -> Any:
    """The objective the mode climbs: the target's layer statistics, a layer's energy, or the tag's logit."""
    from export.core.audio_io import mono_at, read_audio
    from models.dream.domain import check_length
    from models.dream.objectives import Objective, layer_names, parse_layer

    layer = parse_layer(args.layer, probe.model) if args.layer else None
    if args.mode == "target":
        layer = layer or parse_layer(layer_names(probe.model)[-1], probe.model)
        target_audio, target_rate = read_audio(args.target)
        check_length(target_audio, target_rate, str(args.target))
        return Objective("target", layer=layer,
                         target_moments=probe.layer_moments(mono_at(target_audio, target_rate), layer))
    if layer is not None and args.mode != "fool":
        return Objective("layer", layer=layer)
    return Objective("odds" if args.mode == "fool" else "tag", tag=tag)


def _search(args: argparse.Namespace, probe: Any, clip: Any, objective: Any, tag: int | None) -> tuple[Any, list]:
    """Run the dream (or the fooling search) with a progress bar; (change at 16 kHz, step records)."""
    from export.core.progress import bar
    from models.dream.ascent import DreamConfig, StepRecord, dream
    from models.dream.fooling import FoolConfig, fool

    settings = DreamConfig(args.mode, args.steps, args.step, args.threshold) if args.mode != "fool" else None
    fooling = FoolConfig(steps=args.steps, margin=args.margin) if args.mode == "fool" else None
    with bar(f"dream {args.mode}", total=args.steps, unit="step") as progress:
        def on_step(record: StepRecord) -> None:
            progress.update(1 if record.step > 0 else 0)
            if tag is not None:
                progress.set_postfix(p=f"{record.probabilities[tag]:.3f}", refresh=False)

        if fooling is not None:
            assert tag is not None
            fooled = fool(probe, clip.model, tag, fooling, on_step, clip.heard)
            if not fooled.flipped and len(fooled.records) == 1:
                raise LatentbridgeError(f"cannot move {args.tag!r}: the tagger's gradient is zero on this input "
                                        "(digital silence?)")
            if not fooled.flipped:
                raise LatentbridgeError(f"could not move {args.tag!r} across 0.5 in {args.steps} steps "
                                        f"(p {fooled.records[0].probabilities[tag]:.3f} -> "
                                        f"{fooled.records[-1].probabilities[tag]:.3f}); try more --steps")
            return fooled.change, fooled.records
        assert settings is not None  # steps judged on the 16 kHz mix (3x faster than on the file's round trip)
        result = dream(probe, clip.model, objective, settings, on_step)
        return result.change, result.records


def _per_step(records: list, tag: int | None) -> list[dict[str, Any]]:
    """One entry per step: the tag's probability before and after it, the objective after it, and the rest."""
    rows = []
    for before, after in zip(records[:-1], records[1:], strict=True):
        row: dict[str, Any] = {"step": after.step, "objective": round(after.value, 5)}
        if tag is not None:
            row.update(before=round(float(before.probabilities[tag]), 5),
                       after=round(float(after.probabilities[tag]), 5))
        if after.distance is not None:
            row["distance"] = round(after.distance, 5)
        if after.kept is not None:
            row["kept_bins"] = round(after.kept, 5)
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from export.core.audio_io import read_audio, read_mono, write_audio
    from export.onnx.bundled import default_model
    from models.dream.domain import FileAudio, check_length
    from models.dream.fooling import snr_db
    from models.dream.objectives import TaggerProbe, tag_index

    _check_flags(args)
    source, out, plot = _paths(args)
    torch.set_num_threads(args.threads)
    audio, rate = read_audio(source)
    check_length(audio, rate, str(source))
    model_path = Path(args.model) if args.model else default_model("tagger").path
    probe = TaggerProbe.open(model_path)
    names = probe.model.cfg.tag_names
    tag = tag_index(probe.model, args.tag) if args.tag else None
    objective = _objective(args, probe, tag)
    clip = FileAudio(audio, rate)
    started = time.perf_counter()
    change, records = _search(args, probe, clip, objective, tag)
    result = clip.output(change)
    write_audio(out, result, rate, FORMATS[out.suffix.lower()], force=args.force)
    seconds = time.perf_counter() - started

    written, _ = read_audio(out)  # judge what was written: resampled, quantised, clipped
    heard = read_mono(out)
    final = probe.probabilities(heard)
    distance = probe.evaluate(heard, objective, gradient=False).distance if objective.kind == "target" else None
    peak = float(np.abs(result).max())
    snr = snr_db(audio, written - audio)

    def rounded(value: float | None, digits: int = 5) -> float | None:
        return None if value is None or not np.isfinite(value) else round(float(value), digits)

    report: dict[str, Any] = {
        "input": str(source), "output": str(out), "model": str(model_path), "mode": args.mode, "tag": args.tag,
        "layer": str(objective.layer) if objective.layer is not None else None, "target": args.target,
        "steps": args.steps, "step_size": args.step, "threshold": args.threshold, "sample_rate": rate,
        "channels": int(audio.shape[0]), "frames": int(audio.shape[1]),
        "probability_before": rounded(records[0].probabilities[tag]) if tag is not None else None,
        "probability_after": rounded(final[tag]) if tag is not None else None,
        "distance_before": rounded(records[0].distance), "distance_after": rounded(distance),
        "snr_db": rounded(snr, 2), "changed": bool(np.any(change)),
        "peak_dbfs": round(20 * np.log10(max(peak, 1e-9)), 2), "clipped": peak > 1.0,
        "top_tags_before": _top(names, records[0].probabilities),
        "top_tags_after": _top(names, final), "seconds": round(seconds, 3),
        "per_step": _per_step(records, tag)}
    if args.mode == "fool":
        up = records[0].probabilities[tag] < 0.5
        report.update(flipped=bool((final[tag] > 0.5) == up), direction="up" if up else "down", margin=args.margin,
                      deepfool_steps=len(records) - 2)
        report["per_step"][-1]["bisected"] = True  # the last row: the shortest fraction of the change that flips
    if plot is not None:
        from models.dream.plot import plot_dream

        plot_dream(plot, clip.model, heard[: clip.model.shape[0]], [r.step for r in records],
                   [float(r.probabilities[tag]) for r in records] if tag is not None else None,
                   [r.distance for r in records] if objective.kind == "target" else None,
                   f"{source.name}: {args.mode}" + (f" on {args.tag}" if args.tag else "")
                   + (f", layer {report['layer']}" if report["layer"] else ""), args.force)
        report["plot"] = str(plot)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print_report(report, args.every)
    return 0


def _print_report(report: dict[str, Any], every: int) -> None:
    """Every `every`-th step (and the last) as a table, then one summary line."""
    rows, tag = report["per_step"], report["tag"]
    print(f"{'step':>5}  {'p(' + tag + ')' if tag else '':>14}  {'objective':>10}")
    if tag:
        print(f"{0:>5}  {report['probability_before']:>14.3f}")
    for row in rows:
        if row["step"] % every == 0 or row is rows[-1]:
            p = f"{row['before']:.3f} -> {row['after']:.3f}" if tag else ""
            label = "final" if row.get("bisected") else row["step"]
            print(f"{label:>5}  {p:>14}  {row['objective']:>10.4f}")
    what = f"p({tag}) {report['probability_before']:.3f} -> {report['probability_after']:.3f} on the output" \
        if tag else f"layer {report['layer']}"
    if report["distance_after"] is not None:
        what += f", distance to target {report['distance_before']:.3f} -> {report['distance_after']:.3f}"
    if report["mode"] == "fool":
        what += f" ({'flipped' if report['flipped'] else 'NOT flipped'} {report['direction']})"
    size = f"change at SNR {report['snr_db']:.1f} dB" if report["changed"] else "no change (zero gradient: silence?)"
    print(f"wrote {report['output']} ({report['sample_rate']} Hz, {report['channels']} ch, "
          f"{report['frames'] / report['sample_rate']:.2f} s): {report['mode']}, {what}; {size}, peak "
          f"{report['peak_dbfs']:.1f} dBFS{' (clipped)' if report['clipped'] else ''}; {report['seconds']:.1f} s")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dream", help="activation maximisation on the tagger (deep dream, hard-cut filters, target, fooling)",
        description=__doc__ + "\nModes:\n" + "\n".join(f"  {k:<11} {v}" for k, v in MODE_HELP.items()),
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="audio file to dream on (any rate, any channel count; never modified)")
    parser.add_argument("--out", required=True, help="output .wav (24-bit) or .flac, at IN's rate and channels")
    parser.add_argument("--mode", choices=tuple(MODE_HELP), default="filter", help="update rule (default filter)")
    parser.add_argument("--tag", default=None, help="tag to raise (or flip, for fool); reported at every step")
    parser.add_argument("--layer", default=None,
                        help="climb a layer's mean squared activation instead of --tag: frontend, block1..block4, "
                             "optionally :CHANNEL (target mode: the layer compared; default the last block)")
    parser.add_argument("--target", default=None, help="audio file whose activations --mode target pulls toward")
    parser.add_argument("--steps", type=int, default=50, help="ascent steps (fool: most DeepFool steps; default 50)")
    parser.add_argument("--step", type=float, default=0.02,
                        help="RMS of each step's change relative to the input's RMS (default 0.02)")
    parser.add_argument("--threshold", type=float, default=0.2,
                        help="hard cut: keep STFT bins above this fraction of the gradient's peak (default 0.2)")
    parser.add_argument("--margin", type=float, default=0.1,
                        help="fool: log-odds past 0.5 that counts as flipped (default 0.1: p 0.525 / 0.475)")
    parser.add_argument("--model", default=None, help="tagger checkpoint (default: the bundled one)")
    parser.add_argument("--plot", default=None, help="also write a PNG: spectrograms before/after, probability curve")
    parser.add_argument("--every", type=int, default=10, help="print every N-th step (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--force", action="store_true", help="overwrite OUT (and the plot)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)
