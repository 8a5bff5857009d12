"""Independent judges of a style transfer: how far it moved toward the style, and how much content it kept.

Audio 1-D float32 at 16 kHz, result and content of equal length. `moved`: 1 - d(result, style) / d(content,
style), d the L2 distance between mean log-mel spectra (80 bands, dB, floored at -110 dB), a measure no
method optimises (1: the style's spectrum, 0: the content's). STOI for speech; pitch agreement for music: the
fraction of the content's voiced CREPE frames (periodicity >= 0.5) where the result's f0 is within 50 cents.
"""

from __future__ import annotations

import numpy as np

from export.core.spectrogram import log_mel
from models.judges.crepe import crepe_pitch

SAMPLE_RATE = 16000
VOICED = 0.5
CENTS = 50.0
FLOOR_DB = -110.0


def mean_log_mel(audio: np.ndarray) -> np.ndarray:
    """[80] mean over frames of the log-mel spectrum in dB, each frame floored at FLOOR_DB."""
    return np.maximum(log_mel(audio), FLOOR_DB).mean(axis=1)


def spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance in dB between the mean log-mel spectra of two clips (any lengths)."""
    return float(np.linalg.norm(mean_log_mel(a) - mean_log_mel(b)))


def moved(content: np.ndarray, style: np.ndarray, result: np.ndarray) -> float | None:
    """1 - d(result, style) / d(content, style): the share of the way from content to style; None when content
    and style have the same mean spectrum (no way to go)."""
    before = spectral_distance(content, style)
    if before == 0.0:
        return None
    return 1.0 - spectral_distance(result, style) / before


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
