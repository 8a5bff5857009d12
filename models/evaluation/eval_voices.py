"""`latentbridge eval voices`: the polyphonic voices end to end, through the same offline morph as the CLI.

Phrases (16 kHz, a `dataset poly` split, the first files of each style in turn): Basic Pitch's note-onset F1
(mir_eval, 50 cents, `onset_tolerance`) against the labels on the input, on `morph --voices poly --amount 0`
and on `--voices mono --amount 0`; and the note classifier's probability of `family` on the input and on the
poly morph with amount 1 toward that family (the mean over the phrase's 2-s windows). Notes (an NSynth-layout
split, round robin over instruments): CREPE pitch accuracy and periodicity of the originals, the mono and the
poly resynthesis, and the family probability before and after amount 1 toward `family`. Means sit beside
counts: phrases Basic Pitch found no note in, and notes CREPE called unvoiced, are reported, not dropped.
`poly_onset_lag_ms`: how late the poly morph starts each note against the input, as Basic Pitch hears both
(onset_lag.py; after the alignment). `by_onset_tolerance`: the same F1 at 50 ms and at 80 ms (the tolerance issue
16 judged with), whatever `onset_tolerance` is.
`--plots DIR` draws the first strum, block-chord and arpeggio phrase (voices_plot.py). With `oracle_tracker` the
poly voices read each phrase's labels instead of the tracker (label_tracker.py): the ceiling a perfect tracker
would leave to the voices and the decoder (phrases only); "frames" or "onsets" replace only that output.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from export.autoencoder.latent_bank import LatentBank
from export.autoencoder.morphing import morph_mono, parse_target
from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError
from export.core.progress import bar
from export.onnx.bundled import BUNDLED_DIR
from export.poly.offline import voices_decoder
from export.poly.tracker import PolyTracker
from models.classifier.model import FAMILIES, NoteClassifier
from models.data.poly_midi import NoteLabel
from models.data.poly_reader import PolyPhrase
from models.evaluation.eval_autoencoder import EvalSettings, eval_notes
from models.evaluation.eval_poly import basic_pitch_model, basic_pitch_transcription, note_scores
from models.evaluation.label_tracker import LabelTracker
from models.evaluation.onset_lag import lag_summary, onset_lags_ms
from models.evaluation.voices_plot import plot_voices
from models.judges.crepe import judge_note
from models.polypitch.labels import read_phrases

PLOTTED = ("strum", "block", "arpeggio")  # styles drawn with --plots, the first phrase of each
# Onset tolerances (s) every report also scores, beside `onset_tolerance`: mir_eval's default, and the 80 ms with
# which issue 16 measured the one-drone output (its judge: "note-onset F1 at 50 cents / 80 ms").
REPORTED_TOLERANCES = (0.05, 0.08)


@dataclass(frozen=True)
class VoicesSettings:
    split: str = "test"
    files: int = 40
    notes: int = 40
    family: str = "string"
    onset_tolerance: float = 0.05
    seed: int = 0
    align_attacks_ms: float = 0.0  # every morph's output this much earlier (`morph --align-attacks`)
    oracle_tracker: str | None = None  # None, or which tracker outputs the labels replace (label_tracker.py)


def balanced(phrases: list[PolyPhrase], count: int) -> list[PolyPhrase]:
    """The first phrases of each style in turn, `count` in all."""
    styles: dict[str, list[PolyPhrase]] = {}
    for p in phrases:
        styles.setdefault(p.style, []).append(p)
    chosen: list[PolyPhrase] = []
    depth = 0
    while len(chosen) < count and any(depth < len(v) for v in styles.values()):
        chosen += [v[depth] for v in styles.values() if depth < len(v)][: count - len(chosen)]
        depth += 1
    return chosen


def family_probability(classifier: NoteClassifier, audio: np.ndarray, family: str) -> float:
    """Mean probability of `family` over the 2-s windows of `audio` (zero-padded to whole windows)."""
    n = classifier.cfg.n_samples
    windows = max(1, -(-audio.shape[0] // n))
    padded = np.zeros(windows * n, np.float32)
    padded[: audio.shape[0]] = audio
    probabilities, _ = classifier.predict(padded.reshape(windows, n))
    return float(probabilities[:, FAMILIES.index(family)].mean())


class Voices:
    """The offline morphs compared: mono and poly at amount 0, poly at amount 1 toward the family."""

    def __init__(self, family: str, tracker: Path | None = None, align_attacks_ms: float = 0.0,
                 oracle: str | None = None) -> None:
        self.ae = OnnxAutoencoder.open()
        self.bank = LatentBank.load(BUNDLED_DIR / "ae_default.bank.npz")
        self.target = parse_target(family, self.bank, self.ae)
        self.labels = None
        if oracle is not None:
            self.labels = LabelTracker(oracle, None if oracle == "all" else PolyTracker.open(tracker))
        self.poly = voices_decoder(self.ae, "poly", tracker_path=tracker, source=self.labels)
        self.advance = round(align_attacks_ms * MODEL_RATE / 1000.0)

    def use_labels(self, notes: tuple[NoteLabel, ...]) -> None:
        """The phrase the next morphs are of (read by the oracle tracker; nothing otherwise)."""
        if self.labels is not None:
            self.labels.use(notes)

    def morph(self, audio: np.ndarray, voices: str, amount: float) -> np.ndarray:
        decode = self.poly() if voices == "poly" else None
        return morph_mono(self.ae, audio, self.target, amount, self.bank, decode=decode, advance=self.advance)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _at_tolerance(scores: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Mean F1 per output (input, poly, mono), poly and mono over the input's, and the mean precision and recall
    (a low precision is notes that were not played, a low recall notes lost)."""
    means = {name: _mean([s["f1"] for s in rows]) for name, rows in scores.items()}
    base = means["input"]
    return {**means, **{f"{name}_over_input": means[name] / base if base and means[name] is not None else None
                        for name in ("poly", "mono")},
            **{kind: {name: _mean([s[kind] for s in rows]) for name, rows in scores.items()}
               for kind in ("precision", "recall")}}


