"""`latentbridge style train` (a feed-forward style network, resumable, exported and judged at the end) and
`latentbridge style --method feedforward --model RUN_OR_ONNX` (one file through it with ONNX Runtime).

Style and content files of any rate and channel count; the network runs on mono 16 kHz. Applying it styles each
channel on its own (down to 16 kHz, styled, back up) and keeps the file's rate, channels and length.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError


def load_style_audio(paths: list[str]) -> np.ndarray:
    """The style files as one mono 16 kHz clip (joined); one-line errors if one is missing, empty or silent."""
    from export.core.audio_io import MODEL_RATE, mono_at, read_audio

    parts = []
    for path in paths:
        if not Path(path).is_file():
            raise LatentbridgeError(f"{path}: no such style file")
        mono = mono_at(*read_audio(path))
        if mono.size < MODEL_RATE // 10:
            raise LatentbridgeError(f"{path}: the style is empty or shorter than 0.1 s")
        if not np.all(np.isfinite(mono)) or float(np.abs(mono).max()) < 1e-4:
            raise LatentbridgeError(f"{path}: the style is silent or not finite (peak below -80 dBFS)")
        parts.append(mono)
    return np.concatenate(parts).astype(np.float32)


def _loss_ends(log: Path, rows: int = 50) -> dict[str, float]:
    with log.open(newline="") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    return {"first": float(np.mean(losses[:rows])), "last": float(np.mean(losses[-rows:]))} if losses else {}


def run_train(args: argparse.Namespace) -> int:
    import torch

    from export.core.audio_io import MODEL_RATE
    from models.style.feedforward import FeedForwardConfig
    from models.style.ff_data import content_source, held_out_clips
    from models.style.ff_export import export_style, hardware, judge, summary, write_card
    from models.style.ff_train import StyleTask, StyleTrainSettings, file_sha256
    from models.training.checkpoint import load_checkpoint
    from models.training.loop import LoopOptions, train

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    style = load_style_audio(args.style)
    sources = [content_source(d) for d in args.content_data]
    settings = StyleTrainSettings(batch=args.batch, clip_s=args.clip_seconds, clips_per_source=args.clips_per_source,
                                  content_weight=args.content_weight, style_weight=args.style_weight,
                                  envelope_weight=args.envelope_weight)
    task = StyleTask(FeedForwardConfig(), settings, args.style, style, sources, args.seed)
    if args.init is not None and not args.resume:
        task.initialise(args.init)
    result = train(task, LoopOptions(out, steps=args.steps, resume=args.resume, force=args.force,
                                     threads=args.threads, seed=args.seed, ckpt_every_min=args.ckpt_every_min,
                                     lr=args.lr, max_minutes=args.max_minutes))
    state = load_checkpoint(out, "style")
    task.model.load_state_dict(state["model"])
    name = out.resolve().name
    card: dict[str, Any] = {
        "name": name, "kind": "style", "format_version": 1, "file": f"{name}.style_gains.onnx",
        "graph": "style_gains", "delay_samples_16k": task.model.cfg.synth_fft - 1,
        "style_files": [{"path": str(Path(p).resolve()), "sha256": file_sha256(p)} for p in args.style],
        "content": [{"root": str(s.root), "layout": s.layout, "train_files": len(s.train),
                     "held_out_files": len(s.held_out)} for s in sources],
        "settings": {**task.settings(), "envelope_weight": task.objective.envelope_weight, "lr": args.lr,
                     "seed": args.seed,
                     **({"init": str(args.init)} if args.init is not None else {})},
        "config": task.model.cfg.to_dict(),
        "steps": int(state["step"]), "wall_time_s": round(float(state["extra"].get("seconds", 0.0)), 1),
        "hardware": hardware(), "loss": _loss_ends(out / "log.csv")}
    if all(np.isfinite(task.last)):  # a resume with no step left has no last batch
        card["last_batch_losses"] = {"content": task.last[0], "style": task.last[1]}
    path = export_style(task.model, out, name, card)
    if args.judge_clips:
        from export.onnx.style_net import StyleNetwork

        clips = [(f"{s.layout}/{n}", s.kind, a) for s in sources for n, a in held_out_clips(s, args.judge_clips, 3.0)
                 if a.size >= MODEL_RATE // 2]
        rows = judge(StyleNetwork(path), task.objective, style, clips)
        card["judge"] = {"rows": rows, "summary": summary(rows)}
        path = export_style(task.model, out, name, {**card, "judge": {"summary": card["judge"]["summary"]}})
    write_card(out, name, card)
    print(json.dumps({"steps": result["steps"], "model": str(path), "card": str(out / f"{name}.json"),
                      **card.get("judge", {}).get("summary", {})}, indent=1) if args.json else
          f"{out}: {result['steps']} steps, loss {result['loss']:.4g}; exported {path} "
          f"({path.stat().st_size / 1e3:.0f} kB) and {out / f'{name}.json'}")
    return 0


def resolve_model(path: str) -> Path:
    """A run directory (its one NAME.style_gains.onnx), an .onnx file, or a bundled style's name."""
    p = Path(path)
    if not p.exists() and not p.suffix and "/" not in path:
        from export.onnx.bundled import default_model

        try:
            return default_model("style", path).path
        except LatentbridgeError as exc:
            raise LatentbridgeError(f"{path}: no such style model file, run or bundled style") from exc
    if p.is_dir():
        found = sorted(p.glob("*.style_gains.onnx"))
        if len(found) != 1:
            raise LatentbridgeError(f"{p}: expected one *.style_gains.onnx in the run, found {len(found)} "
                                    "(train it to the end, or pass the .onnx)")
        return found[0]
    if not p.is_file():
        raise LatentbridgeError(f"{p}: no such style model")
    return p


