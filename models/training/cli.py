"""`latentbridge train {autoencoder,wavenet,lpcwavenet,tagger,classifier,spectral,poly}`: train from rendered datasets
(torch lazily).

Outputs go to --out (checkpoint.pt, config.json, log.csv, cache/); --resume continues a run bit-identically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from export.core.errors import LatentbridgeError

if TYPE_CHECKING:
    from models.training.loop import LoopOptions, TrainTask
    from models.training.note_batches import NoteSubset

AUTOENCODER_EXAMPLE = ("latentbridge train autoencoder --data data/notes --config ae_small "
                       "--out runs/ae_default --steps 20000 --threads 1\n"
                       "  (continue later: the same command with --resume; several processes: "
                       "torchrun --nproc_per_node 2 -m export.app.cli train autoencoder ...)")


def _pitch_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LO:HI MIDI pitches, got {text!r}") from exc
    if not 0 <= lo <= hi <= 127:
        raise argparse.ArgumentTypeError(f"pitch range {text!r} must satisfy 0 <= LO <= HI <= 127")
    return lo, hi


def _velocities(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated velocities, got {text!r}") from exc
    return values


def _common_arguments(parser: argparse.ArgumentParser, data_help: str, config: str, configs: str,
                      batch: int, lr: float) -> None:
    parser.add_argument("--data", type=Path, required=True, help=data_help)
    parser.add_argument("--config", default=config, help=f"named config (default: {config}; also {configs})")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--steps", type=int, default=1000, help="total steps (default: 1000)")
    parser.add_argument("--batch", type=int, default=batch, help=f"examples per step and process (default: "
                        f"{batch})")
    parser.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default: {lr:g})")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--force", action="store_true", help="restart even if OUT holds a checkpoint")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data order (default: 0)")
    parser.add_argument("--ckpt-every-min", type=float, default=3.0,
                        help="minutes between checkpoints (default: 3)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this long")
    parser.add_argument("--cache", type=Path, default=None, help="decoded-data cache (default: OUT/cache)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_autoencoder_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "NSynth-layout dataset root (e.g. data/notes)", "ae_small",
                      "nsynth_small, nsynth_h512_bo16", 8, 1e-3)
    parser.add_argument("--split", default="train", help="split to train on (default: train)")
    parser.add_argument("--crop-seconds", type=float, default=1.0,
                        help="crop length, rounded to the latent hop (default: 1.0)")
    parser.add_argument("--per-instrument", type=int, default=18,
                        help="notes per instrument in the training subset (default: 18)")
    parser.add_argument("--pitches", type=_pitch_range, default=(28, 91),
                        help="MIDI pitch range LO:HI (default: 28:91, inside the pitch tracker's 40-1600 Hz)")
    parser.add_argument("--velocities", type=_velocities, default=(50, 75, 100, 127),
                        help="velocities to draw from (default: 50,75,100,127)")
    parser.add_argument("--note-seconds", type=float, default=3.0,
                        help="seconds kept from each note's onset (default: 3.0, attack + held part)")


def add_tagger_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "MagnaTagATune-layout root (annotations_final.csv; e.g. data/clips)",
                      "samplecnn_small", "samplecnn", 16, 1e-3)
    parser.add_argument("--top-tags", type=int, default=50, help="learn the N most frequent tags (default: 50)")
    parser.add_argument("--min-count", type=int, default=10,
                        help="leave out tags with fewer training positives (default: 10)")
    parser.add_argument("--mixup", type=float, default=0.0,
                        help="fraction of windows mixed with another clip's window (default: 0)")
    parser.add_argument("--gain-db", type=float, default=0.0,
                        help="random gain of +-DB on half of the windows (default: 0, off)")
    parser.add_argument("--valid-every", type=int, default=0,
                        help="validate every N steps on the valid split: best.pt, LR halving, early stopping "
                        "(default: 0, off)")
    parser.add_argument("--valid-clips", type=int, default=300, help="valid clips to score (default: 300)")
    parser.add_argument("--patience", type=int, default=8,
                        help="validations without improvement before stopping (default: 8)")
    parser.add_argument("--lr-patience", type=int, default=3,
                        help="validations without improvement before the LR halves (default: 3)")
    parser.add_argument("--warmup", type=int, default=0, help="steps of linear LR warm-up (default: 0)")
    parser.add_argument("--drop-tags", type=lambda text: tuple(t for t in text.split(",") if t), default=(),
                        help="with --resume: first remove these tags (comma-separated) from OUT/checkpoint.pt, "
                        "e.g. after the clip vocabulary dropped them; the other tags' outputs are unchanged")


def add_notes_arguments(parser: argparse.ArgumentParser, config: str, configs: str) -> None:
    _common_arguments(parser, "NSynth-layout dataset root (e.g. data/notes)", config, configs, 16, 1e-3)
    parser.add_argument("--per-instrument", type=int, default=60,
                        help="notes per training instrument (default: 60)")


def add_classifier_arguments(parser: argparse.ArgumentParser) -> None:
    add_notes_arguments(parser, "note_classifier", "tiny")
    parser.add_argument("--valid-every", type=int, default=0,
                        help="family accuracy on valid-split instruments every N steps, best.pt (default: 0, off)")
    parser.add_argument("--valid-per-instrument", type=int, default=20,
                        help="valid notes per valid instrument (default: 20)")


def add_wavenet_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "NSynth-layout notes (note configs, e.g. ae_small) or a VCTK-layout speech "
                      "folder (speech configs, e.g. speech_small)", "ae_small", "speech_small, nsynth_decoder", 8,
                      1e-3)
    parser.add_argument("--crop", type=int, default=4096, help="samples per crop (default: 4096)")
    parser.add_argument("--autoencoder", type=Path, default=None,
                        help="note configs: the trained autoencoder whose z conditions the decoder "
                        "(default: the bundled one)")
    parser.add_argument("--per-instrument", type=int, default=18,
                        help="note configs: notes per instrument, as for the autoencoder (default: 18)")
    parser.add_argument("--pitches", type=_pitch_range, default=(28, 91), help="note configs: MIDI range")
    parser.add_argument("--velocities", type=_velocities, default=(50, 75, 100, 127),
                        help="note configs: velocities")
    parser.add_argument("--note-seconds", type=float, default=3.0, help="note configs: seconds per note")


def add_lpcwavenet_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "NSynth-layout notes (e.g. data/notes)", "lpc_small",
                      "lpc_small_clean, period_small", 8, 1e-3)
    parser.add_argument("--crop", type=int, default=4096, help="samples per crop (default: 4096)")
    parser.add_argument("--autoencoder", type=Path, default=None,
                        help="the trained harmonic autoencoder that guides the decoder (default: the bundled one)")
    parser.add_argument("--init", type=Path, default=None,
                        help="warm-start the WaveNet from this note WaveNet checkpoint of the same size "
                        "(e.g. export/bundled/ae_wavenet.pt; default: random weights)")
    parser.add_argument("--per-instrument", type=int, default=18,
                        help="notes per instrument, as for the autoencoder (default: 18)")
    parser.add_argument("--pitches", type=_pitch_range, default=(28, 91), help="MIDI range (default: 28:91)")
    parser.add_argument("--velocities", type=_velocities, default=(50, 75, 100, 127), help="velocities")
    parser.add_argument("--note-seconds", type=float, default=3.0, help="seconds per note (default: 3.0)")


def add_poly_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "phrase dataset root (phrases.json; `latentbridge dataset poly`, e.g. data/poly)",
                      "poly_small", "poly_tiny", 8, 1e-3)
    parser.add_argument("--crop", type=int, default=128, help="frames of 128 samples per crop (default: 128)")
    parser.add_argument("--valid-every", type=int, default=0,
                        help="semitone frame F1 on the valid split every N steps, best.pt (default: 0, off)")
    parser.add_argument("--valid-phrases", type=int, default=24, help="valid phrases to score (default: 24)")
    parser.add_argument("--lr-patience", type=int, default=0,
                        help="halve the learning rate after N validations without a better F1 (default: 0, off; "
                             "may be added on --resume)")
    parser.add_argument("--restrike-weight", type=float, default=1.0,
                        help="onset loss weight on re-struck notes' onset frames (default: 1, plain)")
    parser.add_argument("--tail-weight", type=float, default=1.0,
                        help="activation loss weight in the --tail-ms after each key-up at the note's bins, where "
                        "the release rings but the target is off (default: 1, plain)")
    parser.add_argument("--tail-ms", type=float, default=192.0,
                        help="how long after each key-up --tail-weight applies, ms (default: 192; whole frames of "
                        "8 ms)")
    parser.add_argument("--attack-weight", type=float, default=1.0,
                        help="activation loss weight in each note's first 32 ms at its bins (default: 1, plain)")
    parser.add_argument("--harmonic-weight", type=float, default=1.0,
                        help="activation loss weight an octave below and an octave, a twelfth and two octaves above "
                        "each sounding note, where organ stops and overtones sound like notes (default: 1, plain)")
    parser.add_argument("--harmonic-intervals", type=_semitone_list, default=None, metavar="LIST",
                        help="the semitones from each sounding note that --harmonic-weight marks, comma-separated "
                        "(default: -12,12,19,24; e.g. --harmonic-intervals=-24,-12 for the sub-octaves alone, "
                        "the false notes `morph --voices poly` pays most for)")
    parser.add_argument("--eq-db", type=float, default=0.0,
                        help="two random peaking filters of up to +-DB on every crop, a different body for the "
                        "same notes (default: 0, off)")
    parser.add_argument("--extra-data", type=Path, action="append", default=[], metavar="DIR",
                        help="another phrase dataset whose train split joins the training pool (repeatable; e.g. "
                        "a third SoundFont rendered with `dataset poly --ratios 1,0,0`); validation stays on --data")
    parser.add_argument("--skip-instruments", type=Path, default=None, metavar="TUNING_JSON",
                        help="never draw training phrases played by an instrument this `latentbridge dataset tuning` "
                        "report marks off its key (its labels name keys it does not sound)")
    parser.add_argument("--init", type=Path, default=None,
                        help="warm-start from a tracker checkpoint, widened into --config if it has more input "
                        "channels (e.g. export/bundled/poly_default.pt into poly_onset)")


def _semitone_list(text: str) -> tuple[float, ...]:
    """`--harmonic-intervals`: comma-separated semitones, none 0, each within four octaves."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of semitones: {text!r}") from None
    if not all(0 < abs(v) <= 48 for v in values):
        raise argparse.ArgumentTypeError(f"each interval must be non-zero and within 48 semitones: {text!r}")
    return values


