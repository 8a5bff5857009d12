"""Scratch: each note's onset lag (output minus input, Basic Pitch) through the poly morph, split by whether it
started on slot 0's monophonic controls or on a tracked voice, per style (onset_lag_by_path_valid80_L48.json).
Usage: python lagcat.py FILES ALIGN_MS (valid split)."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from export.core.audio_io import MODEL_RATE, read_mono
from export.poly import voice_allocator
from models.evaluation.eval_poly import basic_pitch_model, basic_pitch_transcription
from models.evaluation.eval_voices import Voices, balanced
from models.evaluation.onset_lag import nearest_onset
from models.polypitch.labels import read_phrases

FRAMES_PER_S = 125  # 128-sample control frames at 16 kHz
allocations: list = []
allocate = voice_allocator.VoiceAllocator.frame


def logged_frame(self, activations, onsets=None):  # noqa: ANN001, ANN201 - a patched method
    voices = allocate(self, activations, onsets)
    allocations.append((voices.midi.copy(), voices.gain.copy(), voices.mono.copy()))
    return voices


def started_by(pitch: float, onset: float) -> str:
    first = int(onset * FRAMES_PER_S)
    for midi, gain, mono in allocations[first: first + 20]:
        if mono[0] and gain[0] > 0 and (gain > 0).sum() == 1:
            return "mono"
        if any(gain[s] > 0 and abs(midi[s] - pitch) < 0.6 and not mono[s] for s in range(gain.shape[0])):
            return "tracked"
    return "none"


def main() -> None:
    voice_allocator.VoiceAllocator.frame = logged_frame
    voices, bp = Voices("string", None, float(sys.argv[2]), None), basic_pitch_model()
    lags: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for phrase in balanced(read_phrases(Path("data/poly"), "valid"), int(sys.argv[1])):
            allocations.clear()
            audio = read_mono(phrase.audio_path, MODEL_RATE)
            heard = {}
            for name, signal in (("in", audio), ("out", voices.morph(audio, "poly", 0.0))):
                path = Path(tmp) / "p.wav"
                soundfile.write(path, signal, MODEL_RATE, subtype="FLOAT")
                heard[name] = basic_pitch_transcription(path, signal.shape[0] // 128, bp)[0].notes
            for note in phrase.notes:
                a, b = (nearest_onset(heard[k], note.onset, note.pitch) for k in ("in", "out"))
                if a is not None and b is not None:
                    kind = started_by(note.pitch, note.onset)
                    for key in (f"{phrase.style}/{kind}", f"all/{kind}"):
                        lags.setdefault(key, []).append(1000 * (b - a))
    for key in sorted(lags):
        v = np.array(lags[key])
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        within = np.mean(np.abs(v) <= 80)
        print(f"{key:24s} n={len(v):4d} p10/50/90 {p10:6.0f} {p50:6.0f} {p90:6.0f}  within80 {within:.2f}")


if __name__ == "__main__":
    main()
