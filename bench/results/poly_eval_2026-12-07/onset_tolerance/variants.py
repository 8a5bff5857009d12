"""Scratch variants of the poly voices' controls (not committed to export/): `install(VARIANT)` replaces
PolySynth._voice_controls with a copy that changes one thing; `install_z("cummean")` feeds every voice the
running mean of z. VARIANT: base, release:R, slew:R, equal, trackf0, norestrike, riselimit:R, riseafter:R (R in dB per
frame); see false_notes_valid80_L48.json for what each does."""

import os

import numpy as np

from export.poly import poly_synth
from export.poly import voice_decoder as vd
from export.poly.voice_controls import harmonic_energy, refine_f0, share_db

# riseafter:R: a held voice's loudness rises at most R dB per frame from its RISE_AFTER-th frame at one pitch
RISE_AFTER = int(os.environ.get("RISE_AFTER", "8"))
ONSET_ALLOWS = float(os.environ.get("ONSET_ALLOWS", "2"))  # ... unless the onset head reaches this at its semitone


def _shares(kind: str, rate: float, s: np.ndarray, held: np.ndarray, keep: np.ndarray, on: np.ndarray) -> np.ndarray:
    if kind == "release":
        return np.where(keep, np.maximum(s, held - rate), s)
    if kind == "slew":
        return np.where(keep, np.clip(s, held - rate, held + rate), s)
    if kind == "equal":
        return np.where(on, -10 * np.log10(max(int(on.sum()), 1)), -60.0)
    return s


def install(variant: str) -> None:
    if variant == "base":
        return
    kind, _, value = variant.partition(":")
    rate = float(value) if value else 0.0

    def voice_controls(self, audio, controls):  # noqa: ANN001, ANN202 - a patched method
        k, n = controls.frames, self.config.voices
        target, notch = np.zeros((k, n), np.float32), np.zeros((k, n), bool)
        if self.tracker_stream is None:
            self.tracker_stream = self.tracker.stream()
            self.held_share, self.was_on = np.full(n, -60.0), np.zeros(n, bool)
            self.prev_loud, self.prev_on, self.age = np.full(n, -90.0), np.zeros(n, bool), np.zeros(n, int)
            self.prev_hz = np.full(n, 440.0)
        activations, onsets = self.tracker_stream.push(audio)
        magnitudes, share_magnitudes = self.spectra.push(audio), self.share_spectra.push(audio)
        bin_hz = self.spectra.bin_hz
        hz, shares, mono = np.empty((k, n)), np.empty((k, n)), np.empty((k, n), bool)
        struck = np.zeros((k, n), bool)
        for i in range(k):
            voices = self.allocator.frame(activations[i], onsets[i])
            semitones = np.clip(np.round(self.last_midi).astype(int) - 21, 0, 87)
            struck[i] = onsets[i][semitones] >= ONSET_ALLOWS
            target[i], mono[i] = voices.gain, voices.mono
            notch[i] = voices.restruck & ~voices.mono & (kind != "norestrike")
            named = voices.midi > 0
            self.last_midi[named] = voices.midi[named]
            hz[i] = refine_f0(magnitudes[i], self.last_midi, bin_hz)
            if kind == "trackf0":
                hz[i] = 440.0 * 2 ** ((self.last_midi - 69) / 12)
            on = voices.gain > 0
            s = share_db(harmonic_energy(share_magnitudes[i], hz[i], bin_hz), on)
            s = _shares(kind, rate, s, self.held_share, self.was_on & on & ~notch[i], on)
            self.held_share, self.was_on, shares[i] = s, on, s
        f0, periodicity, loudness = (c[:, None] for c in (controls.f0, controls.periodicity, controls.loudness))
        voice_loud = np.where(mono, loudness, loudness + shares)
        if kind in ("riselimit", "riseafter"):
            for i in range(k):
                on = target[i] > 0
                steady = np.abs(np.log2(hz[i] / self.prev_hz)) < 0.5 / 12  # a new pitch is a new note
                self.age = np.where(on & self.prev_on & ~notch[i] & steady & ~struck[i], self.age + 1, 0)
                self.prev_hz = hz[i].copy()
                grown = self.age >= (RISE_AFTER if kind == "riseafter" else 0)  # riselimit: held frames only
                hold = on & self.prev_on & ~notch[i] & ~mono[i] & grown
                voice_loud[i] = np.where(hold, np.minimum(voice_loud[i], self.prev_loud + rate), voice_loud[i])
                self.prev_loud, self.prev_on = voice_loud[i].copy(), on
        tracked = np.maximum(periodicity, poly_synth.TRACKED_PERIODICITY)
        return (np.where(mono, f0, hz).astype(np.float32), np.where(mono, periodicity, tracked).astype(np.float32),
                voice_loud.astype(np.float32), target, notch)

    poly_synth.PolySynth._voice_controls = voice_controls


def install_z(mode: str) -> None:
    if mode != "cummean":
        raise ValueError(mode)
    push = vd.VoiceDecoder.push

    def running_mean_push(self, z, f0, per, loud, gain):  # noqa: ANN001, ANN202 - a patched method
        if not hasattr(self, "z_sum"):
            self.z_sum, self.z_n = np.zeros(z.shape[1]), 0
        mean = np.empty_like(z)
        for i in range(z.shape[0]):
            self.z_sum += z[i]
            self.z_n += 1
            mean[i] = self.z_sum / self.z_n
        return push(self, mean.astype(np.float32), f0, per, loud, gain)

    vd.VoiceDecoder.push = running_mean_push