def _frames_of(ms: float, hop: int, sample_rate: int) -> int:
    """Milliseconds as whole frames of `hop` samples at `sample_rate` (the tracker's: 8 ms)."""
    return round(ms / 1000.0 * sample_rate / hop)


def _note_subset(args: argparse.Namespace) -> NoteSubset:
    from models.training.note_batches import NoteSubset

    if args.per_instrument < 1:
        raise LatentbridgeError("--per-instrument must be >= 1")
    return NoteSubset(split=getattr(args, "split", "train"), per_instrument=args.per_instrument,
                      pitches=args.pitches, velocities=args.velocities, seconds=args.note_seconds, seed=0)


def _wavenet_task(args: argparse.Namespace, cache: Path) -> TrainTask:
    from models.training.train_wavenet import NoteWaveNetTask, SpeechWaveNetTask
    from models.wavenet.configs import get_config

    cfg = get_config(args.config)
    if cfg.global_classes:
        return SpeechWaveNetTask(cfg, args.data, cache, args.batch, args.crop, args.seed)
    from export.onnx.bundled import default_model
    from models.training.checkpoint import load_model

    path = args.autoencoder if args.autoencoder is not None else default_model("autoencoder").path
    autoencoder, _ = load_model(path, "autoencoder")
    return NoteWaveNetTask(cfg, autoencoder, str(path), args.data, cache, _note_subset(args), args.batch,
                           args.crop, args.seed)


