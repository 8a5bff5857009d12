"""espeak-ng "vocals" for music clips: sung-ish syllables on the melody's notes, or a spoken line.

Audio is float32 mono at 16 kHz. Sung: each melody note, moved by octaves into the voice's range, gets one
syllable whose espeak base pitch (-p) comes from a per-voice calibration (median F0 measured at four -p
values, interpolated in log frequency); the syllable starts on the note and is cut to its length. Spoken:
generated sentences, one after another from a random start. The vocal track is mixed at `level_db` relative
to the music.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from export.core.errors import LatentbridgeError
from models.data.clip_compose import SAMPLE_RATE, Part
from models.data.clip_effects import rms
from models.data.espeak_voice import EspeakVoice, median_f0, speak
from models.data.sentences import sentences

VOICES = {"male": ("en+m1", "en+m2", "en+m3", "en-us+m4", "en-us+m7"),
          "female": ("en+f1", "en+f2", "en+f3", "en-us+f4", "en-us+f5")}
SING_RANGE = {"male": 41, "female": 53}  # lowest MIDI note of the octave each voice sings in
SYLLABLES = ("la", "da", "na", "oo", "ah", "lo", "mi", "ya")
SUNG_SPEED = 90  # words per minute: long vowels
_CALIBRATION_P = (0, 33, 66, 99)
_FADE = int(0.02 * SAMPLE_RATE)


@dataclass(frozen=True)
class VocalPlan:
    kind: str  # sung or spoken
    gender: str  # male or female (the espeak variant's)
    voice: str  # espeak-ng -v
    level_db: float  # vocal RMS (over its active samples) relative to the music's RMS
    text_seed: int  # sentences or syllable order
    pitch: int  # -p for spoken lines (sung lines follow the melody)
    speed: int  # -s for spoken lines


def choose_vocal(rng: np.random.Generator) -> VocalPlan:
    kind = "sung" if rng.random() < 0.6 else "spoken"
    gender = "male" if rng.random() < 0.5 else "female"
    voice = str(rng.choice(VOICES[gender]))
    return VocalPlan(kind, gender, voice, round(float(rng.uniform(-4.0, 2.0)), 2), int(rng.integers(2**31)),
                     int(rng.integers(30, 71)), int(rng.integers(140, 181)))


@functools.lru_cache(maxsize=16)
def _calibration(voice: str) -> tuple[np.ndarray, np.ndarray]:
    """(log2 median F0, -p) at the calibration points of `voice`, sorted by F0."""
    f0 = np.array([median_f0(speak("laa", EspeakVoice(voice, p, SUNG_SPEED))) for p in _CALIBRATION_P])
    if np.any(f0 <= 0):
        raise LatentbridgeError(f"espeak-ng voice {voice}: no measurable pitch when calibrating")
    order = np.argsort(f0)
    return np.log2(f0[order]), np.asarray(_CALIBRATION_P, dtype=np.float64)[order]


def espeak_pitch(voice: str, midi_note: int) -> int:
    """The -p (0..99) whose median F0 is nearest `midi_note` for `voice`."""
    log_f0, ps = _calibration(voice)
    target = np.log2(440.0) + (midi_note - 69) / 12
    return int(round(float(np.interp(target, log_f0, ps))))


@functools.lru_cache(maxsize=1024)
def _syllable(voice: str, syllable: str, pitch: int) -> np.ndarray:
    """One sung syllable, leading and trailing silence trimmed."""
    audio = speak(syllable, EspeakVoice(voice, pitch, SUNG_SPEED))
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.max(np.abs(audio)))
    return audio[loud[0]: loud[-1] + 1] if loud.size else audio


def _place(track: np.ndarray, audio: np.ndarray, start: int, length: int) -> None:
    """Add `audio`, cut to `length` samples and faded, into `track` at `start`."""
    seg = audio[: max(0, min(length, track.size - start))].copy()
    if seg.size == 0:
        return
    fade = min(_FADE, seg.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        seg[:fade] *= ramp[: fade] ** 0.5
        seg[-fade:] *= ramp[::-1]
    track[start: start + seg.size] += seg


def render_vocal(plan: VocalPlan, melody: Part, seconds_per_beat: float,
                 length: int) -> tuple[np.ndarray, dict]:
    """The vocal track (length,) float32 and what was sung or said, for the render log."""
    track = np.zeros(length, dtype=np.float32)
    info: dict = {"kind": plan.kind, "gender": plan.gender, "voice": plan.voice, "level_db": plan.level_db}
    if plan.kind == "sung":
        order = np.random.default_rng(plan.text_seed).permutation(len(SYLLABLES))
        low, sung = SING_RANGE[plan.gender], []
        for i, note in enumerate(melody.notes):
            pitch = low + (note.pitch - low) % 12
            syllable = SYLLABLES[int(order[i % len(order)])]
            start = int(round(note.start * seconds_per_beat * SAMPLE_RATE))
            _place(track, _syllable(plan.voice, syllable, espeak_pitch(plan.voice, pitch)), start,
                   int(round(note.length * seconds_per_beat * SAMPLE_RATE)))
            sung.append(pitch)
        info.update(notes=len(sung), median_note=float(np.median(sung)) if sung else None)
    else:
        voice = EspeakVoice(plan.voice, plan.pitch, plan.speed)
        rng = np.random.default_rng(plan.text_seed)
        start, said = int(rng.uniform(0.0, 0.25) * length), []
        for line in sentences(plan.text_seed, 6):
            if start >= length:
                break
            audio = speak(line, voice)
            _place(track, audio, start, length - start)
            said.append(line)
            start += audio.size + int(rng.uniform(0.3, 1.0) * SAMPLE_RATE)
        info.update(pitch=plan.pitch, speed=plan.speed, text=" ".join(said))
    info["median_f0_hz"] = round(median_f0(track), 1)
    return track, info


def mix_in(music: np.ndarray, vocal: np.ndarray, level_db: float) -> np.ndarray:
    """`music` plus `vocal`, scaled so its RMS over active samples is `level_db` relative to the music's."""
    active = vocal[np.abs(vocal) > 1e-4]
    if active.size == 0:
        return music
    return (music + vocal * (10 ** (level_db / 20) * rms(music) / rms(active))).astype(np.float32)
