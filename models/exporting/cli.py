"""`latentbridge export CHECKPOINT --out DIR`: a trained checkpoint -> ONNX graphs with metadata (torch);
also `models export-bundled` (the bundled checkpoints re-exported) and `bank build` (a latent bank from
NSynth-layout notes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR, bundled_models

# the runtime's graphs (not the eval judge)
EXPORTED_KINDS = ("autoencoder", "wavenet", "lpcwavenet", "tagger", "spectral", "poly")


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


def run_export_bundled(args: argparse.Namespace) -> int:
    from models.exporting.onnx_export import export_checkpoint

    out = Path(args.dir)
    chosen = [m for m in bundled_models(out) if m.kind in args.kinds]
    if not chosen:
        raise LatentbridgeError(f"{out}: no bundled model of kind {', '.join(args.kinds)}")
    for model in chosen:
        card = {k: v for k, v in model.card.items() if k != "config"}  # the config travels on its own
        for row in export_checkpoint(model.path, out, model.name, card=card, force=True):
            print(f"{row['path']}: {row['graph']}, {row['bytes'] / 1e6:.2f} MB, "
                  f"max |onnx - torch| {row['max_abs_diff']:.1e}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from export.autoencoder.runtime import OnnxAutoencoder
    from models.exporting.latent_bank import BankSettings, build_bank

    ae = OnnxAutoencoder.open(args.model, threads=args.threads)
    settings = BankSettings(split=args.split, per_cell=args.per_cell)
    bank = build_bank(ae, args.notes, settings)
    bank.save(args.out, force=args.force)
    print(f"wrote {args.out}: {len(bank.families)} families x {bank.pitches.size} pitches, "
          f"{int(bank.counts.sum())} notes, {int((bank.counts > 0).sum())} cells filled")
    return 0


def add_models_parsers(actions: argparse._SubParsersAction) -> None:
    exporting = actions.add_parser("export-bundled", help="export the bundled checkpoints to ONNX beside them",
                                   description="Export the bundled checkpoints to NAME.GRAPH.onnx files beside "
                                               "them (needs torch; the runtime reads only these).",
                                   epilog="Example: latentbridge models export-bundled --kinds autoencoder")
    exporting.add_argument("--kinds", nargs="+", default=list(EXPORTED_KINDS), choices=EXPORTED_KINDS + ("classifier",),
                           help=f"model kinds to export (default: {' '.join(EXPORTED_KINDS)})")
    exporting.add_argument("--dir", default=str(BUNDLED_DIR), help="bundled folder (default: export/bundled)")
    exporting.set_defaults(func=run_export_bundled)


def add_bank_parsers(actions: argparse._SubParsersAction) -> None:
    build = actions.add_parser("build", help="encode NSynth-layout notes into a bank",
                               description="Encode NSynth-layout notes into a family x pitch latent bank.",
                               epilog="Example: latentbridge bank build --notes data/notes "
                                      "--out export/bundled/ae_default.bank.npz")
    build.add_argument("--notes", required=True, help="NSynth-layout dataset root (e.g. data/notes)")
    build.add_argument("--out", required=True, help="bank file (.npz)")
    build.add_argument("--split", default="train", help="split to encode (default: train)")
    build.add_argument("--per-cell", type=int, default=4, help="notes per family and pitch (default: 4)")
    build.add_argument("--model", default=None, help="exported autoencoder prefix (default: the bundled one)")
    build.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default: 1)")
    build.add_argument("--force", action="store_true", help="overwrite --out")
    build.set_defaults(func=run_build)