def _lpcwavenet_task(args: argparse.Namespace, cache: Path) -> TrainTask:
    from export.onnx.bundled import default_model
    from models.training.checkpoint import load_model
    from models.training.train_lpcwavenet import LPCWaveNetTask
    from models.wavenet.lpc_decoder import get_config

    path = args.autoencoder if args.autoencoder is not None else default_model("autoencoder").path
    autoencoder, _ = load_model(path, "autoencoder")
    return LPCWaveNetTask(get_config(args.config), autoencoder, str(path), args.data, cache, _note_subset(args),
                          args.batch, args.crop, args.seed, args.init)


def _loop_options(args: argparse.Namespace) -> LoopOptions:
    from models.training.loop import LoopOptions

    if args.threads < 1:
        raise LatentbridgeError("--threads must be >= 1")
    return LoopOptions(out=args.out, steps=args.steps, resume=args.resume, force=args.force,
                       threads=args.threads, seed=args.seed, ckpt_every_min=args.ckpt_every_min, lr=args.lr,
                       max_minutes=args.max_minutes)


def _task(args: argparse.Namespace) -> TrainTask:
    """The task of `args.model`, its weights drawn from `--seed`."""
    import torch

    torch.manual_seed(args.seed)
    cache = Path(args.cache) if args.cache else Path(args.out) / "cache"
    if args.model == "autoencoder":
        from models.autoencoder.configs import get_config
        from models.training.train_autoencoder import AutoencoderTask

        return AutoencoderTask(get_config(args.config), args.data, cache, _note_subset(args), args.batch,
                               args.crop_seconds, args.seed)
    if args.model == "wavenet":
        return _wavenet_task(args, cache)
    if args.model == "lpcwavenet":
        return _lpcwavenet_task(args, cache)
    if args.model == "tagger":
        from models.tagger.configs import get_config as tagger_config
        from models.training.train_tagger import Augment, TagChoice, TaggerTask, Validation, tags_of_checkpoint

        ckpt = Path(args.out) / "checkpoint.pt"
        tags = tags_of_checkpoint(ckpt) if args.resume and ckpt.is_file() else None
        if args.drop_tags:
            if tags is None:
                raise LatentbridgeError("--drop-tags needs --resume and a checkpoint in --out")
            dropping = [t for t in args.drop_tags if t in tags]
            if dropping:
                from models.tagger.tag_drop import drop_tags_in_file

                drop_tags_in_file(ckpt, dropping, ckpt)
                print(f"{ckpt}: dropped the tags {', '.join(dropping)}", flush=True)
                tags = tags_of_checkpoint(ckpt)
        return TaggerTask(tagger_config(args.config), args.data, cache,
                          TagChoice(args.top_tags, args.min_count, tags), args.batch, args.seed,
                          Augment(mixup=args.mixup, gain_db=args.gain_db),
                          Validation(args.valid_every, args.valid_clips, args.patience, args.lr_patience,
                                     args.warmup))
    if args.model == "classifier":
        from models.classifier.model import get_config as classifier_config
        from models.training.train_classifier import ClassifierTask

        return ClassifierTask(classifier_config(args.config), args.data, cache, args.per_instrument, args.batch,
                              args.seed, args.valid_every, args.valid_per_instrument)
    if args.model == "poly":
        from models.data.key_tuning import read_off_key
        from models.polypitch.labels import HARMONIC_INTERVALS
        from models.polypitch.model import get_config as poly_config
        from models.training.train_poly import PolyTask, PolyTraining

        poly = poly_config(args.config)
        skip = frozenset() if args.skip_instruments is None else read_off_key(args.skip_instruments)
        return PolyTask(poly, args.data, cache, args.batch, args.seed,
                        PolyTraining(crop=args.crop, valid_every=args.valid_every,
                                     valid_phrases=args.valid_phrases, restrike_weight=args.restrike_weight,
                                     tail_weight=args.tail_weight,
                                     tail_frames=_frames_of(args.tail_ms, poly.hop, poly.sample_rate),
                                     attack_weight=args.attack_weight, harmonic_weight=args.harmonic_weight,
                                     harmonic_intervals=args.harmonic_intervals or HARMONIC_INTERVALS,
                                     eq_db=args.eq_db),
                        args.lr_patience, args.init, tuple(args.extra_data), skip)
    from models.spectral.model import get_config as spectral_config
    from models.training.train_spectral import SpectralTask

    return SpectralTask(spectral_config(args.config), args.data, cache, args.per_instrument, args.batch,
                        args.seed)


