"""`latentbridge eval {autoencoder,wavenet,classifier,tagger,poly,voices}`: judge trained models on held-out data.

--model defaults to the bundled model of its kind (as do --classifier and --spectral for the autoencoder).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError

EXAMPLES = {
    "autoencoder": "latentbridge eval autoencoder --data data/notes --json --plots runs/eval",
    "tagger": "latentbridge eval tagger --data data/clips --json --plots runs/eval",
    "classifier": "latentbridge eval classifier --data data/notes --json",
    "wavenet": "latentbridge eval wavenet --model runs/speech --data data/speech --json",
    "poly": "latentbridge eval poly --data data/poly --json --plots runs/eval_poly",
    "voices": "latentbridge eval voices --data data/poly --notes-data data/notes --files 40 --notes 40 --json",
}


SPEECH_WAVENET = "speech_wavenet"  # the bundled speech WaveNet (the other bundled WaveNet is a note decoder)


def _model_path(value: Path | None, kind: str, name: str | None = None) -> Path:
    if value is not None:
        return value
    from export.onnx.bundled import default_model

    return default_model(kind, name).path


def _load(value: Path | None, kind: str) -> Any:
    from models.training.checkpoint import load_model

    return load_model(_model_path(value, kind), kind)[0]


def _write(report: dict[str, Any], args: argparse.Namespace) -> None:
    text = json.dumps(report, indent=1)
    if args.out is not None:
        with atomic_output(args.out, force=args.force) as tmp:
            tmp.write_text(text + "\n")
    print(text if args.json else _summary(report))


def _summary(report: dict[str, Any]) -> str:
    if "table" in report and "best" in report:
        return _tune_summary(report)
    if "phrases" in report and "settings" in report:
        return _voices_summary(report)
    if "note_metric" in report:
        return _poly_summary(report)
    if "difference_hz" in report:
        return _speech_summary(report)
    if "family_accuracy_per_family" in report:
        return _classifier_summary(report)
    if "macro_roc_auc" in report:
        lines = [f"{report['clips']} {report['split']} clips: macro ROC-AUC {report['macro_roc_auc']:.3f}, "
                 f"macro PR-AUC {report['macro_pr_auc']:.3f}", f"{'tag':<16}{'ROC-AUC':>9}{'PR-AUC':>9}{'pos':>6}"]
        lines += [f"{t:<16}{report['roc_auc'][t]:>9.3f}{report['pr_auc'][t]:>9.3f}{report['positives'][t]:>6}"
                  for t in sorted(report["roc_auc"], key=lambda t: -report["roc_auc"][t])]
        return "\n".join(lines)
    lines = [f"{report['notes']} {report['split']} notes of {report['instruments']} held-out instruments"]
    for metric in ("pitch_accuracy", "periodicity", "family_accuracy", "mrstft", "loudness_l1",
                   "loudness_difference"):  # the two loudness ones in dB
        if report.get(metric):
            name = f"{metric} (dB)" if metric.startswith("loudness") else metric
            lines.append(f"{name:<25}" + "  ".join(f"{k} {v:.3f}" for k, v in report[metric].items()))
    if "interpolation" in report:
        i = report["interpolation"]
        lines.append("interpolation   P(A) " + " ".join(f"{p:.2f}" for p in i["p_family_a"])
                     + " | P(B) " + " ".join(f"{p:.2f}" for p in i["p_family_b"]))
    return "\n".join(lines)


def _load_note_decoder(path: Path) -> Any:
    """A note WaveNet decoder checkpoint: the period-back WaveNet or the LPC WaveNet."""
    from models.training.checkpoint import load_model

    model, state = load_model(path)
    if state["kind"] not in ("wavenet", "lpcwavenet"):
        raise LatentbridgeError(f"{path}: a {state['kind']} checkpoint, not a WaveNet decoder")
    return model


def run_autoencoder(args: argparse.Namespace) -> int:
    import torch

    from models.evaluation.eval_autoencoder import EvalSettings, evaluate

    torch.set_num_threads(args.threads)
    if args.notes < 1:
        raise LatentbridgeError("--notes must be >= 1")
    model = _load(args.model, "autoencoder")
    if args.no_level_correction:  # the decoder as trained, without the inference-time level correction
        model.level = None
    classifier = _load(args.classifier, "classifier")
    spectral = None if args.no_baseline else _load(args.spectral, "spectral")
    wavenet = None if args.wavenet is None else _load_note_decoder(args.wavenet)
    settings = EvalSettings(split=args.split, notes=args.notes, crepe=args.crepe, seed=args.seed)
    from models.wavenet.lpc_decoder import EXCITATION_BOUND

    bound = EXCITATION_BOUND if args.excitation_bound is None else args.excitation_bound
    if bound < 0:
        raise LatentbridgeError(f"--excitation-bound must be >= 0, got {bound}")
    report, variants, notes = evaluate(model, args.data, settings, classifier, spectral, wavenet,
                                       args.temperature, bound)
    report["level_correction"] = None if model.level is None else model.level.describe()
    report["models"] = {"autoencoder": str(_model_path(args.model, "autoencoder")),
                        "classifier": str(_model_path(args.classifier, "classifier")),
                        "spectral": None if spectral is None else str(_model_path(args.spectral, "spectral")),
                        "wavenet": None if args.wavenet is None else str(args.wavenet)}
    if args.plots is not None:
        report["plots"] = _autoencoder_plots(model, report, variants, notes, args.plots)
    if args.audio is not None:
        report["audio"] = _write_variants(variants, notes, args.audio, args.audio_notes)
    _write(report, args)
    return 0


def _classifier_summary(report: dict[str, Any]) -> str:
    lines = [f"{report['notes']} {report['split']} notes of {report['instruments']} instruments: family accuracy "
             f"{report['family_accuracy']:.3f}, pitch accuracy {report['pitch_accuracy']:.3f}",
             "  ".join(f"{f} {a:.2f}" for f, a in report["family_accuracy_per_family"].items())]
    twins = report.get("instruments_with_train_twin") or {}
    if twins:
        clean = report["family_accuracy_without_twins"]
        lines.append(f"{len(twins)} of these instruments have a same-sounding twin in train (not held out): "
                     + ", ".join(f"{k} ~ {v}" for k, v in twins.items()))
        lines.append(f"without them ({report['notes_without_twins']} notes): family accuracy "
                     + ("n/a" if clean is None else f"{clean:.3f}"))
    return "\n".join(lines)


def _write_variants(variants: dict[str, Any], notes: list[Any], directory: Path, count: int) -> list[str]:
    """WAVs (16 kHz, 16-bit) of the first `count` notes as <note_str>.<variant>.wav, for listening."""
    from export.core.audio_io import MODEL_RATE, write_audio

    written = []
    for i, note in enumerate(notes[:count]):
        for name, audio in variants.items():
            path = directory / f"{note.note_str}.{name}.wav"
            written.append(str(write_audio(path, audio[i], MODEL_RATE, force=True)))
    return written


def _autoencoder_plots(model: Any, report: dict[str, Any], variants: dict[str, Any], notes: list[Any],
                       directory: Path) -> list[str]:
    import torch

    from models.evaluation.eval_autoencoder import ALPHAS, interpolate
    from models.evaluation.plots import (
        interpolation_curve,
        interpolation_grid,
        latent_trajectories,
        reconstruction_grid,
    )

    original = variants["original"]
    paths = [reconstruction_grid(variants, notes, directory / "reconstructions.png")]
    picks = list(range(min(3, len(notes))))
    with torch.no_grad():
        latents = [model.encode(torch.from_numpy(original[i: i + 1]))[0][0].numpy() for i in picks]
    paths.append(latent_trajectories(latents, [f"{notes[i].instrument_str} p{notes[i].pitch}" for i in picks],
                                     directory / "latents.png"))
    if "interpolation" in report:
        paths.append(interpolation_curve(report["interpolation"], directory / "interpolation.png"))
        other = next((j for j, e in enumerate(notes)
                      if e.instrument_family_str != notes[0].instrument_family_str), None)
        if other is not None:
            path_audio = interpolate(model, original[0], original[other], ALPHAS)
            title = f"{notes[0].instrument_str} -> {notes[other].instrument_str} (pitch and loudness of A)"
            paths.append(interpolation_grid(path_audio, list(ALPHAS), title, directory / "interpolation_grid.png"))
    return [str(p) for p in paths]


def _speech_summary(report: dict[str, Any]) -> str:
    c, g, d, u, f = (report[k] for k in ("conditions", "gender_only", "data", "unvoiced", "follows_gender_onehot"))

    def count(entry: dict[str, Any]) -> str:
        notes = [", ".join(entry["speakers"])] if entry["speakers"] else []
        notes += [f"{entry['unvoiced']} more unvoiced"] if entry.get("unvoiced") else []
        return f"{entry['n']}/{entry['of']}" + (f" ({'; '.join(notes)})" if notes else "")
    return "\n".join([
        f"median f0 of the generated audio: female {c['female']['median_f0_hz']:.1f} Hz, male "
        f"{c['male']['median_f0_hz']:.1f} Hz (difference {report['difference_hz']:.1f} Hz); "
        f"data: female {d['female']:.1f} Hz, male {d['male']:.1f} Hz",
        f"the gender one-hot alone (every speaker id under each): female {g['female']['median_f0_hz']:.1f} Hz, "
        f"male {g['male']['median_f0_hz']:.1f} Hz",
        f"unvoiced speakers (no frame with periodicity >= 0.5): under their own one-hot female "
        f"{count(u['conditions']['female'])}, male {count(u['conditions']['male'])}; every id under the female "
        f"one-hot {count(u['gender_only']['female'])}, under the male one-hot {count(u['gender_only']['male'])}",
        f"speaker ids following the other gender's one-hot (median f0 nearer that gender's data median than their "
        f"own's), of the voiced ones: male ids under the female one-hot {count(f['female'])}, female ids under "
        f"the male one-hot {count(f['male'])}",
    ])


def run_wavenet(args: argparse.Namespace) -> int:
    import torch

    from models.data.vctk_reader import VCTKDataset
    from models.evaluation.eval_wavenet import speech_report
    from models.training.checkpoint import load_model

    torch.set_num_threads(args.threads)
    path = _model_path(args.model, "wavenet", SPEECH_WAVENET)
    model, state = load_model(path, "wavenet")
    speakers, genders = state["extra"].get("speakers"), state["extra"].get("genders")
    if not speakers or not genders:
        raise LatentbridgeError(f"{path}: not a speech WaveNet (no speaker list in the checkpoint)")
    report = speech_report(model, speakers, genders, VCTKDataset(args.data), args.seconds, args.temperature,
                           args.seed, args.crepe)
    report["model"] = str(path)
    _write(report, args)
    return 0


def run_classifier(args: argparse.Namespace) -> int:
    import torch

    from models.evaluation.eval_autoencoder import classifier_report

    torch.set_num_threads(args.threads)
    report = classifier_report(_load(args.model, "classifier"), args.data, args.split, args.notes)
    report["model"] = str(_model_path(args.model, "classifier"))
    _write(report, args)
    return 0


def _read_report(path: Path) -> dict[str, Any]:
    """An earlier eval tagger report (one line of error if it is not one)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LatentbridgeError(f"{path}: cannot read an eval report ({exc.__class__.__name__})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("roc_auc"), dict) or "macro_roc_auc" not in report:
        raise LatentbridgeError(f"{path}: not an `eval tagger --json` report (no roc_auc / macro_roc_auc)")
    return report


def run_tagger(args: argparse.Namespace) -> int:
    import torch

    from models.evaluation.eval_tagger import evaluate

    if args.compare is not None:
        _read_report(args.compare)  # a bad file fails before the work
    torch.set_num_threads(args.threads)
    report = evaluate(_load(args.model, "tagger"), args.data, args.split)
    report["model"] = str(_model_path(args.model, "tagger"))
    if args.plots is not None:
        from models.evaluation.plots import tag_auc_bars

        baseline = _read_report(args.compare) if args.compare is not None else None
        report["plots"] = [str(tag_auc_bars(report, args.plots / "tag_auc.png", baseline))]
    _write(report, args)
    return 0


def _tune_summary(report: dict[str, Any]) -> str:
    lines = [f"note-onset F1 on {report['phrases']} {report['split']} phrases (onset "
             f"{report['onset_tolerance'] * 1000:g} ms): today's defaults {report['default']['f1']:.3f}"]
    for row in report["table"][:5]:
        lines.append(f"  {row['f1']:.3f}  " + ", ".join(f"{k} {v:g}" for k, v in row["settings"].items()))
    if "basic_pitch" in report:
        bp = report["basic_pitch"]
        lines.append(f"Basic Pitch on the same phrases: its defaults {bp['default']['f1']:.3f}")
        lines += [f"  {row['f1']:.3f}  " + ", ".join(f"{k} {v:g}" for k, v in row["settings"].items())
                  for row in bp["table"][:5]]
    return "\n".join(lines)


def _poly_summary(report: dict[str, Any]) -> str:
    lines = [f"{report['files']} {report['split']} files, {report['reference_notes']} notes; frames: "
             f"{report['frame_metric']}; notes: {report['note_metric']}"]
    for name in ("ours", "basic_pitch"):
        if name in report:
            r = report[name]
            f, n = r["frame"], r["note_onset"]
            lines.append(f"{name:<12} frame P/R/F1 {f.get('precision', 0):.3f}/{f.get('recall', 0):.3f}/"
                         f"{f.get('f1', 0):.3f}  note onset P/R/F1 {n.get('precision', 0):.3f}/"
                         f"{n.get('recall', 0):.3f}/{n.get('f1', 0):.3f}  ({r['files_scored']} files, "
                         f"{r['estimated_notes']} notes, {len(r['failures'])} failures)")
            if "note_onset_latency_compensated" in r:
                c = r["note_onset_latency_compensated"]
                lines.append(f"{'':<12} note onset F1 with onsets {c['shift_s'] * 1000:g} ms earlier (the causal "
                             f"detection delay): {c.get('f1', 0):.3f}")
            if "one_frame_lookahead" in r:
                a = r["one_frame_lookahead"]
                lines.append(f"{'':<12} with one frame (8 ms) of look-ahead: frame F1 {a['frame'].get('f1', 0):.3f}, "
                             f"note onset F1 {a['note_onset'].get('f1', 0):.3f}")
    systems = [name for name in ("ours", "basic_pitch") if name in report]
    lines.append(f"{'style':<12}{'files':>6}" + "".join(f"{name + ' frame/note F1':>28}" for name in systems))
    for style, row in report[systems[0]].get("per_style", {}).items():
        cells = [report[name]["per_style"].get(style, {}) for name in systems]
        lines.append(f"{style:<12}{row['files']:>6}" + "".join(
            f"{c.get('frame_f1', 0):>22.3f}/{c.get('note_onset_f1', 0):.3f}" for c in cells))
    return "\n".join(lines)


def _voices_summary(report: dict[str, Any]) -> str:
    ph = report["phrases"]
    f1, fam = ph["basic_pitch_note_onset_f1"], ph["family_probability"]
    lines = [f"{ph['files']} {report['split']} phrases: Basic Pitch note-onset F1 input {f1['input']:.3f}, poly "
             f"{f1['poly']:.3f} ({ph['poly_over_input']:.2f}x), mono {f1['mono']:.3f} "
             f"({ph['mono_over_input']:.2f}x); no notes found {ph['no_notes_found']}; P({ph['family']}) "
             f"{fam['input']:.3f} -> {fam['poly_amount_1']:.3f}"]
    tolerances = "; ".join(f"{name}: input {r['input']:.3f}, poly {r['poly']:.3f} ({r['poly_over_input'] or 0:.2f}x)"
                           for name, r in ph["by_onset_tolerance"].items())
    lines.append(f"by onset tolerance (issue 16 judges at 80 ms) {tolerances}")
    lag = ph["poly_onset_lag_ms"]
    if lag["percentiles_ms"] is not None:
        spread = " / ".join(f"{v:.0f}" for v in lag["percentiles_ms"].values())
        lines.append(f"poly onsets against the input's (Basic Pitch, {lag['found_in_both']} of {lag['notes']} notes "
                     f"found in both): lag percentiles 10/25/50/75/90 {spread} ms, "
                     f"{lag['within_25_ms_of_median']:.2f} within 25 ms of the median")
    if "notes" in report:
        nt = report["notes"]
        m, fam = nt["means"], nt["family_probability"]
        lines.append(f"{nt['notes']} notes: CREPE pitch / periodicity original {m['original']['pitch']:.3f} / "
                     f"{m['original']['periodicity']:.3f}, mono {m['mono']['pitch']:.3f} / "
                     f"{m['mono']['periodicity']:.3f}, poly {m['poly']['pitch']:.3f} / "
                     f"{m['poly']['periodicity']:.3f}; P({nt['family']}) "
                     f"{fam['input']:.3f} -> {fam['poly_amount_1']:.3f}")
    return "\n".join(lines)


def run_voices(args: argparse.Namespace) -> int:
    import torch

    from export.autoencoder.morphing import check_align_attacks
    from models.evaluation.eval_voices import VoicesSettings, evaluate_voices

    torch.set_num_threads(args.threads)
    settings = VoicesSettings(args.split, args.files, args.notes, args.family, args.onset_tolerance,
                              align_attacks_ms=check_align_attacks(args.align_attacks),
                              oracle_tracker=args.oracle_tracker)
    report = evaluate_voices(_load(args.classifier, "classifier"), args.data, args.notes_data, settings,
                             args.tracker, args.plots)
    report["classifier"] = str(_model_path(args.classifier, "classifier"))
    _write(report, args)
    return 0


def run_poly(args: argparse.Namespace) -> int:
    import torch

    from models.evaluation.eval_poly import BasicPitchNotes, evaluate, piano_rolls

    torch.set_num_threads(args.threads)
    if args.tune is not None:
        from models.evaluation.tune_poly import tune_basic_pitch, tune_notes

        split = "valid" if args.split == "test" else args.split
        report = tune_notes(_load(args.model, "poly"), args.data, split, args.tune, args.onset_tolerance)
        report["model"] = str(_model_path(args.model, "poly"))
        if not args.no_basic_pitch:
            report["basic_pitch"] = tune_basic_pitch(args.data, split, args.tune, args.onset_tolerance)
        _write(report, args)
        return 0
    bp_notes = BasicPitchNotes(*args.basic_pitch_notes)
    report, rows = evaluate(_load(args.model, "poly"), args.data, args.split, args.onset_tolerance,
                            not args.no_basic_pitch, args.files, bp_notes)
    report["model"] = str(_model_path(args.model, "poly"))
    if args.plots is not None:
        report["plots"] = piano_rolls(rows, args.plots)
    _write(report, args)
    return 0


def _common(parser: argparse.ArgumentParser, data_help: str) -> None:
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled one)")
    parser.add_argument("--data", type=Path, required=True, help=data_help)
    parser.add_argument("--split", default="test", help="held-out split (default: test; tagger: also all)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    parser.add_argument("--plots", type=Path, default=None, help="write PNG plots into this directory")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from models.evaluation.label_tracker import ORACLE_PARTS

    parser = subparsers.add_parser("eval", help="judge trained models on held-out data",
                                   description="Judge trained models on held-out data.")
    kinds = parser.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    ae = kinds.add_parser("autoencoder", help="CREPE pitch / periodicity, family accuracy, MR-STFT, "
                          "loudness L1, interpolation", epilog=f"Example: {EXAMPLES['autoencoder']}")
    _common(ae, "NSynth-layout dataset root (e.g. data/notes)")
    ae.add_argument("--classifier", type=Path, default=None, help="note classifier (default: bundled)")
    ae.add_argument("--spectral", type=Path, default=None, help="spectral baseline (default: bundled)")
    ae.add_argument("--no-baseline", action="store_true", help="skip the spectral baseline")
    ae.add_argument("--notes", type=int, default=64, help="held-out notes to judge (default: 64)")
    ae.add_argument("--crepe", choices=("full", "tiny"), default="full", help="CREPE model (default: full)")
    ae.add_argument("--seed", type=int, default=0, help="seed of the note choice and sampling (default: 0)")
    ae.add_argument("--wavenet", type=Path, default=None,
                    help="also judge this WaveNet decoder (a note WaveNet or an LPC WaveNet run)")
    ae.add_argument("--audio", type=Path, default=None, help="write WAVs of the first notes and their "
                    "reconstructions into this directory")
    ae.add_argument("--audio-notes", type=int, default=4, help="how many notes --audio writes (default: 4)")
    ae.add_argument("--temperature", type=float, default=0.7, help="WaveNet sampling temperature (default 0.7)")
    ae.add_argument("--excitation-bound", type=float, default=None,
                    help="LPC WaveNet: clip each excitation to this many times the frame's RMS of the harmonic "
                    "output's excitation (default: the generator's, models.wavenet.lpc_decoder.EXCITATION_BOUND; "
                    "0 = unbounded)")
    ae.add_argument("--no-level-correction", action="store_true", help="judge the harmonic decoder without its "
                    "per-frame level correction toward the loudness control (as trained)")
    ae.set_defaults(func=run_autoencoder)
    wn = kinds.add_parser("wavenet", help="speech WaveNet: median f0 of generated audio per gender condition, "
                          "unvoiced speaker ids, ids that follow the other gender's one-hot",
                          epilog=f"Example: {EXAMPLES['wavenet']}")
    _common(wn, "VCTK-layout speech folder it was trained on (e.g. data/speech)")
    wn.add_argument("--seconds", type=float, default=2.0, help="seconds generated per speaker and condition")
    wn.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    wn.add_argument("--crepe", choices=("full", "tiny"), default="full", help="CREPE model (default: full)")
    wn.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    wn.set_defaults(func=run_wavenet)
    classifier = kinds.add_parser("classifier", help="note classifier: family and pitch accuracy",
                                  epilog=f"Example: {EXAMPLES['classifier']}")
    _common(classifier, "NSynth-layout dataset root (e.g. data/notes)")
    classifier.add_argument("--notes", type=int, default=1000, help="held-out notes (default: 1000)")
    classifier.set_defaults(func=run_classifier)
    tagger = kinds.add_parser("tagger", help="macro ROC-AUC / PR-AUC and a per-tag table",
                              epilog=f"Example: {EXAMPLES['tagger']}")
    _common(tagger, "MTAT-layout root (e.g. data/clips)")
    tagger.add_argument("--compare", type=Path, default=None,
                        help="an earlier `eval tagger --json` report: --plots draws its per-tag AUC beside")
    tagger.set_defaults(func=run_tagger)
    poly = kinds.add_parser("poly", help="multi-pitch tracker: frame and note-onset P/R/F1 beside Basic Pitch",
                            epilog=f"Example: {EXAMPLES['poly']}")
    _common(poly, "phrase dataset root (e.g. data/poly)")
    poly.add_argument("--onset-tolerance", type=float, default=0.05,
                      help="note-onset tolerance in seconds (default: 0.05)")
    poly.add_argument("--no-basic-pitch", action="store_true", help="skip the Basic Pitch reference row")
    poly.add_argument("--basic-pitch-notes", type=float, nargs=3, default=[0.5, 0.3, 127.7],
                      metavar=("ONSET", "FRAME", "MIN_MS"),
                      help="Basic Pitch's note thresholds and shortest note in ms (default: its own, 0.5 0.3 127.7; "
                           "`--tune` chooses them on valid phrases beside ours)")
    poly.add_argument("--files", type=int, default=None, help="judge only the first N files (default: all)")
    poly.add_argument("--tune", type=int, default=None, metavar="N",
                      help="instead of judging, choose the note-extraction thresholds on the first N phrases of "
                      "the valid split (or --split, never test): every setting's note-onset F1, best first")
    poly.set_defaults(func=run_poly)
    voices = kinds.add_parser("voices", help="poly voices end to end: Basic Pitch F1 through morph --voices poly, "
                              "CREPE on single notes, family probability toward a target",
                              epilog=f"Example: {EXAMPLES['voices']}")
    _common(voices, "`dataset poly` root (e.g. data/poly)")
    voices.add_argument("--notes-data", type=Path, default=None, help="NSynth-layout notes for the single-note "
                        "checks (e.g. data/notes; default: phrases only)")
    voices.add_argument("--files", type=int, default=40, help="phrases, balanced over styles (default: 40)")
    voices.add_argument("--notes", type=int, default=40, help="single notes (default: 40)")
    voices.add_argument("--family", default="string", help="target family for amount 1 (default: string)")
    voices.add_argument("--classifier", type=Path, default=None, help="note classifier (default: bundled)")
    voices.add_argument("--tracker", type=Path, default=None, help="tracker graph NAME.tracker.onnx (default: "
                        "bundled)")
    voices.add_argument("--onset-tolerance", type=float, default=0.05, help="note-onset tolerance in s (0.05)")
    voices.add_argument("--align-attacks", type=float, default=0.0, metavar="MS",
                        help="every morph's output MS earlier, as `morph --align-attacks` (default: 0)")
    voices.add_argument("--oracle-tracker", nargs="?", const="all", default=None, choices=ORACLE_PARTS,
                        help="the poly voices read each phrase's labels instead of the tracker: what a perfect "
                             "tracker would leave to the voices and the decoder (a diagnostic; phrases only); "
                             "'frames' or 'onsets' replace only that output of the tracker, 'clean' removes its "
                             "false frames, 'filled' its missed ones (default: all)")
    voices.set_defaults(func=run_voices)
