"""Measured NSynth note qualities and the near-silence / clipping checks for one rendered note.

Input: a (64000,) float32 mono note at 16 kHz, key down at 0 s, key up at 3.0 s (note_synth).
Levels are RMS over 10 ms frames, in dB relative to the loudest frame ("re peak") unless named dBFS.
Qualities are returned as 10 ints (0/1) in the official order of `gm_programs.QUALITIES`.

Measured (thresholds chosen by listening to and measuring FluidR3_GM / TimGM6mb renders):
- percussive: the envelope reaches its peak within 50 ms of the key press AND has fallen at least
  10 dB by the end of the hold (loudest frame in 2.8-3.0 s <= peak - 10 dB). NSynth's raters meant
  "a loud non-harmonic onset"; a fast attack followed by decay while held is our measurable stand-in.
- fast_decay: the loudest frame in 2.8-3.0 s (before the key-up at 3.0 s) is >= 40 dB below the peak.
- long_release: still audible half a second after key-up: the loudest frame in 3.5-3.6 s is within
  40 dB of the peak.
- bright / dark: from the spectral centroid C of the held part (50 ms-2.9 s, energy-weighted power
  spectrum, 0-8 kHz) against the nominal fundamental f0 of the MIDI pitch:
  bright when C >= 4 f0 and C >= 800 Hz (strong upper harmonics, in the treble);
  dark when C < 1.5 f0 and C < 800 Hz (nearly all energy in a low fundamental).
Not measured, always 0: distortion, multiphonic, nonlinear_env, reverb, tempo-synced (no honest,
robust detector for these from a single SoundFont render; tinysoundfont adds no reverb or chorus).

Dropping: a note is "near-silent" when its peak is below -60 dBFS or its RMS over the 4 s is below
-85 dBFS (keys a preset has no sample for render exact zeros; the quietest real notes, e.g. a
velocity-25 piano top key, peak near -52 dBFS), and "clipped" when its peak exceeds 0.999 (it
would clip in a 16-bit WAV; only a few unstable resonant-filter presets do at the default gain).
"""

from __future__ import annotations

import numpy as np

from models.data.gm_programs import QUALITIES
from models.data.note_synth import HOLD_SECONDS, SAMPLE_RATE

FRAME = SAMPLE_RATE // 100  # 10 ms
FLOOR_DB = -200.0
SILENT_PEAK_DBFS = -60.0
SILENT_RMS_DBFS = -85.0
CLIP_PEAK = 0.999
ATTACK_MAX_S = 0.05
PERCUSSIVE_DECAY_DB = 10.0
FAST_DECAY_DB = 40.0
LONG_RELEASE_DB = 40.0
LONG_RELEASE_AT_S = 0.5
BRIGHT_RATIO, BRIGHT_MIN_HZ = 4.0, 800.0
DARK_RATIO, DARK_MAX_HZ = 1.5, 800.0
MEASURED: tuple[str, ...] = ("bright", "dark", "fast_decay", "long_release", "percussive")  # the rest stay 0


def to_db(x: np.ndarray | float) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 10 ** (FLOOR_DB / 20)))


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def peak_dbfs(audio: np.ndarray) -> float:
    return float(to_db(np.max(np.abs(audio))))


def rms_dbfs(audio: np.ndarray) -> float:
    return float(to_db(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))))


def drop_reason(audio: np.ndarray) -> str | None:
    """'silent', 'clipped' or None (keep) for one rendered note."""
    if peak_dbfs(audio) < SILENT_PEAK_DBFS or rms_dbfs(audio) < SILENT_RMS_DBFS:
        return "silent"
    if float(np.max(np.abs(audio))) > CLIP_PEAK:
        return "clipped"
    return None


def envelope_db(audio: np.ndarray) -> np.ndarray:
    """RMS level of each 10 ms frame, in dBFS."""
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    return to_db(np.sqrt(np.mean(frames**2, axis=1)))


def _window_max(env: np.ndarray, start_s: float, stop_s: float) -> float:
    frames_per_s = SAMPLE_RATE / FRAME
    lo, hi = int(round(start_s * frames_per_s)), int(round(stop_s * frames_per_s))
    return float(np.max(env[lo:hi]))


def spectral_centroid(audio: np.ndarray, start_s: float = 0.05, stop_s: float = HOLD_SECONDS - 0.1,
                      n_fft: int = 2048) -> float:
    """Energy-weighted spectral centroid in Hz of audio[start_s:stop_s] (0 for silence)."""
    seg = audio[int(start_s * SAMPLE_RATE): int(stop_s * SAMPLE_RATE)].astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[:: n_fft // 2]
    power = np.sum(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    total = float(np.sum(power))
    if total <= 0.0:
        return 0.0
    return float(np.sum(power * np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)) / total)


def measure_qualities(audio: np.ndarray, pitch: int) -> tuple[int, ...]:
    """The 10 NSynth quality flags (official order) measured from one note; see the module docstring."""
    env = envelope_db(audio)
    peak = float(np.max(env))
    attack_s = int(np.argmax(env >= peak - 1.0)) * FRAME / SAMPLE_RATE
    before_release = _window_max(env, HOLD_SECONDS - 0.2, HOLD_SECONDS) - peak
    later = HOLD_SECONDS + LONG_RELEASE_AT_S
    after_release = _window_max(env, later, later + 0.1) - peak
    centroid = spectral_centroid(audio)
    f0 = midi_to_hz(pitch)
    flags = {
        "percussive": attack_s <= ATTACK_MAX_S and before_release <= -PERCUSSIVE_DECAY_DB,
        "fast_decay": before_release <= -FAST_DECAY_DB,
        "long_release": after_release >= -LONG_RELEASE_DB,
        "bright": centroid >= BRIGHT_RATIO * f0 and centroid >= BRIGHT_MIN_HZ,
        "dark": 0.0 < centroid < DARK_RATIO * f0 and centroid < DARK_MAX_HZ,
    }
    return tuple(int(flags[name]) if name in MEASURED else 0 for name in QUALITIES)


def quality_names(qualities: tuple[int, ...] | list[int]) -> list[str]:
    """Names of the set flags, in official order."""
    return [name for name, flag in zip(QUALITIES, qualities, strict=True) if flag]
