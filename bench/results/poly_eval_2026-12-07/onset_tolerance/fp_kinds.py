"""Scratch: class Basic Pitch's unmatched notes (false positives) and missed labels, input against the poly morph
(false_notes_valid80_L48.json). Usage: python fp_kinds.py SPLIT FILES ALIGN_MS TOLERANCE_S [TRACKER|-] [VARIANT]
[cummean]; ORACLE=all in the environment gives the voices the labels."""

import json
import os
import sys
import tempfile
from pathlib import Path

import mir_eval
import numpy as np
import soundfile

from export.core.audio_io import MODEL_RATE, read_mono
from models.evaluation.eval_poly import basic_pitch_model, basic_pitch_transcription
from models.evaluation.eval_voices import Voices, balanced
from models.polypitch.labels import read_phrases

sys.path.insert(0, str(Path(__file__).parent))
import variants  # noqa: E402


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def false_kind(onset: float, midi: float, ref: tuple) -> str:
    sounding = [r for r in ref if r.onset - 0.1 <= onset <= r.offset + 0.05]
    gaps = [midi - r.pitch for r in sounding]
    if any(abs(x) < 0.5 for x in gaps):
        near = min(abs(onset - r.onset) for r, x in zip(sounding, gaps, strict=True) if abs(x) < 0.5)
        return "same_pitch_late_or_early" if near < 0.25 else "same_pitch_fragment"
    for kind, intervals in (("octave_below", (-12, -24)), ("octave_above", (12, 24)), ("fifths", (-7, 7, 19, 28, 31))):
        if any(abs(x - i) < 0.5 for x in gaps for i in intervals):
            return kind
    if any(abs(x) < 1.5 for x in gaps):
        return "semitone_off"
    return "other" if sounding else "no_note_sounding"


def main() -> None:
    split, files, align, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    tracker = Path(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    variants.install(sys.argv[6] if len(sys.argv) > 6 else "base")
    if len(sys.argv) > 7:
        variants.install_z(sys.argv[7])
    voices, bp = Voices("string", tracker, align, os.environ.get("ORACLE") or None), basic_pitch_model()
    names = ("input", "poly")
    kinds: dict = {n: {} for n in names}
    missed: dict = {n: {} for n in names}
    counts = {n: {"est": 0, "ref": 0, "matched": 0} for n in names}
    f1: dict = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for phrase in balanced(read_phrases(Path("data/poly"), split), files):
            audio = read_mono(phrase.audio_path, MODEL_RATE)
            voices.use_labels(phrase.notes)
            ref = phrase.notes
            ref_int = np.array([[n.onset, n.offset] for n in ref])
            ref_hz = np.array([hz(n.pitch) for n in ref])
            for name, signal in (("input", audio), ("poly", voices.morph(audio, "poly", 0.0))):
                path = Path(tmp) / f"{name}.wav"
                soundfile.write(path, signal, MODEL_RATE, subtype="FLOAT")
                est = basic_pitch_transcription(path, signal.shape[0] // 128, bp)[0].notes
                est_int = np.array([[n.onset, max(n.offset, n.onset + 1e-3)] for n in est]).reshape(-1, 2)
                pairs = mir_eval.transcription.match_notes(
                    ref_int, ref_hz, est_int, np.array([n.hz for n in est]), onset_tolerance=tol,
                    pitch_tolerance=50.0, offset_ratio=None) if est else []
                f1[name].append(2 * len(pairs) / (len(est) + len(ref)) if est or ref else 0.0)
                c = counts[name]
                c["est"], c["ref"], c["matched"] = c["est"] + len(est), c["ref"] + len(ref), c["matched"] + len(pairs)
                matched_est, matched_ref = {j for _, j in pairs}, {i for i, _ in pairs}
                for j, note in enumerate(est):
                    if j not in matched_est:
                        kind = false_kind(note.onset, note.midi, ref)
                        kinds[name][kind] = kinds[name].get(kind, 0) + 1
                for i, r in enumerate(ref):
                    if i not in matched_ref:
                        heard = any(abs(n.midi - r.pitch) < 0.5 and n.onset < r.offset and n.offset > r.onset - 0.1
                                    for n in est)
                        kind = "pitch_heard_onset_off" if heard else "not_heard"
                        missed[name][kind] = missed[name].get(kind, 0) + 1
    print(json.dumps({"mean_f1": {n: float(np.mean(v)) for n, v in f1.items()}, "counts": counts,
                      "false_kinds": kinds, "missed": missed}, indent=1))


if __name__ == "__main__":
    main()
