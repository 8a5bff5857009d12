"""Where the bundled tracker's frame errors lie, and two causal decodings that might remove them (scratch).

Run from the repository root: python bench/results/poly_eval_2026-12-07/frame_errors/frame_errors.py CKPT SPLIT OUT
Activations of the first 150 phrases of data/poly's SPLIT are cached under runs/frame_errors_cache/. Written:
- errors per style, on a semitone grid: missed frames in a note's first 4 frames / later; false frames within 8
  frames after a same-pitch note's end ("release"), an octave below / above a sounding note, and the rest by their
  interval to the nearest sounding note ("silent": no note in the 25 frames before, "after_any": none sounding now);
- mean frame F1 (mir_eval, as eval poly) with a stricter threshold for a peak whose upper octave is also active
  (organ sub-octave stops), and with a per-semitone hysteresis (on at `on`, held while >= `off`).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from export.core.audio_io import MODEL_RATE, read_mono
from export.poly.tracker import bin_midi, frame_pitches, refine_peak
from models.evaluation.eval_poly import frame_scores, ours
from models.polypitch.labels import note_frames, read_phrases, reference_grid
from models.training.checkpoint import load_model

torch.set_num_threads(1)
OCTAVE_THRESHOLDS = (0.6, 0.7, 0.8, 0.9, 0.95)
HYSTERESIS = ((0.5, 0.5), (0.5, 0.4), (0.5, 0.3), (0.6, 0.4), (0.7, 0.4))


def activations(ckpt: Path, split: str, files: int) -> list[tuple[object, np.ndarray]]:
    cache = Path("runs/frame_errors_cache") / ckpt.parent.name / ckpt.stem / split
    cache.mkdir(parents=True, exist_ok=True)
    model, out = None, []
    for phrase in read_phrases(Path("data/poly"), split)[:files]:
        path = cache / (Path(phrase.audio_path).stem + ".npy")
        if not path.exists():
            model = model or load_model(ckpt, "poly")[0].eval()
            np.save(path, ours(model, read_mono(phrase.audio_path, MODEL_RATE))[0].astype(np.float16))
        out.append((phrase, np.load(path).astype(np.float32)))
    return out


def octave_rule(row: np.ndarray, strict: float) -> np.ndarray:
    padded = np.concatenate([[-np.inf], row, [-np.inf]])
    peaks = np.flatnonzero((row >= 0.5) & (row >= padded[:-2]) & (row > padded[2:]))
    midi = bin_midi(np.array([refine_peak(row, int(p)) for p in peaks]))
    keep = [not (np.any(np.abs(midi - (m + 12)) < 0.5) and row[p] < strict) for m, p in zip(midi, peaks, strict=True)]
    return midi[np.array(keep, bool)] if midi.size else midi


def hysteresis(act: np.ndarray, on: float, off: float) -> list[np.ndarray]:
    semis = act.reshape(act.shape[0], 88, 3)
    state, out = np.zeros(88, bool), []
    for i, row in enumerate(act):
        padded = np.concatenate([[-np.inf], row, [-np.inf]])
        peak = ((row >= padded[:-2]) & (row > padded[2:])).reshape(88, 3).any(-1)
        top = semis[i].max(-1)
        state = np.where(state, top >= off, (top >= on) & peak)
        out.append(np.array([bin_midi(refine_peak(row, 3 * s + int(np.argmax(semis[i, s]))))
                             for s in np.flatnonzero(state)]))
    return out


def errors(phrase: object, act: np.ndarray, counts: dict, intervals: dict) -> None:
    frames = act.shape[0]
    ref, first, after = (np.zeros((frames, 128), bool) for _ in range(3))
    for note in phrase.notes:
        a, b = note_frames(note, 128, MODEL_RATE)
        p = int(round(note.pitch))
        ref[a: min(b, frames), p] = True
        first[a: min(a + 4, b, frames), p] = True
        after[min(b, frames): min(b + 8, frames), p] = True
    est = np.zeros_like(ref)
    for i, row in enumerate(act):
        est[i, np.round(frame_pitches(row, 0.5)).astype(int)] = True
    fp, fn = est & ~ref, ref & ~est
    above, below = np.zeros_like(ref), np.zeros_like(ref)
    above[:, :-12], below[:, 12:] = ref[:, 12:], ref[:, :-12]  # a note sounds an octave above / below
    rest = fp & ~after
    c = counts.setdefault(phrase.style, dict.fromkeys(
        ("reference", "hits", "missed_first_4", "missed_later", "false_release", "false_octave_below",
         "false_octave_above", "false_other"), 0))
    c["reference"] += int(ref.sum())
    c["hits"] += int((est & ref).sum())
    c["missed_first_4"] += int((fn & first).sum())
    c["missed_later"] += int((fn & ~first).sum())
    c["false_release"] += int((fp & after).sum())
    c["false_octave_below"] += int((rest & above).sum())
    c["false_octave_above"] += int((rest & below & ~above).sum())
    other = rest & ~above & ~below
    c["false_other"] += int(other.sum())
    h = intervals.setdefault(phrase.style, {})
    for i, p in zip(*np.nonzero(other), strict=True):
        sounding = np.flatnonzero(ref[i])
        if sounding.size == 0:
            key = "after_any" if ref[max(0, i - 25): i].any() else "silent"
        else:
            step = int(p - sounding[np.argmin(np.abs(sounding - p))])
            key = f"{step:+d}" if abs(step) <= 24 else "far"
        h[key] = h.get(key, 0) + 1


def main() -> None:
    ckpt, split, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    octave = {t: [] for t in (0.5, *OCTAVE_THRESHOLDS)}
    hyst = {pair: [] for pair in HYSTERESIS}
    counts, intervals, styles = {}, {}, []
    for phrase, act in activations(ckpt, split, 150):
        ref = reference_grid(phrase.notes, act.shape[0], 128, MODEL_RATE)
        styles.append(phrase.style)
        for t, scores in octave.items():
            scores.append(frame_scores(ref, [octave_rule(r, t) for r in act])["f1"])
        for (on, off), scores in hyst.items():
            scores.append(frame_scores(ref, hysteresis(act, on, off))["f1"])
        errors(phrase, act, counts, intervals)
    style = np.array(styles)

    def by_style(scores: list[float]) -> dict[str, float]:
        return {"all": float(np.mean(scores))} | {s: float(np.mean(np.array(scores)[style == s]))
                                                  for s in sorted(set(styles))}

    report = {"checkpoint": str(ckpt), "split": split, "phrases": len(styles),
              "frame_f1_octave_rule": {f"strict_{t}": by_style(v) for t, v in octave.items()},
              "frame_f1_hysteresis": {f"on_{a}_off_{b}": by_style(v) for (a, b), v in hyst.items()},
              "frame_errors": counts,
              "false_other_by_interval": {s: dict(sorted(h.items(), key=lambda kv: -kv[1])) for s, h in
                                          intervals.items()}}
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("frame_f1_octave_rule", "frame_f1_hysteresis")}, indent=1))


if __name__ == "__main__":
    main()
