"""`latentbridge export CHECKPOINT --out DIR`: a trained checkpoint -> ONNX graphs with metadata (torch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.errors import LatentbridgeError


def run(args: argparse.Namespace) -> int:
    from models.exporting.onnx_export import export_checkpoint

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise LatentbridgeError(f"{out}: exists and is not a directory")
    rows = export_checkpoint(Path(args.checkpoint), out, args.name, force=args.force,
                             progress=None if args.json else lambda g: print(f"exporting {g} ...", flush=True))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(f"{row['path']}: {row['kind']} {row['graph']}, {row['bytes'] / 1e6:.2f} MB, "
                  f"max |onnx - torch| {row['max_abs_diff']:.1e}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a trained checkpoint to ONNX",
                                   description="Export a trained checkpoint to ONNX graphs with latentbridge "
                                               "metadata; each graph is checked against torch.",
                                   epilog="Example: latentbridge export runs/tagger --out models_onnx")
    parser.add_argument("checkpoint", help="a training run directory or its checkpoint.pt")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--name", default=None, help="file name prefix (default: the run directory's name)")
    parser.add_argument("--force", action="store_true", help="overwrite existing graphs")
    parser.add_argument("--json", action="store_true", help="print the exported graphs as JSON")
    parser.set_defaults(func=run)
