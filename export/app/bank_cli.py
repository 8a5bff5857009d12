"""`latentbridge bank {build,show}`: latent banks of the exported autoencoder; `latentbridge bank --corners A B C D
--grid N --pitches LO:HI:STEP --out DIR`: interpolation sample banks as SFZ instruments (see export.banks.sample_bank).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError


def run_show(args: argparse.Namespace) -> int:
    from export.autoencoder.latent_bank import LatentBank

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


def run_grid(args: argparse.Namespace) -> int:
    from export.autoencoder.latent_bank import LatentBank, model_hash
    from export.autoencoder.runtime import OnnxAutoencoder
    from export.banks.sample_bank import BankSpec, NoteShape, check_spec, parse_pitches, parse_velocities, render_bank
    from export.onnx.bundled import BUNDLED_DIR, default_model
    from export.wavenet.note_decoders import open_decoder

    if args.corners is None:
        raise LatentbridgeError("bank: give an action (build, show) or a sample bank: --corners A B C D --grid N "
                                "--pitches LO:HI:STEP --out DIR (see `latentbridge bank --help`)")
    missing = [flag for flag, value in (("--grid", args.grid), ("--pitches", args.pitches), ("--out", args.out))
               if value is None]
    if missing:
        raise LatentbridgeError(f"bank --corners: also needs {', '.join(missing)}")
    if args.threads < 1:
        raise LatentbridgeError(f"--threads must be >= 1, got {args.threads}")
    if args.batch is not None and args.batch < 1:
        raise LatentbridgeError(f"--batch must be >= 1, got {args.batch}")
    spec = BankSpec(tuple(args.corners), args.grid, parse_pitches(args.pitches),
                    parse_velocities(args.velocities) if args.velocities else (100,), args.decoder,
                    args.temperature if args.decoder != "harmonic" else 0.0, args.seed,
                    NoteShape(seconds=args.seconds))
    bank_path = Path(args.bank) if args.bank else BUNDLED_DIR / f"{default_model('autoencoder').name}.bank.npz"
    bank = LatentBank.load(bank_path)
    check_spec(spec, bank)  # the cheap checks before any model is opened
    ae = OnnxAutoencoder.open(args.model, threads=args.threads)
    if bank.model_hash != model_hash(ae):
        raise LatentbridgeError(f"{bank_path}: built for another autoencoder (rebuild it with `latentbridge bank "
                                "build`)")
    decoder = open_decoder(args.decoder, ae, spec.temperature, spec.seed, args.threads, args.device)
    check_spec(spec, bank, decoder.midi_range)
    extra = {"latent_bank": bank.model_hash, "decoder_model": decoder.model, "decoder_device": decoder.device}
    batch = args.batch or (128 if decoder.device == "cuda" else 8)  # a GPU step costs the same for 1 or 128
    report = render_bank(spec, args.out, decoder, bank, batch, args.force, extra, tracker=ae)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    speed = "" if report["seconds_per_note"] is None else (
        f"; {report['seconds_per_note']:.3f} s per {spec.shape.seconds:g}-s note (batch {batch}, {args.threads} "
        f"thread{'s' if args.threads > 1 else ''}): a 10 000-note bank takes about "
        f"{report['extrapolated_10000_notes_hours']:.2f} h")
    print(f"wrote {args.out}: {report['notes']} notes ({report['rendered']} rendered, {report['skipped']} already "
          f"done), {len(report['sfz'])} SFZ instruments and index.json with the {spec.decoder} decoder on "
          f"{decoder.device}{speed}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    from export.wavenet.note_decoders import DECODERS, DEVICES

    parser = subparsers.add_parser(
        "bank", help="latent banks (family x pitch timbre latents) and SFZ interpolation sample banks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Latent banks of the exported autoencoder (`bank build`, `bank show`): mean latents per "
                    "instrument family\nand MIDI pitch, the targets of `morph`.\n\n"
                    "Without an action, an NSynth-Super-style sample bank: latents mixed bilinearly between four "
                    "corner instruments\n(A top-left, B top-right, C bottom-left, D bottom-right) on an N x N grid "
                    "of points rRcC, every pitch\n(and velocity layer) decoded as a one-shot note: DIR/samples/"
                    "rRcC_MIDI_VEL.wav (16 kHz, 24-bit), one DIR/rRcC.sfz\nper point and DIR/index.json. "
                    "Resumable: a re-run skips finished notes (--force redoes them).",
        epilog="Examples:\n  latentbridge bank --corners reed brass guitar keyboard --grid 3 --pitches 48:72:12 "
               "--out bank3\n  latentbridge bank --corners flute organ:60 string mallet --grid 2 --pitches 36:84:6 "
               "--velocities 64,127 --decoder harmonic --out bank2\n"
               "  latentbridge bank show export/bundled/ae_default.bank.npz")
    grid = parser.add_argument_group("sample bank (no action)")
    grid.add_argument("--corners", nargs=4, metavar=("A", "B", "C", "D"),
                      help="corner instruments: a bank family (reed) or FAMILY:MIDI (reed:60, one fixed latent)")
    grid.add_argument("--grid", type=int, help="points per side N >= 2 (N x N instruments)")
    grid.add_argument("--pitches", help="MIDI pitches LO:HI:STEP (HI included), LO:HI or a list 48,60,72")
    grid.add_argument("--out", help="output folder DIR")
    grid.add_argument("--velocities", default=None,
                      help="velocity layers, e.g. 64,127 (default: one layer at velocity 100)")
    grid.add_argument("--seconds", type=float, default=4.0, help="note length; note-off at 75%% (default: 4.0)")
    grid.add_argument("--decoder", choices=DECODERS, default="harmonic",
                      help="harmonic (default: fast, pitch-exact, the judges' winner), wavenet (the native kernel; "
                           "slow, and scored far below harmonic today: MR-STFT 3.64 vs 0.97) or lpc (the LPC WaveNet "
                           "on the native kernel; closer than wavenet, still below harmonic: see its model card)")
    grid.add_argument("--temperature", type=float, default=0.7, help="WaveNet sampling temperature (default: 0.7)")
    grid.add_argument("--seed", type=int, default=0, help="sampling seed: the same seed, the same bank (default: 0)")
    grid.add_argument("--batch", type=int, default=None,
                      help="notes decoded together (default: 8 on the CPU, 128 on a CUDA device)")
    grid.add_argument("--device", choices=DEVICES, default="auto",
                      help="auto (a CUDA device when usable, else the CPU), cpu or cuda (default: auto)")
    grid.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    grid.add_argument("--bank", default=None, help="latent bank .npz (default: the bundled one)")
    grid.add_argument("--model", default=None, help="exported autoencoder prefix (default: the bundled one)")
    grid.add_argument("--force", action="store_true", help="redo every note of DIR (default: resume)")
    grid.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run_grid)
    actions = parser.add_subparsers(dest="action", metavar="[ACTION]", required=False)
    show = actions.add_parser("show", help="what a bank holds", description="Families, notes and pitches of a bank.",
                              epilog="Example: latentbridge bank show export/bundled/ae_default.bank.npz")
    show.add_argument("bank", type=Path, help="bank file (.npz)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)
    return actions