def judge_phrases(voices: Voices, classifier: NoteClassifier, phrases: list[PolyPhrase],
                  settings: VoicesSettings, plots: Path | None = None) -> dict[str, Any]:
    bp = basic_pitch_model()
    names = ("input", "poly", "mono")
    tolerances = sorted({*REPORTED_TOLERANCES, settings.onset_tolerance})
    scores_at: dict[float, dict[str, list[dict[str, float]]]] = {t: {name: [] for name in names} for t in tolerances}
    silent: dict[str, int] = {name: 0 for name in names}
    before, after = [], []
    lags: list[float] = []
    plotted: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, bar("phrases", total=len(phrases), unit="phrase") as progress:
        for phrase in phrases:
            audio = read_mono(phrase.audio_path, MODEL_RATE)
            voices.use_labels(phrase.notes)
            outputs = {"input": audio, "poly": voices.morph(audio, "poly", 0.0),
                       "mono": voices.morph(audio, "mono", 0.0)}
            heard = {}
            for name, signal in outputs.items():
                path = Path(tmp) / f"{name}.wav"
                soundfile.write(path, signal, MODEL_RATE, subtype="FLOAT")
                transcription, _ = basic_pitch_transcription(path, signal.shape[0] // 128, bp)
                heard[name] = transcription.notes
                silent[name] += not transcription.notes
                for tolerance in tolerances:
                    scores_at[tolerance][name].append(note_scores(phrase.notes, transcription.notes, tolerance))
            lags += onset_lags_ms(phrase.notes, heard["input"], heard["poly"])
            toward = voices.morph(audio, "poly", 1.0)
            before.append(family_probability(classifier, audio, settings.family))
            after.append(family_probability(classifier, toward, settings.family))
            if plots is not None and phrase.style in PLOTTED and phrase.style not in plotted:
                plotted[phrase.style] = str(plots / f"voices_{phrase.style}.png")
                panels = [("input", audio), ("--voices poly, amount 0", outputs["poly"]),
                          (f"amount 1 toward {settings.family}", toward)]
                plot_voices(Path(plotted[phrase.style]), panels, phrase.notes,
                            f"{phrase.name} ({phrase.style}, held-out instrument)")
            progress.update(1)
    headline = _at_tolerance(scores_at[settings.onset_tolerance])
    f1 = {name: [s["f1"] for s in rows] for name, rows in scores_at[settings.onset_tolerance].items()}
    per_style = {style: {name: _mean([v[i] for i, p in enumerate(phrases) if p.style == style])
                         for name, v in f1.items()} for style in sorted({p.style for p in phrases})}
    return {"files": len(phrases), "styles": sorted({p.style for p in phrases}), "per_style_f1": per_style,
            "basic_pitch_note_onset_f1": {name: headline[name] for name in names}, "no_notes_found": silent,
            "poly_over_input": headline["poly_over_input"], "mono_over_input": headline["mono_over_input"],
            "by_onset_tolerance": {f"{1000 * t:g} ms": _at_tolerance(scores_at[t]) for t in tolerances},
            "poly_onset_lag_ms": lag_summary(lags, sum(len(p.notes) for p in phrases)),
            "family": settings.family, "family_probability": {"input": _mean(before), "poly_amount_1": _mean(after)},
            "plots": plotted}


def judge_notes(voices: Voices, classifier: NoteClassifier, data: Path, settings: VoicesSettings) -> dict[str, Any]:
    notes = eval_notes(data, EvalSettings(split=settings.split, notes=settings.notes, seed=settings.seed))
    samples = int(EvalSettings().seconds * MODEL_RATE)
    names = ("original", "mono", "poly")
    rows: dict[str, dict[str, list[float]]] = {n: {"pitch": [], "periodicity": []} for n in names}
    unvoiced = {name: 0 for name in rows}
    before, after = [], []
    with bar("notes", total=len(notes), unit="note") as progress:
        for example in notes:
            audio = read_mono(example.audio_path, MODEL_RATE)[:samples]
            signals = {"original": audio, "mono": voices.morph(audio, "mono", 0.0),
                       "poly": voices.morph(audio, "poly", 0.0)}
            for name, signal in signals.items():
                judged = judge_note(signal, example.pitch, 0.1, 1.9)
                rows[name]["pitch"].append(judged.pitch_accuracy)
                rows[name]["periodicity"].append(judged.periodicity)
                unvoiced[name] += judged.pitch_accuracy == 0.0
            before.append(family_probability(classifier, audio, settings.family))
            after.append(family_probability(classifier, voices.morph(audio, "poly", 1.0), settings.family))
            progress.update(1)
    means = {name: {k: _mean(v) for k, v in r.items()} for name, r in rows.items()}
    original = means["original"]
    ratio = {name: {k: (means[name][k] or 0.0) / original[k] if original[k] else None for k in original}
             for name in ("mono", "poly")}
    return {"notes": len(notes), "means": means, "over_original": ratio, "notes_with_no_pitch_match": unvoiced,
            "family": settings.family, "family_probability": {"input": _mean(before), "poly_amount_1": _mean(after)}}


def evaluate_voices(classifier: NoteClassifier, poly_data: Path, notes_data: Path | None,
                    settings: VoicesSettings, tracker: Path | None = None, plots: Path | None = None) -> dict[str, Any]:
    if settings.oracle_tracker == "all" and tracker is not None:
        raise LatentbridgeError("--oracle-tracker all replaces the tracker: leave out --tracker")
    if settings.oracle_tracker and notes_data is not None:
        raise LatentbridgeError("--oracle-tracker judges phrases only (the single notes have no phrase labels): "
                                "leave out --notes-data")
    voices = Voices(settings.family, tracker, settings.align_attacks_ms, settings.oracle_tracker)
    phrases = balanced(read_phrases(poly_data, settings.split), settings.files)
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"split": settings.split, "settings": vars(settings),
                              "phrases": judge_phrases(voices, classifier, phrases, settings, plots)}
    if notes_data is not None:
        report["notes"] = judge_notes(voices, classifier, notes_data, settings)
    return report
