"""Pitch units: Hz <-> MIDI note numbers (A4 = 440 Hz = MIDI 69, 12 equal steps per octave).

Scalars or numpy arrays in, the same out (numpy floats for scalars).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def hz_to_midi(hz: Any) -> Any:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, np.float64) / 440.0)


def midi_to_hz(midi: Any) -> Any:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)
