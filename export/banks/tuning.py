"""How a rendered note is tuned in its SFZ region: the pitch it sounds at, measured with the autoencoder's own
YIN tracker (ONNX, no torch), and the `tune` in cents that puts it on its key. Audio: mono 16 kHz [T].
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.pitch_units import hz_to_midi

VOICED = 0.3  # the WaveNet's notes are breathy (periodicity 0.4-0.65): a lower bar than the morph's 0.5


class Shape(Protocol):
    note_off: float  # note-off as a fraction of the note's length


def measured_pitch(ae: OnnxAutoencoder, wave: np.ndarray, shape: Shape) -> float | None:
    """The MIDI pitch a rendered note sounds at: the median of the autoencoder's YIN f0 over the voiced frames
    (periodicity > 0.3) of its sustain (10 % of the length to note-off); None when too few are voiced."""
    controls = ae.controls(wave)
    frames = controls.frames
    span = slice(int(0.1 * frames), max(int(0.1 * frames) + 1, int(shape.note_off * frames)))
    f0, voiced = controls.f0[span], controls.periodicity[span] > VOICED
    if voiced.sum() < max(3, 0.1 * voiced.size):
        return None
    return float(np.median(hz_to_midi(f0[voiced])))


def tune_cents(midi: int, measured: float | None) -> int:
    """SFZ `tune` that puts a sample measured at `measured` on `midi` (within one semitone; 0 when unknown)."""
    return 0 if measured is None else int(np.clip(round(100.0 * (midi - measured)), -100, 100))
