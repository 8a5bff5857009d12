"""`latentbridge morph IN --target TARGET --amount A --out OUT`: timbre morphing on the bundled models (no torch).

See `export.autoencoder.morphing` for what is computed; this module reads and checks the inputs, shows progress and
writes OUT atomically at IN's rate, channel count and length (never over IN).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError

FORMATS = {".wav": "wav24", ".flac": "flac"}


def run(args: argparse.Namespace) -> int:
    from export.autoencoder.latent_bank import LatentBank, model_hash
    from export.autoencoder.morphing import check_align_attacks, morph, parse_target
    from export.autoencoder.runtime import OnnxAutoencoder
    from export.core.audio_io import MODEL_RATE, distinct_channels, read_audio, resample, write_audio
    from export.core.progress import bar
    from export.onnx.bundled import BUNDLED_DIR, default_model

    source, out = Path(args.input), Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise LatentbridgeError(f"{out}: write a .wav or .flac file")
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise LatentbridgeError(f"{out}: is the input file; choose another output")
    for path in (out, Path(args.plot) if args.plot else None):
        if path is not None and path.exists() and not args.force:
            raise LatentbridgeError(f"{path}: already exists (use --force to overwrite)")
    if not 0.0 <= args.amount <= 1.0:
        raise LatentbridgeError(f"--amount must be in [0, 1], got {args.amount}")
    check_align_attacks(args.align_attacks)
    from export.poly.poly_synth import PolyConfig, check_voices
    from export.wavenet.stream_synth import check_decoder

    config = PolyConfig(voices=check_voices(args.max_voices))
    check_decoder(args.decoder, args.voices)
    audio, rate = read_audio(source)
    ae = OnnxAutoencoder.open(args.model, threads=args.threads)
    bank_path = Path(args.bank) if args.bank else BUNDLED_DIR / f"{default_model('autoencoder').name}.bank.npz"
    bank = LatentBank.load(bank_path) if args.bank or bank_path.is_file() else None
    if bank is not None and bank.model_hash != model_hash(ae):
        raise LatentbridgeError(f"{bank_path}: built for another autoencoder (rebuild it with "
                                "`latentbridge bank build`)")
    target = parse_target(args.target, bank, ae)
    started = time.perf_counter()
    work = distinct_channels(audio) * 2 * (audio.shape[1] * MODEL_RATE // rate)
    decode = None
    if args.voices == "poly":
        from export.poly.offline import voices_decoder

        decode = voices_decoder(ae, "poly", config)
    if args.decoder != "harmonic":
        from export.wavenet.stream_synth import wavenet_decoder

        decode = wavenet_decoder(ae, args.decoder)
    with bar("morph", total=work, unit="sample") as progress:
        result = morph(ae, audio, rate, target, args.amount, bank, progress.update, decode, args.align_attacks)
    write_audio(out, result, rate, FORMATS[out.suffix.lower()], force=args.force)
    took = time.perf_counter() - started
    if args.plot:
        from plugin_host.morph_plot import plot_morph

        controls = ae.controls(resample(audio[0], rate, MODEL_RATE))
        plot_morph(Path(args.plot), audio, result, rate, controls, ae.frame_hop,
                   f"{source.name}: amount {args.amount:g} toward {args.target}", args.force)
    seconds = audio.shape[1] / rate
    peak = float(np.abs(result).max())
    print(f"wrote {out} ({rate} Hz, {audio.shape[0]} ch, {seconds:.2f} s; amount {args.amount:g} toward "
          f"{args.target}, {args.voices} voices, {args.decoder} decoder) in {took:.1f} s "
          f"({seconds / max(took, 1e-9):.1f}x real time), peak "
          f"{20 * np.log10(max(peak, 1e-9)):.1f} dBFS{' (clipped)' if peak > 1.0 else ''}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from export.wavenet.note_decoders import DECODERS

    parser = subparsers.add_parser("morph", help="morph a recording's timbre toward another instrument",
                                   description="Re-synthesise IN through the bundled autoencoder with its latent "
                                               "moved toward TARGET by AMOUNT (0: plain resynthesis); OUT keeps "
                                               "IN's sample rate, channels and length. ONNX Runtime only.",
                                   epilog="Example: latentbridge morph guitar.wav --target flute --amount 0.7 "
                                          "--out guitar_flute.wav")
    parser.add_argument("input", help="audio file to morph (any rate, any channel count)")
    parser.add_argument("--target", required=True,
                        help="a bank family (e.g. flute), FAMILY:MIDI (e.g. flute:72) or an audio file")
    parser.add_argument("--amount", type=float, required=True, help="0 (resynthesis) .. 1 (the target's timbre)")
    parser.add_argument("--out", required=True, help="output .wav (24-bit) or .flac")
    parser.add_argument("--model", default=None,
                        help="exported autoencoder prefix PREFIX for PREFIX.{controls,encoder,decoder}.onnx "
                             "(default: the bundled one)")
    parser.add_argument("--bank", default=None, help="latent bank .npz (default: the bundled one)")
    parser.add_argument("--voices", choices=("mono", "poly"), default="mono",
                        help="mono: one voice on the detected pitch; poly: a voice per note the multi-pitch tracker "
                             "hears (chords, strums), sharing the morphed latent (default: mono)")
    parser.add_argument("--max-voices", type=int, default=6, help="most voices at once with --voices poly (1..16)")
    parser.add_argument("--decoder", choices=DECODERS, default="harmonic",
                        help="harmonic: the harmonic-plus-noise decoder; wavenet: the autoencoder's WaveNet on the "
                             "native kernel; lpc: the LPC WaveNet (samples the excitation the harmonic decoder's "
                             "envelope does not predict); the WaveNets play one voice (--voices mono) and lose to "
                             "harmonic on the judges (model cards) (default: harmonic)")
    parser.add_argument("--align-attacks", type=float, default=0.0, metavar="MS",
                        help="write the output MS milliseconds earlier (0..100): the causal controls and tracker "
                             "make the decoder's attacks late; 64 measured best on chords (README, chords); a "
                             "resynth/morph stage's `align_attacks_ms` does the same in render and live (default: 0)")
    parser.add_argument("--plot", default=None, help="also write a PNG: input and output spectrograms")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default: 1)")
    parser.add_argument("--force", action="store_true", help="overwrite OUT")
    parser.set_defaults(func=run)
