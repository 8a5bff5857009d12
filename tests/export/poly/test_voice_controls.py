"""Per-voice controls: f0 refined on the input spectrum, loudness split by harmonic energy."""

from __future__ import annotations

import numpy as np

from export.core.pitch_units import hz_to_midi, midi_to_hz
from export.poly.voice_controls import (
    SUB_OCTAVE_CREDIT,
    FrameSpectra,
    harmonic_energy,
    refine_f0,
    share_db,
    sub_octave_credit,
)

RATE, HOP = 16000, 128


def tone(f0: float, amplitude: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6))).astype(np.float32)


def test_refined_f0_is_within_three_cents_for_a_note_between_semitones() -> None:
    for midi in (40.37, 57.13, 81.8):
        spectra = FrameSpectra(HOP, RATE)
        mags = spectra.push(tone(float(midi_to_hz(midi)), 0.3))
        (hz,) = refine_f0(mags[-1], np.array([round(midi)]), spectra.bin_hz)
        assert abs(hz_to_midi(hz) - midi) < 0.03, (midi, hz_to_midi(hz))


def test_voices_refined_together_equal_each_refined_alone() -> None:
    """All voices in one pass give each voice's f0 bit for bit, wherever its best grid point lies (inside, at an
    edge, anywhere on a flat spectrum)."""
    spectra = FrameSpectra(HOP, RATE)
    mags = spectra.push(tone(float(midi_to_hz(52.3)), 0.3) + tone(float(midi_to_hz(59.0)), 0.2))
    midi = np.array([52.0, 59.0, 52.6, 70.0, 30.0, 100.0])
    for magnitude in (mags[-1], np.zeros_like(mags[-1])):
        together = refine_f0(magnitude, midi, spectra.bin_hz)
        alone = np.concatenate([refine_f0(magnitude, midi[v: v + 1], spectra.bin_hz) for v in range(midi.size)])
        np.testing.assert_array_equal(together, alone)
    np.testing.assert_allclose(hz_to_midi(together), midi - 0.5)  # flat: the search grid's first point
    np.testing.assert_allclose(hz_to_midi(refine_f0(mags[-1], midi[:2], spectra.bin_hz)), [52.3, 59.0], atol=0.05)


def test_loudness_shares_follow_the_energy_of_two_notes() -> None:
    spectra = FrameSpectra(HOP, RATE)
    low, high = float(midi_to_hz(48)), float(midi_to_hz(54))  # a tritone: no shared harmonics
    mags = spectra.push(tone(low, 0.4) + tone(high, 0.2))
    energy = harmonic_energy(mags[-1], np.array([low, high, 300.0]), spectra.bin_hz)
    shares = share_db(energy, np.array([True, True, False]))
    assert abs(shares[0] - 10 * np.log10(0.8)) < 0.3 and abs(shares[1] - 10 * np.log10(0.2)) < 0.6
    assert share_db(energy[:1], np.array([True]))[0] == 0.0  # alone: the whole loudness


def test_a_false_sub_octave_is_credited_with_little_and_a_real_bass_note_with_its_own() -> None:
    """A voice one or two octaves below a sounding one keeps only what its own harmonics (those the upper note
    does not play) carry; a voice with no such relation, or under a silent slot, keeps all of its energy."""
    spectra = FrameSpectra(HOP, RATE)
    upper = tone(220.0, 0.3)
    alone = spectra.push(upper)[-1]
    voices = np.array([110.0, 220.0, 55.0, 330.0])
    both = np.array([True, True, False, False])
    credit = sub_octave_credit(alone, voices, both, spectra.bin_hz)
    assert credit[0] < 0.02 * SUB_OCTAVE_CREDIT and (credit[1:] == 1).all()
    two_below = sub_octave_credit(alone, voices, np.array([False, True, True, False]), spectra.bin_hz)
    assert two_below[2] < 0.02 * SUB_OCTAVE_CREDIT and two_below[1] == 1
    assert (sub_octave_credit(alone, voices, np.array([True, False, False, True]), spectra.bin_hz) == 1).all()
    with_bass = FrameSpectra(HOP, RATE).push(upper + tone(110.0, 0.3))[-1]
    credit = sub_octave_credit(with_bass, voices, both, spectra.bin_hz)
    # harmonic h of the bass: its own 1 / h (h <= 5) plus, at even h, the upper note's 1 / (h / 2); in phase
    bass = {h: 1 / h for h in range(1, 6)}
    power = {h: (bass.get(h, 0) + (2 / h if h % 2 == 0 and h <= 10 else 0)) ** 2 for h in range(1, 13)}
    expected = sum(p for h, p in power.items() if h % 2) / sum(power.values())
    assert abs(credit[0] / SUB_OCTAVE_CREDIT - expected) < 0.02 and credit[1] == 1


def test_spectra_are_causal_and_block_size_free() -> None:
    audio = tone(220.0, 0.3, 0.4)[: 40 * HOP]
    whole = FrameSpectra(HOP, RATE).push(audio)
    parts = FrameSpectra(HOP, RATE)
    starts, sizes = (0, HOP, 4 * HOP, 11 * HOP), (1, 3, 7, 29)
    pieces = [parts.push(audio[s: s + n * HOP]) for s, n in zip(starts, sizes, strict=True)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    changed = audio.copy()
    changed[20 * HOP:] = 0
    np.testing.assert_array_equal(FrameSpectra(HOP, RATE).push(changed)[:20], whole[:20])
