"""Per-voice decoder controls from the input: f0 refined on the input's spectrum, loudness split by energy share.

Audio is float32 mono at 16 kHz, in whole control frames of `hop` (128) samples. `FrameSpectra` keeps the
last `window - hop` samples and gives, per frame, the magnitude spectrum of the `window` samples ending at the
frame's end (Hann, zero-padded to `PAD` points): causal, no look-ahead. For a voice near fractional MIDI m,
`refine_f0` picks the f0 within +-`SEARCH_CENTS` of m whose harmonics (up to `MAX_HARMONIC_HZ`) carry the most
magnitude (a harmonic sum, then a parabola through the best grid point) on the `WINDOW` (2048) spectrum, and
`harmonic_energy` sums the power at those harmonics on the shorter `SHARE_WINDOW` (512) spectrum. A voice's
loudness is the input's A-weighted loudness (the monophonic control) plus 10 log10 of its share of the sounding
voices' harmonic energy, so one voice alone gets the input's loudness. The share window is short because a
note entering over ringing ones gets its share only as fast as the window fills: at 2048 samples its loudness
reached -6 dB 42-58 ms after its onset, at 512 18-26 ms (Basic Pitch note-onset F1 of `morph --voices poly`
on 40 held-out phrases 0.235 -> 0.276; the f0 search keeps 2048 for its resolution).
A voice one or two octaves below another sounding voice plays every harmonic of that note besides its own, so
its harmonic energy would count the upper note's too: a false sub-octave (the tracker's costliest false note)
would take half the loudness of the note above it. `sub_octave_credit` credits such a voice with
`SUB_OCTAVE_CREDIT` times the fraction of its harmonic power (on the `WINDOW` spectrum, which resolves them) at
the harmonics the upper note does not play (h not a multiple of m = 2 or 4): little for a false sub-octave, most
of its own for a real bass note under a chord tone.
"""

from __future__ import annotations

import numpy as np

from export.core.pitch_units import midi_to_hz

WINDOW, SHARE_WINDOW, PAD = 2048, 512, 8192
SEARCH_CENTS, GRID_CENTS = 50.0, 5.0
CENTS = np.arange(-SEARCH_CENTS, SEARCH_CENTS + GRID_CENTS / 2, GRID_CENTS)  # the f0 search grid
MAX_HARMONIC_HZ, MAX_HARMONICS = 7000.0, 12
SHARE_FLOOR_DB = -60.0
SUB_OCTAVE_CREDIT = 0.5  # chosen on 80 valid phrases (bench/results/poly_eval_2026-12-07/sub_octave_credit/)
SUB_OCTAVE_TOLERANCE = 0.35  # semitones from exactly one or two octaves


class FrameSpectra:
    """See the module docstring: `push(audio [k * hop]) -> magnitudes [k, PAD // 2 + 1]`."""

    def __init__(self, hop: int, rate: int, window: int = WINDOW) -> None:
        self.hop, self.rate, self.window = hop, rate, window
        self.history = np.zeros(window - hop, np.float32)
        self.taper = np.hanning(window).astype(np.float32)

    def push(self, audio: np.ndarray) -> np.ndarray:
        k = audio.shape[0] // self.hop
        joined = np.concatenate([self.history, audio.astype(np.float32)])
        starts = np.arange(k) * self.hop
        frames = joined[starts[:, None] + np.arange(self.window)[None, :]] * self.taper
        self.history = joined[joined.shape[0] - self.history.shape[0]:]
        return np.abs(np.fft.rfft(frames, n=PAD, axis=1)).astype(np.float32)

    @property
    def bin_hz(self) -> float:
        return self.rate / PAD


