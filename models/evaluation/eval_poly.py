"""Judging the multi-pitch tracker on held-out phrases, beside Spotify's Basic Pitch on the same files.

Frames of 128 samples at 16 kHz, time stamp i * 128 / 16000 s for frame i (reference and estimates on the same
grid). Frame metrics: mir_eval.multipitch (50 cents) of the reference's sounding (bent) pitches against ours
(local maxima of the activations at or above 0.5, parabola-refined) and Basic Pitch's (its note posteriorgram
at or above its default frame threshold 0.3, the frame nearest each of our frame centres). Note metrics:
mir_eval.transcription onset-only (pitch within 50 cents, onset within `onset_tolerance`, 50 ms) of our notes
(export/poly/note_events.py) and Basic Pitch's note events. Per-file scores are averaged; counts of files,
notes and failures are reported beside the means, and per phrase style (`per_style`: files, frame F1, note-onset
F1). Two "what would it take" rows for ours: onsets moved DETECTION_LATENCY_S earlier, and the one frame of
look-ahead the issue allows (`one_frame_lookahead`: every output read one frame earlier).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.progress import progress
from export.poly.note_events import NoteEvent, extract_notes
from export.poly.tracker import frame_pitches, midi_hz
from models.data.poly_midi import NoteLabel
from models.data.poly_reader import PolyPhrase
from models.polypitch.labels import read_phrases, reference_grid

FRAME_THRESHOLD = 0.5
# The causal tracker hears an attack a little late (its windows end at the frame's end, no look-ahead): measured
# on 60 valid phrases with the bundled tracker and the default note settings (2026-12-06), moving our onsets this
# much earlier gives the best note-onset F1 (0 / 8 / 16 / 24 / 32 / 40 ms: 0.676 / 0.674 / 0.678 / 0.663 / 0.639 /
# 0.587). Before the onsets moved back along the activations' rising edge, 24 ms was best (0.613 -> 0.654).
# Reported beside the raw score as what the zero look-ahead still costs in onset timing alone.
DETECTION_LATENCY_S = 0.016
BASIC_PITCH_FRAME_THRESHOLD = 0.3  # basic_pitch.inference.predict's default
PLOTTED_FILES = 3  # piano rolls drawn by --plots (the first files)


@dataclass(frozen=True)
class BasicPitchNotes:
    """Basic Pitch's note-creation thresholds (`basic_pitch.inference.predict`'s; its defaults here). Its frame
    row always reads the posteriorgram at BASIC_PITCH_FRAME_THRESHOLD."""

    onset: float = 0.5
    frame: float = 0.3
    min_note_ms: float = 127.7


@dataclass
class Transcription:
    """One system's output on one phrase: pitches per frame (fractional MIDI) and notes."""

    frames: list[np.ndarray]
    notes: list[NoteEvent]