def card_style_files(network: Any) -> list[str]:
    """The style files the model card names (relative to the model's folder, else as written) that exist."""
    try:
        card = json.loads(network.model.metadata.get("model_card", "{}"))
    except json.JSONDecodeError as exc:
        raise LatentbridgeError(f"{network.path}: malformed model_card metadata ({exc.msg})") from exc
    found = []
    for entry in card.get("style_files", []):
        for candidate in (network.path.parent / Path(entry["path"]).name, Path(entry["path"])):
            if candidate.is_file():
                found.append(str(candidate))
                break
    return found


def run_feedforward(args: argparse.Namespace) -> dict[str, Any]:
    """Style --content with --model; writes --out and returns the report (the caller writes the sidecar)."""
    import torch

    from export.core.audio_io import MODEL_RATE, fit_length, mono_at, read_audio, resample, write_audio
    from export.onnx.style_net import StyleNetwork
    from models.style.ff_export import judge_clip
    from models.style.ff_train import losses, style_objective

    if not args.model:
        raise LatentbridgeError("--method feedforward needs --model RUN_OR_ONNX (from `latentbridge style train`)")
    network = StyleNetwork(resolve_model(args.model))
    style_files = [args.style] if args.style else card_style_files(network)
    if not style_files:
        raise LatentbridgeError(f"{network.path}: its style files are not found; pass --style to judge against")
    audio, rate = read_audio(args.content)
    began = time.perf_counter()
    styled = np.stack([fit_length(resample(network.offline(resample(ch, rate, MODEL_RATE)), MODEL_RATE, rate),
                              audio.shape[1]) for ch in audio])
    seconds = time.perf_counter() - began
    if not np.all(np.isfinite(styled)):
        raise LatentbridgeError(f"{network.path}: the network produced NaN or Inf")
    write_audio(args.out, styled, rate, args.format, force=args.force)
    style = load_style_audio(style_files)
    content = mono_at(audio, rate)
    result = network.offline(content)
    objective = style_objective(style, args.content_weight or 1.0, args.style_weight or 1.0)
    with torch.no_grad():
        content_loss, style_loss = losses(objective, torch.from_numpy(content)[None], torch.from_numpy(result)[None])
        _, style_before = losses(objective, torch.from_numpy(content)[None], torch.from_numpy(content)[None])
    judged = judge_clip(objective, style, content, result, args.content_kind)
    report: dict[str, Any] = {
        "method": "feedforward", "model": str(network.path), "style_files": style_files, "iterations": 0,
        "windows": 1, "content_loss": [0.0, float(content_loss)],
        "style_loss": [float(style_before), float(style_loss)],
        "gram_distance": {"before": judged["gram_before"], "after": judged["gram_after"]}, "moved": judged["moved"],
        "seconds": round(seconds, 3), "delay_samples_16k": network.delay_samples,
        "channels": int(audio.shape[0])}
    report["style_loss_fall"] = 1.0 - report["style_loss"][1] / report["style_loss"][0] \
        if report["style_loss"][0] > 0 else None
    report.update({k: judged[k] for k in ("stoi", "pitch_agreement") if k in judged})
    return report


def add_train_parser(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "train", help="train a feed-forward (live) style network on many content clips",
        description=__doc__ + "\nThe network: a causal spectral-gain GRU (see models/style/feedforward.py).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: latentbridge style train --style export/bundled/style_reed_phrase.wav --content-data "
               "data/speech --content-data data/notes --out runs/style_reed --steps 2000 --threads 1")
    parser.add_argument("--style", action="append", required=True, help="style audio (repeat to join several)")
    parser.add_argument("--content-data", action="append", required=True,
                        help="content folder: VCTK layout, NSynth notes, poly phrases or audio files (repeatable)")
    parser.add_argument("--out", required=True, help="run directory (checkpoint.pt, log.csv, NAME.style_gains.onnx, "
                                                     "NAME.json)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--force", action="store_true", help="restart a run that exists in --out")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--ckpt-every-min", type=float, default=3.0, help="minutes between checkpoints")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this many minutes")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch", type=int, default=4, help="clips per step")
    parser.add_argument("--clip-seconds", type=float, default=1.5)
    parser.add_argument("--clips-per-source", type=int, default=96, help="content clips cached per folder")
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--style-weight", type=float, default=1.0)
    parser.add_argument("--envelope-weight", type=float, default=None,
                        help="weight of the spectral-envelope style term (default: style --method nsynth's, 0.3)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from the weights of another style run (its checkpoint.pt or folder); "
                             "ignored with --resume")
    parser.add_argument("--judge-clips", type=int, default=2,
                        help="held-out clips per folder judged at the end beside the optimisation (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run_train)
