"""How well a style transfer kept its content: STOI for speech, CREPE pitch-contour agreement for music.

Audio 1-D float32 at 16 kHz, result and content of equal length. Pitch agreement: the fraction of the
content's voiced CREPE frames (periodicity >= 0.5) where the result's f0 is within 50 cents.
"""

from __future__ import annotations

import numpy as np

from models.judges.crepe import crepe_pitch

SAMPLE_RATE = 16000
VOICED = 0.5
CENTS = 50.0


def stoi(content: np.ndarray, result: np.ndarray) -> float:
    from pystoi import stoi as short_time_objective_intelligibility

    return float(short_time_objective_intelligibility(content.astype(np.float64), result.astype(np.float64),
                                                      SAMPLE_RATE, extended=False))


def pitch_agreement(content: np.ndarray, result: np.ndarray, crepe: str = "tiny") -> float | None:
    """Fraction of voiced content frames whose pitch the result keeps; None if the content has none."""
    f0_c, voiced_c = crepe_pitch(content, model=crepe)
    f0_r, _ = crepe_pitch(result, model=crepe)
    voiced = voiced_c >= VOICED
    if not voiced.any():
        return None
    cents = 1200.0 * np.abs(np.log2(np.maximum(f0_r[voiced], 1e-3) / np.maximum(f0_c[voiced], 1e-3)))
    return float(np.mean(cents <= CENTS))
