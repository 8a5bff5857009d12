"""`latentbridge models {list,bundle}`: the bundled default models and their model cards (no torch).

list: one row per card (name, kind, path, format, format version, size in bytes, eval metrics).
bundle: copy a finished training run (checkpoint.pt, config.json, log.csv) into the bundled folder as
NAME.pt / NAME.log.csv with a model card NAME.json (data, commands, steps, wall time, hardware, metrics).
(`models export-bundled` is registered by `models.exporting.cli`: it needs torch.)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
from pathlib import Path

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR, bundled_models

LOCAL_PATHS = ("plots", "audio", "model", "models")  # eval-report entries naming files of the training machine
CHECKPOINT_FORMAT_VERSION = 2  # models.training.checkpoint.VERSION (read here without importing torch)


def _headline(metrics: dict, variant: str) -> str:
    """The card's numbers in one line: scalar metrics, and `variant`'s value of per-decoder ones; for a tracker
    (an `eval poly` report), its frame and note-onset F1 beside Basic Pitch's."""
    if isinstance(metrics.get("ours"), dict) and "note_metric" in metrics:
        systems = [f"{name} frame F1 {metrics[name]['frame']['f1']:.3f} note-onset F1 "
                   f"{metrics[name]['note_onset']['f1']:.3f}" for name in ("ours", "basic_pitch")
                   if isinstance(metrics.get(name), dict)]
        return ", ".join(systems) + f" ({metrics.get('split')}, {metrics.get('files')} files)"
    parts = []
    for key, value in metrics.items():
        if isinstance(value, dict) and isinstance(value.get(variant), float):
            parts.append(f"{key} {value[variant]:.3f}")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.3f}")
    return ", ".join(parts)


def run_list(args: argparse.Namespace) -> int:
    rows = [{"name": m.name, "kind": m.kind, "path": str(m.path), "format": m.card.get("format", "?"),
             "format_version": m.format_version, "bytes": m.path.stat().st_size if m.path.is_file() else None,
             "metrics": m.card.get("metrics", {})} for m in bundled_models()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no bundled models")
    for row in rows:
        size = "missing file" if row["bytes"] is None else f"{row['bytes'] / 1e6:.1f} MB"
        variant = "wavenet" if row["kind"] in ("wavenet", "lpcwavenet") else "reconstruction"
        print(f"{row['name']:<20}{row['kind']:<13}{row['format']:<18}{size:>10}  {_headline(row['metrics'], variant)}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_bundle(args: argparse.Namespace) -> int:
    run = Path(args.run)
    files = {name: run / name for name in ("checkpoint.pt", "config.json", "log.csv")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise LatentbridgeError(f"{run}: not a finished training run (missing {', '.join(missing)})")
    config = json.loads(files["config.json"].read_text())
    with files["log.csv"].open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise LatentbridgeError(f"{files['log.csv']}: no logged steps")
    metrics = {}
    if args.eval is not None:
        try:
            metrics = json.loads(Path(args.eval).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise LatentbridgeError(f"{args.eval}: cannot read the eval JSON ({exc})") from exc
        metrics = {k: v for k, v in metrics.items() if k not in LOCAL_PATHS}
    out = Path(args.dir)
    card = {"name": args.name, "kind": config["kind"], "format": "torch-checkpoint",
            "format_version": CHECKPOINT_FORMAT_VERSION, "file": f"{args.name}.pt", "log": f"{args.name}.log.csv",
            "config_name": args.config_name, "config_hash": config["config_hash"], "config": config["config"],
            "steps": int(rows[-1]["step"]), "train_seconds": float(rows[-1]["seconds"]),
            "final_loss": float(rows[-1]["loss"]), "data": args.data_command, "train": args.train_command,
            "resume": f"mkdir -p RUN && cp {out / args.name}.pt RUN/checkpoint.pt && cp {out / args.name}.log.csv "
                      "RUN/log.csv, then the train command with --out RUN --resume and a larger --steps",
            "hardware": {"cpu": _cpu_name(), "cores": os.cpu_count(), "threads": args.threads, "gpu": None},
            "created": datetime.date.today().isoformat(), "metrics": metrics, "notes": args.notes or ""}
    for name, suffix in (("checkpoint.pt", ".pt"), ("log.csv", ".log.csv")):
        with atomic_output(out / f"{args.name}{suffix}", force=args.force) as tmp:
            shutil.copyfile(files[name], tmp)
    with atomic_output(out / f"{args.name}.json", force=args.force) as tmp:
        tmp.write_text(json.dumps(card, indent=1) + "\n")
    print(f"bundled {run} as {out / args.name}.json ({card['kind']}, {card['steps']} steps)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    parser = subparsers.add_parser("models", help="the bundled default models",
                                   description="The bundled default models.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the bundled models with their eval metrics",
                                 description="List the bundled models with their eval metrics.",
                                 epilog="Example: latentbridge models list --json")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)
    bundle = actions.add_parser("bundle", help="add a finished training run to the bundled models",
                                description="Copy a training run into the bundled models with a model card.",
                                epilog="Example: latentbridge models bundle runs/tagger --name tagger_default "
                                       "--config-name samplecnn_small --data-command 'latentbridge dataset clips "
                                       "--out data/clips' --train-command 'latentbridge train tagger ...' "
                                       "--eval tagger_eval.json")
    bundle.add_argument("run", help="training run directory (checkpoint.pt, config.json, log.csv)")
    bundle.add_argument("--name", required=True, help="bundled model name")
    bundle.add_argument("--config-name", required=True, help="the named config it was trained with")
    bundle.add_argument("--data-command", required=True, help="the command that rendered its data")
    bundle.add_argument("--train-command", required=True, help="the command that trained it")
    bundle.add_argument("--eval", default=None, help="eval JSON to store as the card's metrics")
    bundle.add_argument("--threads", type=int, default=1, help="torch threads it trained with")
    bundle.add_argument("--notes", default=None, help="free text for the card")
    bundle.add_argument("--dir", default=str(BUNDLED_DIR), help="bundled folder (default: export/bundled)")
    bundle.add_argument("--force", action="store_true", help="replace a bundled model of the same name")
    bundle.set_defaults(func=run_bundle)
    return actions