def ours(model: nn.Module, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(activations [F, 264], onsets [F, 88]) of the torch model on a whole phrase (sigmoid)."""
    frames = audio.shape[0] // model.cfg.hop
    with torch.no_grad():
        act, onset = model(torch.from_numpy(np.ascontiguousarray(audio[: frames * model.cfg.hop]))[None])
    return torch.sigmoid(act[0]).numpy(), torch.sigmoid(onset[0]).numpy()


def transcribe(act: np.ndarray, onset: np.ndarray) -> Transcription:
    return Transcription([frame_pitches(row, FRAME_THRESHOLD) for row in act], extract_notes(act, onset))


def one_frame_ahead(act: np.ndarray, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tracker's outputs reported one frame earlier (frame i reads the output of i + 1, the last frame none):
    the tracker with the one frame of look-ahead the issue allows, at 8 ms more delay."""
    return (np.concatenate([act[1:], np.zeros_like(act[:1])]),
            np.concatenate([onset[1:], np.zeros_like(onset[:1])]))


def our_transcription(model: nn.Module, audio: np.ndarray) -> tuple[Transcription, np.ndarray, np.ndarray]:
    """(the transcription, activations, onsets)."""
    act, onset = ours(model, audio)
    return transcribe(act, onset), act, onset


def basic_pitch_model() -> Path:
    """The ONNX model that ships in the installed `basic_pitch` package (its TensorFlow warnings silenced)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from basic_pitch import ICASSP_2022_MODEL_PATH
    finally:
        root.setLevel(level)
    path = Path(ICASSP_2022_MODEL_PATH)
    return path if path.suffix == ".onnx" else path / "nmp.onnx"


def basic_pitch_output(path: Path, model_path: Path) -> dict[str, np.ndarray]:
    """Basic Pitch's posteriorgrams of one file ("note", "onset", "contour"; 22 050 / 256 frames per second)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from basic_pitch.inference import predict

        output, _, _ = predict(str(path), model_or_model_path=str(model_path))
    return output


def basic_pitch_notes(output: dict[str, np.ndarray], thresholds: BasicPitchNotes) -> list[NoteEvent]:
    """Basic Pitch's note events from its posteriorgrams, as `predict` makes them with these thresholds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP
        from basic_pitch.note_creation import model_output_to_notes

        min_frames = int(np.round(thresholds.min_note_ms / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP)))
        _, events = model_output_to_notes(output, onset_thresh=thresholds.onset, frame_thresh=thresholds.frame,
                                          min_note_len=min_frames, include_pitch_bends=False)
    return [NoteEvent(float(s), float(e), float(p), float(a)) for s, e, p, a, *_ in events]


def basic_pitch_transcription(path: Path, frames: int, model_path: Path,
                              thresholds: BasicPitchNotes | None = None) -> tuple[Transcription, np.ndarray]:
    """Basic Pitch on one file: its note posteriorgram on our frame grid and its note events."""
    from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP

    output = basic_pitch_output(path, model_path)
    posterior = output["note"]  # [frames at 22050 / 256 Hz, 88]
    centres = (np.arange(frames) + 0.5) * 128 / MODEL_RATE
    index = np.minimum(np.round(centres * AUDIO_SAMPLE_RATE / FFT_HOP).astype(int), posterior.shape[0] - 1)
    grid = posterior[index]
    pitches = [21.0 + np.flatnonzero(row >= BASIC_PITCH_FRAME_THRESHOLD) for row in grid]
    return Transcription(pitches, basic_pitch_notes(output, thresholds or BasicPitchNotes())), grid


def frame_scores(reference: list[np.ndarray], estimate: list[np.ndarray]) -> dict[str, float]:
    import mir_eval

    times = np.arange(len(reference)) * 128 / MODEL_RATE
    with warnings.catch_warnings():  # "all empty" notices for silent references or estimates
        warnings.simplefilter("ignore", UserWarning)
        scores = mir_eval.multipitch.evaluate(times, [midi_hz(r) for r in reference], times,
                                              [midi_hz(e) for e in estimate])
    p, r = float(scores["Precision"]), float(scores["Recall"])
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def note_scores(reference: tuple[NoteLabel, ...], estimate: list[NoteEvent],
                onset_tolerance: float) -> dict[str, float]:
    import mir_eval

    ref_int = np.array([[n.onset, n.offset] for n in reference]).reshape(-1, 2)
    ref_hz = np.array([float(midi_hz(n.pitch)) for n in reference])
    est_int = np.array([[n.onset, max(n.offset, n.onset + 1e-3)] for n in estimate]).reshape(-1, 2)
    est_hz = np.array([n.hz for n in estimate])
    if not len(ref_int) or not len(est_int):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_int, ref_hz, est_int, est_hz, onset_tolerance=onset_tolerance, pitch_tolerance=50.0, offset_ratio=None)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def _per_style(styles: list[str], frames: list[dict[str, float]],
               notes: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per phrase style (strum, block, ...): files, mean frame F1 and mean note-onset F1."""
    out = {}
    for style in sorted(set(styles)):
        chosen = [i for i, s in enumerate(styles) if s == style]
        out[style] = {"files": len(chosen), "frame_f1": float(np.mean([frames[i]["f1"] for i in chosen])),
                      "note_onset_f1": float(np.mean([notes[i]["f1"] for i in chosen]))}
    return out


def evaluate(model: nn.Module, data: Path, split: str, onset_tolerance: float = 0.05, basic_pitch: bool = True,
             limit: int | None = None, bp_notes: BasicPitchNotes | None = None, keep_rows: int = PLOTTED_FILES
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, the first `keep_rows` files' rows for plots: phrase, reference grid, our and Basic Pitch's
    activations; the rest are scored and dropped, so a whole split fits in memory)."""
    phrases: list[PolyPhrase] = read_phrases(data, split)[:limit]
    bp_path = basic_pitch_model() if basic_pitch else None
    systems: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {"frames": [], "notes": []} for name in (("ours", "basic_pitch") if basic_pitch else ("ours",))}
    styles: dict[str, list[str]] = {name: [] for name in systems}  # the style of each scored file
    failures: dict[str, list[str]] = {name: [] for name in systems}
    counts = {name: 0 for name in systems}
    compensated: list[dict[str, float]] = []
    ahead: dict[str, list[dict[str, float]]] = {"frames": [], "notes": []}
    rows = []
    for phrase in progress(phrases, f"eval poly ({split})", unit="file"):
        audio = read_mono(phrase.audio_path, MODEL_RATE)
        frames = audio.shape[0] // 128
        reference = reference_grid(phrase.notes, frames, 128, MODEL_RATE)
        row: dict[str, Any] = {"phrase": phrase, "reference": reference}
        for name in systems:
            try:
                if name == "ours":
                    result, row["ours"], onsets = our_transcription(model, audio)
                    later = transcribe(*one_frame_ahead(row["ours"], onsets))
                    ahead["frames"].append(frame_scores(reference, later.frames))
                    ahead["notes"].append(note_scores(phrase.notes, later.notes, onset_tolerance))
                else:
                    assert bp_path is not None
                    result, row["basic_pitch"] = basic_pitch_transcription(phrase.audio_path, frames, bp_path,
                                                                           bp_notes)
            except Exception as exc:  # a judge that fails on one file is counted, not fatal
                failures[name].append(f"{phrase.name}: {' '.join(str(exc).split())[:120]}")
                continue
            systems[name]["frames"].append(frame_scores(reference, result.frames))
            systems[name]["notes"].append(note_scores(phrase.notes, result.notes, onset_tolerance))
            styles[name].append(phrase.style)
            if name == "ours":
                early = [NoteEvent(max(0.0, n.onset - DETECTION_LATENCY_S), n.offset, n.midi, n.activation)
                         for n in result.notes]
                compensated.append(note_scores(phrase.notes, early, onset_tolerance))
            counts[name] += len(result.notes)
        if len(rows) < keep_rows:
            rows.append(row)
    report: dict[str, Any] = {
        "split": split, "files": len(phrases), "reference_notes": sum(len(p.notes) for p in phrases),
        "frame_hop": 128, "frame_threshold": FRAME_THRESHOLD,
        "basic_pitch_frame_threshold": BASIC_PITCH_FRAME_THRESHOLD if basic_pitch else None,
        "basic_pitch_notes": asdict(bp_notes or BasicPitchNotes()) if basic_pitch else None,
        "note_metric": f"mir_eval.transcription onset-only, pitch 50 cents, onset {onset_tolerance * 1000:g} ms",
        "frame_metric": "mir_eval.multipitch, 50 cents, mean over files",
    }
    for name, scores in systems.items():
        report[name] = {"files_scored": len(scores["frames"]), "failures": failures[name],
                        "estimated_notes": counts[name], "frame": _mean(scores["frames"]),
                        "note_onset": _mean(scores["notes"]),
                        "per_style": _per_style(styles[name], scores["frames"], scores["notes"])}
    report["ours"]["note_onset_latency_compensated"] = {"shift_s": DETECTION_LATENCY_S, **_mean(compensated)}
    report["ours"]["one_frame_lookahead"] = {"frame": _mean(ahead["frames"]), "note_onset": _mean(ahead["notes"])}
    return report, rows


def piano_rolls(rows: list[dict[str, Any]], directory: Path, count: int = PLOTTED_FILES) -> list[str]:
    """One PNG per phrase (the first `count`): the reference notes, our activations and Basic Pitch's note
    posteriorgram on the same frame grid (semitones on the vertical axis)."""
    from matplotlib.figure import Figure

    from export.core.audio_io import atomic_output

    written = []
    for row in rows[:count]:
        frames = len(row["reference"])
        reference = np.zeros((88, frames))
        for i, pitches in enumerate(row["reference"]):
            for m in pitches:
                if 21 <= round(m) <= 108:
                    reference[int(round(m)) - 21, i] = 1.0
        panels = [("reference", reference)]
        if "ours" in row:
            panels.append(("ours (activations)", np.pad(row["ours"], ((0, 0), (1, 0)))[:, :264]
                           .reshape(frames, 88, 3).max(axis=2).T))
        if "basic_pitch" in row:
            panels.append(("Basic Pitch (note posteriorgram)", row["basic_pitch"].T))
        fig = Figure(figsize=(10, 2.6 * len(panels)), layout="constrained")
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (title, image) in zip(axes, panels, strict=True):
            ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=1.0,
                      extent=(0.0, frames * 128 / MODEL_RATE, 20.5, 108.5))
            ax.set_title(f"{row['phrase'].name}: {title}", fontsize=9)
            ax.set_ylabel("MIDI")
        axes[-1].set_xlabel("seconds")
        path = directory / f"{row['phrase'].name}.pianoroll.png"
        with atomic_output(path, force=True) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        written.append(str(path))
    return written
