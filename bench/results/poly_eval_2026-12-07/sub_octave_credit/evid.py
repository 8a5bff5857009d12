"""Scratch: `latentbridge ARGS` with the allocator's sub-octave rule asking the input spectrum.

EVID=MODE,LO,HI: a new peak one or two octaves (m = 2, 4) below a sounding voice or another peak is judged by the
energy at its harmonics that are not harmonics of the upper note (h % m != 0, h <= 12, <= 7 kHz) over the energy
at those that are, in dB, on the 2048-sample spectrum of its frame:
  ratio >= HI -> it starts as any other peak (`on`, or `off` on an attack);
  ratio <  LO -> it never starts;
  else         -> `harmonic_on`, as today.
"""
import os
import sys

import numpy as np

import export.poly.poly_synth as poly_synth
import export.poly.voice_allocator as va
from export.app.cli import main
from export.poly.tracker import midi_hz

LO, HI = (float(v) for v in os.environ["EVID"].split(","))
BELOW = np.array([12.0, 24.0])
LOG = os.environ.get("EVID_LOG")
seen = []


def evidence(magnitude, bin_hz, midi, m):
    f0 = float(midi_hz(midi))
    h = np.arange(1, 13)
    hz = f0 * h
    ok = hz <= 7000
    power = np.interp(hz / bin_hz, np.arange(magnitude.shape[0]), magnitude.astype(np.float64) ** 2) * ok
    shared = power[h % m == 0].sum()
    unshared = power[h % m != 0].sum()
    return 10 * np.log10((unshared + 1e-12) / (shared + 1e-12))


def install():
    related = va.VoiceAllocator._harmonic

    def analyse(self, audio):
        if self.tracker_stream is None:
            self.tracker_stream = self.tracker.stream()
        activations, onsets = self.tracker_stream.push(audio)
        magnitudes, share_magnitudes = self.spectra.push(audio), self.share_spectra.push(audio)
        k, n, bin_hz = activations.shape[0], self.config.voices, self.spectra.bin_hz
        out = poly_synth.VoiceFrames(np.zeros((k, n), np.float32), np.empty((k, n), bool), np.empty((k, n), bool),
                                     np.empty((k, n)), np.empty((k, n)), np.empty((k, n), np.float32))
        for i in range(k):
            self.allocator.spectrum = (magnitudes[i], bin_hz)
            voices = self.allocator.frame(activations[i], onsets[i])
            out.target[i], out.mono[i] = voices.gain, voices.mono
            out.notch[i] = voices.restruck & ~voices.mono
            named = voices.midi > 0
            self.last_midi[named] = voices.midi[named]
            out.hz[i] = poly_synth.refine_f0(magnitudes[i], self.last_midi, bin_hz)
            sounding = voices.gain > 0
            energy = poly_synth.harmonic_energy(share_magnitudes[i], out.hz[i], bin_hz)
            out.shares[i] = poly_synth.share_db(
                energy * poly_synth.sub_octave_credit(magnitudes[i], out.hz[i], sounding, bin_hz), sounding)
            out.onset[i] = onsets[i][poly_synth.onset_index(self.last_midi)]
        return out

    def harmonic(self, midi, others):
        uppers = np.concatenate([self.midi[self.sounding], others])
        above = uppers - midi  # semitones from the candidate up to each
        sub = np.abs(above[:, None] - BELOW[None, :]) <= 0.35
        if not sub.any():
            return related(self, midi, others)
        m = 4 if sub[:, 1].any() and not sub[:, 0].any() else 2
        magnitude, bin_hz = self.spectrum
        r = evidence(magnitude, bin_hz, midi, m)
        if LOG:
            seen.append(r)
        if r >= HI:
            # not a sub-octave: still a harmonic of something else?
            h = midi - uppers
            return bool((np.abs(h[:, None] - va.HARMONIC_INTERVALS[None, :]) <= 0.35).any())
        if r < LO:
            self.vetoed = True
            return True
        return True

    poly_synth.PolySynth._analyse = analyse
    va.VoiceAllocator._harmonic = harmonic
    # a related peak under LO never starts: the frame below asks it for an infinite activation
    def frame2(self, activations, onsets=None):
        cfg = self.config
        found = va.peaks(activations, cfg.off, cfg.min_separation)
        claimed = [False] * len(found)
        strength = np.zeros(cfg.voices)
        restruck = np.zeros(cfg.voices, bool)
        rising = np.zeros(88, bool) if onsets is None else (onsets >= cfg.onset) & (self.previous_onsets < cfg.onset)
        for slot in sorted(np.flatnonzero(self.sounding), key=lambda s: -self.activation[s]):
            best = self._nearest(found, claimed, self.midi[slot], cfg.match, cfg.off)
            if best is None:
                self.sounding[slot] = False
                continue
            claimed[best] = True
            self.midi[slot], strength[slot] = found[best]
            restruck[slot] = rising[int(va.onset_index(self.midi[slot]))]
        for i, (midi, act) in enumerate(found):
            if claimed[i]:
                continue
            semitone = int(va.onset_index(midi))
            attack = onsets is not None and onsets[semitone] >= cfg.onset
            self.vetoed = False
            if self._harmonic(midi, [m for j, (m, _) in enumerate(found) if j != i]):
                needed = np.inf if self.vetoed else cfg.harmonic_on
            else:
                needed = cfg.off if attack else cfg.on
            if act < needed:
                continue
            slot = self._free_slot(midi, act, strength)
            if slot is None:
                continue
            claimed[i] = True
            self.midi[slot], strength[slot], self.sounding[slot] = midi, act, True
        self.activation = strength
        if onsets is not None:
            self.previous_onsets = onsets.astype(np.float64)
        mono = np.zeros(cfg.voices, bool)
        if not self.sounding.any() or (self.sounding[0] and self.sounding.sum() == 1):
            mono[0] = True
        gain = self.sounding.astype(np.float32)
        gain[0] = max(gain[0], float(mono[0]))
        return va.FrameVoices(self.midi.copy(), gain, strength.copy(), mono, restruck)

    va.VoiceAllocator.frame = frame2


if __name__ == "__main__":
    install()
    try:
        sys.exit(main(sys.argv[1:]))
    finally:
        if LOG and seen:
            np.save(LOG, np.array(seen))
