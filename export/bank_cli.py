"""`latentbridge bank {build,show}`: latent banks of the exported autoencoder (no torch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def run_build(args: argparse.Namespace) -> int:
    from export.autoencoder_runtime import OnnxAutoencoder
    from export.latent_bank import BankSettings, build_bank

    ae = OnnxAutoencoder.open(args.model, threads=args.threads)
    settings = BankSettings(split=args.split, per_cell=args.per_cell)
    bank = build_bank(ae, args.notes, settings)
    bank.save(args.out, force=args.force)
    print(f"wrote {args.out}: {len(bank.families)} families x {bank.pitches.size} pitches, "
          f"{int(bank.counts.sum())} notes, {int((bank.counts > 0).sum())} cells filled")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from export.latent_bank import LatentBank

    bank = LatentBank.load(args.bank)
    rows = {f: {"notes": int(bank.counts[i].sum()), "pitches": [int(p) for p in bank.pitches[bank.counts[i] > 0]]}
            for i, f in enumerate(bank.families)}
    if args.json:
        print(json.dumps({"model_hash": bank.model_hash, "settings": bank.settings, "families": rows}, indent=1))
        return 0
    for family, row in rows.items():
        span = f"MIDI {min(row['pitches'])}-{max(row['pitches'])}" if row["pitches"] else "empty"
        print(f"{family:<12}{row['notes']:>6} notes  {len(row['pitches']):>3} pitches  {span}")
    filled = bank.z[np.isfinite(bank.z[..., 0])]
    print(f"latent spread (std over filled cells, mean over dims): {float(filled.std(axis=0).mean()):.3f}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bank", help="latent banks (family x pitch timbre latents)",
                                   description="Latent banks of the exported autoencoder: mean latents per "
                                               "instrument family and MIDI pitch, the targets of `morph`.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
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
    show = actions.add_parser("show", help="what a bank holds", description="Families, notes and pitches of a bank.",
                              epilog="Example: latentbridge bank show export/bundled/ae_default.bank.npz")
    show.add_argument("bank", type=Path, help="bank file (.npz)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)
