"""The clip tag vocabulary, and tags derived from a clip's render record (what was rendered and measured).

A render record is one line of render_log.jsonl (built by mtat_render): MIDI facts (tempo, key, parts,
drums), the effects applied, the vocal line, and measurements of the final 16 kHz mono audio. Tags are 0/1.

Rules, in vocabulary order ("melodic parts" = the MIDI parts on channels 0..3; drums are channel 10):
  bass, brass, flute, guitar,   (the 11 NSynth families) a melodic part's GM program is of that family
  keyboard, mallet, organ,      (models.data.gm_programs); `vocal` also when an espeak-ng vocal line is
  reed, string, synth_lead,     mixed in
  vocal
  piano                         a melodic part plays GM program 0..3 (acoustic, bright or electric grand,
                                honky-tonk)
  acoustic, electronic,         a melodic part has that NSynth source; a drum kit counts as acoustic (kits
  synthetic                     0 8 16 32 40 48) or electronic (24 Electronic, 25 TR-808); an espeak-ng
                                voice is synthetic
  drums / no_drums              the drum channel (MIDI channel 10, index 9) plays notes / does not
  fast / slow                   tempo from the MIDI set_tempo, 60e6 / tempo rounded to 0.01 BPM:
                                >= FAST_BPM / <= SLOW_BPM (neither in between)
  solo                          exactly one melodic part, no drums and no vocal line
  ensemble                      at least 3 melodic parts, counting an espeak-ng vocal line as a part
  triple_meter                  the MIDI time_signature is 3/4 (otherwise 4/4)
  reverb, distorted, chorus,    a pedalboard Reverb / Distortion / Chorus / Delay / Phaser was applied, to a
  delay, phaser                 part or to the mix (Compressor and filters earn no tag)
  bright / dark                 spectral centroid of the final audio >= BRIGHT_HZ / <= DARK_HZ
  loud / quiet                  RMS of the final audio >= LOUD_DBFS / <= QUIET_DBFS (the mix is scaled to a
                                random target level, then peak-limited; the tag uses the measured level)
  high_register / low_register  median MIDI pitch of the melody part's notes >= HIGH_PITCH / <= LOW_PITCH
  ambient                       slow, reverb, and a pad part (sustained chords)
  sung / spoken                 the espeak-ng vocal line sings syllables on the melody / speaks sentences
  male_voice / female_voice     the espeak-ng voice variant is a male (+m) / female (+f) one
  no_vocal                      neither a vocal-family program nor an espeak-ng vocal line

Reviewed for audibility (issue 19): the mode (record "mode", MIDI key_signature) earns no tag. The minor
progressions are natural minor, so each uses the chords of its relative major (A minor i-VI-III-VII is
Am F C G, C major I-V-vi-IV is C G Am F): the two modes differ only in which chord a loop starts on, which a
listener of a 3.7-s window, or of a 12-s clip entered mid-loop, cannot hear. Both tags scored chance
(ROC-AUC 0.506) in the log-mel ResNet, and so did every earlier tagger.
"""

from __future__ import annotations

import numpy as np

from models.data.clip_compose import SAMPLE_RATE
from models.data.clip_effects import EFFECT_TAGS
from models.data.gm_programs import FAMILIES, SOURCES

FAST_BPM, SLOW_BPM = 140.0, 90.0
BRIGHT_HZ, DARK_HZ = 1000.0, 500.0
LOUD_DBFS, QUIET_DBFS = -18.0, -26.0
HIGH_PITCH, LOW_PITCH = 72.0, 55.0
PIANO_PROGRAMS = (0, 1, 2, 3)
CENTROID_FRAME, CENTROID_HOP = 2048, 1024

TAGS: tuple[str, ...] = (
    *FAMILIES, "piano", *SOURCES, "drums", "no_drums", "fast", "slow", "solo", "ensemble",
    "triple_meter", *EFFECT_TAGS.values(), "bright", "dark", "loud", "quiet", "high_register", "low_register",
    "ambient", "sung", "spoken", "male_voice", "female_voice", "no_vocal")


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of the whole signal in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    level = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * float(np.log10(max(level, 1e-10)))


def spectral_centroid(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Centroid in Hz of the power spectrum summed over Hann frames (2048 samples, hop 1024)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size < CENTROID_FRAME:
        x = np.pad(x, (0, CENTROID_FRAME - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, CENTROID_FRAME)[::CENTROID_HOP]
    power = np.sum(np.abs(np.fft.rfft(frames * np.hanning(CENTROID_FRAME), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(CENTROID_FRAME, 1.0 / sample_rate)
    return float(np.sum(freqs * power) / max(float(np.sum(power)), 1e-20))


def bpm_of_tempo(tempo: int) -> float:
    """BPM of a MIDI set_tempo value (microseconds per beat), rounded to 0.01."""
    return round(60e6 / tempo, 2)


def tags_for(record: dict) -> tuple[str, ...]:
    """The tags of one render record, in `TAGS` order."""
    parts, drums, vocal = record["parts"], record["drums"], record["vocal"]
    measured = record["measured"]
    on: set[str] = {p["family"] for p in parts} | {p["source"] for p in parts}
    if any(p["program"] in PIANO_PROGRAMS for p in parts):
        on.add("piano")
    on.add("drums" if drums is not None and drums["notes"] > 0 else "no_drums")
    if "drums" in on:
        on.add(drums["kit_source"])
    bpm = bpm_of_tempo(record["tempo"])
    if bpm >= FAST_BPM:
        on.add("fast")
    if bpm <= SLOW_BPM:
        on.add("slow")
    voices = len(parts) + (vocal is not None)
    if len(parts) == 1 and "no_drums" in on and vocal is None:
        on.add("solo")
    if voices >= 3:
        on.add("ensemble")
    if record["meter"] == "3/4":
        on.add("triple_meter")
    chains = [record["mix_effects"], *(p["effects"] for p in parts)]
    on |= {EFFECT_TAGS[e["name"]] for chain in chains for e in chain if e["name"] in EFFECT_TAGS}
    if measured["centroid_hz"] >= BRIGHT_HZ:
        on.add("bright")
    if measured["centroid_hz"] <= DARK_HZ:
        on.add("dark")
    if measured["rms_dbfs"] >= LOUD_DBFS:
        on.add("loud")
    if measured["rms_dbfs"] <= QUIET_DBFS:
        on.add("quiet")
    melody = next(p for p in parts if p["role"] == "melody")
    if melody["median_pitch"] >= HIGH_PITCH:
        on.add("high_register")
    if melody["median_pitch"] <= LOW_PITCH:
        on.add("low_register")
    if "slow" in on and "reverb" in on and any(p["role"] == "pad" for p in parts):
        on.add("ambient")
    if vocal is not None:
        on |= {"vocal", "synthetic", vocal["kind"], f"{vocal['gender']}_voice"}
    if "vocal" not in on:
        on.add("no_vocal")
    return tuple(t for t in TAGS if t in on)
