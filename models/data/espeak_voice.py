"""One espeak-ng utterance as float32 mono 16 kHz audio, and a median-F0 measure for checking voices.

`speak(text, voice)` runs `espeak-ng -v VOICE -p PITCH -s SPEED -w out.wav TEXT` in a temporary
directory and reads the WAV back through export.core.audio_io (resampled to 16 kHz, mono, [-1, 1]).
`median_f0(audio)` is a YIN-style estimate in Hz over voiced 40 ms frames (10 ms hop) of 16 kHz audio.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, read_audio
from export.core.errors import LatentbridgeError

F0_MIN, F0_MAX = 60.0, 400.0  # Hz, search range of median_f0
YIN_THRESHOLD = 0.15  # frames whose best normalised difference is above this are unvoiced


@dataclass(frozen=True)
class EspeakVoice:
    """espeak-ng settings: voice name (e.g. 'en-gb+f3'), base pitch 0..99 and speed in words per minute."""

    voice: str
    pitch: int
    speed: int


def espeak_binary() -> str:
    """Path of the espeak-ng executable, or a LatentbridgeError saying how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise LatentbridgeError("espeak-ng not found on PATH (install it, e.g. `apt-get install espeak-ng`)")
    return path


def speak(text: str, voice: EspeakVoice, sample_rate: int = MODEL_RATE) -> np.ndarray:
    """Synthesise `text`; 1-D float32 mono audio at `sample_rate`."""
    if not text.strip():
        raise LatentbridgeError("espeak-ng: nothing to say (empty text)")
    with tempfile.TemporaryDirectory(prefix="latentbridge-espeak-") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = [espeak_binary(), "-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.speed),
               "-w", str(wav), "--", text]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wav.is_file():
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise LatentbridgeError(f"espeak-ng -v {voice.voice} failed "
                                    f"({reason[0] if reason else f'exit status {done.returncode}'})")
        audio, _ = read_audio(wav, sample_rate=sample_rate, mono=True)
    return audio[0]


def frame_f0(audio: np.ndarray, sample_rate: int = MODEL_RATE) -> np.ndarray:
    """F0 in Hz of each voiced frame (unvoiced and quiet frames left out)."""
    x = np.asarray(audio, dtype=np.float64)
    size, hop = int(0.040 * sample_rate), int(0.010 * sample_rate)
    if x.size < size:
        return np.zeros(0)
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.sqrt(np.mean(frames ** 2, axis=1))
    loud = energy > 0.1 * np.max(energy) if np.max(energy) > 0 else np.zeros(len(frames), bool)
    frames = frames[loud]
    if not len(frames):
        return np.zeros(0)
    lag_min, lag_max = int(sample_rate / F0_MAX), int(sample_rate / F0_MIN)
    width = size - lag_max
    head = frames[:, :width]
    lags = np.arange(1, lag_max + 1)
    # YIN difference d(tau) = sum (x[t] - x[t + tau])^2 over a window of `width` samples
    diff = np.stack([np.sum((head - frames[:, tau:tau + width]) ** 2, axis=1) for tau in lags], axis=1)
    cmnd = diff * lags / np.maximum(np.cumsum(diff, axis=1), 1e-12)
    f0 = []
    for row in cmnd:
        search = row[lag_min - 1:]
        below = np.flatnonzero(search < YIN_THRESHOLD)
        if not below.size:
            continue
        i = below[0]
        while i + 1 < search.size and search[i + 1] < search[i]:  # walk down to the local minimum
            i += 1
        tau = float(i + lag_min)
        if 0 < i < search.size - 1:  # parabolic refinement
            a, b, c = search[i - 1], search[i], search[i + 1]
            denom = a - 2 * b + c
            if denom > 0:
                tau += 0.5 * (a - c) / denom
        f0.append(sample_rate / tau)
    return np.asarray(f0)


def median_f0(audio: np.ndarray, sample_rate: int = MODEL_RATE) -> float:
    """Median F0 in Hz over voiced frames; 0.0 when nothing is voiced."""
    f0 = frame_f0(audio, sample_rate)
    return float(np.median(f0)) if f0.size else 0.0