def run(args: argparse.Namespace) -> int:
    from models.training.loop import train

    opts = _loop_options(args)
    summary = train(_task(args), opts)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"trained {summary['kind']} {summary['steps']} steps (from {summary['start_step']}), "
              f"loss {summary['loss']:.4f}, {summary['audio_seconds_per_s']:.1f} audio-s/s -> "
              f"{summary['checkpoint']}")
    return 0


MODELS: dict[str, tuple[str, str, str]] = {
    "autoencoder": ("the pitch/loudness-controlled autoencoder with a harmonic-plus-noise decoder",
                    "Train the NSynth-style autoencoder with explicit pitch and loudness controls and a "
                    "harmonic-plus-noise decoder.", AUTOENCODER_EXAMPLE),
    "tagger": ("the sample-level CNN music tagger", "Train the raw-audio multi-label tagger on MTAT-layout clips.",
               "latentbridge train tagger --data data/clips --out runs/tagger --steps 6000"),
    "classifier": ("the note classifier (family + pitch; the judge)",
                   "Train the NSynth note classifier that judges reconstructions.",
                   "latentbridge train classifier --data data/notes --out runs/classifier --steps 3000"),
    "wavenet": ("a WaveNet: the autoencoder's decoder (notes) or the conditional speech WaveNet",
                "Train a WaveNet teacher-forced on 8-bit mu-law: the autoencoder's WaveNet decoder, conditioned "
                "on its frozen z and controls plus the waveform one pitch period back (note configs), or the "
                "speaker- and gender-conditioned speech WaveNet (speech configs).",
                "latentbridge train wavenet --data data/speech --config speech_small --out runs/speech "
                "--steps 4000"),
    "lpcwavenet": ("the LPC WaveNet decoder guided by the harmonic autoencoder",
                   "Train the LPCNet-style note decoder teacher-forced with noise injection: linear prediction from "
                   "the frozen harmonic decoder's envelope, the WaveNet samples the excitation (mu-law) from its "
                   "own past, the excitation one pitch period back, the prediction, the harmonic output, z and "
                   "the controls.",
                   "latentbridge train lpcwavenet --data data/notes --config lpc_small --out runs/lpc "
                   "--init export/bundled/ae_wavenet.pt --steps 20000 --threads 1\n"
                   "  (continue later: the same command with --resume)"),
    "spectral": ("the spectral autoencoder baseline", "Train the NSynth paper's spectral autoencoder baseline "
                 "(log-magnitude STFT, Griffin-Lim phase).",
                 "latentbridge train spectral --data data/notes --out runs/spectral --steps 3000"),
    "poly": ("the causal multi-pitch tracker", "Train the causal multi-pitch tracker (frame activations at three "
             "bins per semitone and note onsets, one frame per 128 samples) on rendered phrases.",
             "latentbridge train poly --data data/poly --out runs/poly --steps 4000 --valid-every 250"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train models", description="Train models.")
    kinds = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    adders = {"autoencoder": add_autoencoder_arguments, "tagger": add_tagger_arguments,
              "classifier": add_classifier_arguments,
              "spectral": lambda p: add_notes_arguments(p, "small", "nsynth_spectral"),
              "wavenet": add_wavenet_arguments, "lpcwavenet": add_lpcwavenet_arguments,
              "poly": add_poly_arguments}
    for name, (help_text, description, example) in MODELS.items():
        sub = kinds.add_parser(name, help=help_text, description=description, epilog=f"Example: {example}",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        adders[name](sub)
        sub.set_defaults(func=run)