def _harmonic_bins(f0: np.ndarray, bin_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Fractional spectrum bins of each f0's harmonics [*f0.shape, MAX_HARMONICS] and which are in range."""
    h = np.arange(1, MAX_HARMONICS + 1)
    hz = f0[..., None] * h
    return hz / bin_hz, hz <= MAX_HARMONIC_HZ


def refine_f0(magnitude: np.ndarray, midi: np.ndarray, bin_hz: float) -> np.ndarray:
    """The f0s (Hz) [n] near the fractional MIDI pitches `midi` [n] that best explain `magnitude` [PAD // 2 + 1]
    (module docstring), every voice in one pass over the spectrum."""
    midi = np.asarray(midi, np.float64)
    f0 = midi_to_hz(midi[:, None] + CENTS / 100.0)  # [n, grid]
    bins, usable = _harmonic_bins(f0, bin_hz)
    score = (np.interp(bins, np.arange(magnitude.shape[0]), magnitude) * usable).sum(axis=-1)
    best = np.argmax(score, axis=1)
    inner = np.flatnonzero((best > 0) & (best < CENTS.shape[0] - 1))
    shift = np.zeros(midi.shape[0])
    lo, mid, hi = (score[inner, best[inner] + d] for d in (-1, 0, 1))
    curve = lo - 2 * mid + hi
    bent = curve < 0
    shift[inner[bent]] = np.clip(0.5 * (lo[bent] - hi[bent]) / curve[bent], -0.5, 0.5)
    # the final pow voice by voice on numpy scalars (libm's): numpy's vectorised pow can round the last bit
    # differently
    return np.array([midi_to_hz(m) for m in midi + (CENTS[best] + shift * GRID_CENTS) / 100.0])


def harmonic_power(magnitude: np.ndarray, f0: np.ndarray, bin_hz: float) -> np.ndarray:
    """Power at each harmonic of each f0 [n] (Hz) -> [n, MAX_HARMONICS] (0 above `MAX_HARMONIC_HZ`)."""
    bins, usable = _harmonic_bins(np.asarray(f0, np.float64), bin_hz)
    return np.interp(bins, np.arange(magnitude.shape[0]), magnitude.astype(np.float64) ** 2) * usable


def harmonic_energy(magnitude: np.ndarray, f0: np.ndarray, bin_hz: float) -> np.ndarray:
    """Power at the harmonics of each f0 [n] (Hz) -> [n]."""
    return harmonic_power(magnitude, f0, bin_hz).sum(axis=1)


def sub_octave_credit(magnitude: np.ndarray, f0: np.ndarray, sounding: np.ndarray, bin_hz: float) -> np.ndarray:
    """Per voice [n] (f0 in Hz, `sounding` [n] bool), the factor its share energy is credited with: for a sounding
    voice one (m = 2) or two (m = 4) octaves below another sounding voice, `SUB_OCTAVE_CREDIT` times the fraction
    of its harmonic power on `magnitude` at harmonics h % m != 0 (0 where it has none); 1 for every other voice."""
    f0 = np.asarray(f0, np.float64)
    credit = np.ones(f0.shape[0])
    semitones = 12.0 * np.log2(np.maximum(f0, 1e-3))
    above = np.where(sounding[None, :], semitones[None, :] - semitones[:, None], np.nan)  # [voice, other]
    octave = sounding & (np.abs(above - 12.0) <= SUB_OCTAVE_TOLERANCE).any(axis=1)
    two = sounding & (np.abs(above - 24.0) <= SUB_OCTAVE_TOLERANCE).any(axis=1)
    below = np.flatnonzero(octave | two)
    if below.size == 0:
        return credit
    power = harmonic_power(magnitude, f0[below], bin_hz)
    m = np.where(octave[below], 2, 4)[:, None]
    own = (power * (np.arange(1, MAX_HARMONICS + 1)[None, :] % m != 0)).sum(axis=1)
    total = power.sum(axis=1)
    credit[below] = SUB_OCTAVE_CREDIT * np.divide(own, total, out=np.zeros_like(own), where=total > 0)
    return credit


def share_db(energy: np.ndarray, sounding: np.ndarray) -> np.ndarray:
    """10 log10 of each voice's share of the sounding voices' energy (0 dB for a voice alone), floored."""
    total = float(energy[sounding].sum())
    if total <= 0:
        return np.where(sounding, -10 * np.log10(max(int(sounding.sum()), 1)), SHARE_FLOOR_DB)
    return np.maximum(10 * np.log10(np.maximum(energy / total, 1e-12)), SHARE_FLOOR_DB)
