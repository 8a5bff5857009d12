"""The voice allocator on synthetic tracker activations: peaks, stable slots, hysteresis, stealing, slot 0."""

from __future__ import annotations

import numpy as np

from export.poly.tracker import BINS, bin_midi
from export.poly.voice_allocator import AllocatorConfig, VoiceAllocator, peaks


def bumps(*notes: tuple[float, float]) -> np.ndarray:
    """Activations with a bump of height h centred on fractional MIDI m for each (m, h)."""
    midi = bin_midi(np.arange(BINS))
    out = np.zeros(BINS)
    for m, h in notes:
        out = np.maximum(out, h * np.exp(-0.5 * ((midi - m) / 0.25) ** 2))
    return out.astype(np.float32)


def test_peaks_are_refined_between_bins_and_merged_when_close() -> None:
    found = peaks(bumps((60.2, 0.9), (64.0, 0.6)), 0.3, 0.7)
    assert [round(m, 1) for m, _ in found] == [60.2, 64.0]
    assert abs(found[0][0] - 60.2) < 0.05
    assert len(peaks(bumps((60.0, 0.9), (60.5, 0.8)), 0.3, 0.7)) == 1  # half a semitone apart: one note


def test_one_note_is_slot_zero_on_the_monophonic_controls() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=4))
    v = alloc.frame(bumps((57.0, 0.9)))
    assert v.gain.tolist() == [1, 0, 0, 0] and v.mono.tolist() == [True, False, False, False]
    v = alloc.frame(bumps((57.0, 0.9), (62.0, 0.8)))  # a second note: slot 0 follows its own track
    assert not v.mono[0] and v.gain.tolist() == [1, 1, 0, 0] and abs(v.midi[0] - 57.0) < 0.05


def test_no_note_plays_the_monophonic_path() -> None:
    v = VoiceAllocator(AllocatorConfig(voices=3)).frame(np.zeros(BINS, np.float32))
    assert v.mono.tolist() == [True, False, False] and v.gain.tolist() == [1, 0, 0]


def test_slots_keep_their_pitch_tracks_through_glides() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=6))
    first = alloc.frame(bumps((48.0, 0.9), (55.0, 0.8), (64.0, 0.7)))
    slots = {round(float(m)): s for s, m in enumerate(first.midi) if first.gain[s]}
    assert set(slots) == {48, 55, 64}
    for step in range(1, 20):  # all three bend up 0.1 semitone per frame, crossing no other
        shift = 0.1 * step
        v = alloc.frame(bumps((48 + shift, 0.9), (55 + shift, 0.8), (64 + shift, 0.7)))
        for start, slot in slots.items():
            assert abs(v.midi[slot] - (start + shift)) < 0.06
    assert int(v.gain.sum()) == 3


def test_hysteresis_starting_needs_on_staying_needs_off() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=2, on=0.5, off=0.3))
    assert alloc.frame(bumps((60.0, 0.4))).mono[0]  # too weak to start: nothing sounds
    assert not alloc.sounding.any()
    alloc.frame(bumps((60.0, 0.6)))
    assert alloc.sounding[0]
    alloc.frame(bumps((60.0, 0.35)))
    assert alloc.sounding[0]  # weaker but above off: still sounding
    alloc.frame(bumps((60.0, 0.2)))
    assert not alloc.sounding[0]


def test_a_stronger_new_note_takes_the_weakest_slot_when_all_are_busy() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=2))
    alloc.frame(bumps((48.0, 0.9), (63.0, 0.55)))
    v = alloc.frame(bumps((48.0, 0.9), (63.0, 0.55), (70.0, 0.95)))
    assert sorted(round(float(m)) for m in v.midi) == [48, 70]
    v = alloc.frame(bumps((48.0, 0.9), (70.0, 0.9), (65.0, 0.45)))  # too weak to start: no change
    assert sorted(round(float(m)) for m in v.midi) == [48, 70]
    v = alloc.frame(bumps((48.0, 0.9), (70.0, 0.4), (63.0, 0.55)))  # a fading slot gives way
    assert sorted(round(float(m)) for m in v.midi) == [48, 63]


def test_a_partial_of_a_sounding_note_needs_a_strong_activation_to_start() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=3))
    v = alloc.frame(bumps((48.0, 0.9), (60.0, 0.7), (67.0, 0.6)))  # octave and twelfth of C3
    assert int(v.gain.sum()) == 1 and round(float(v.midi[0])) == 48
    v = alloc.frame(bumps((48.0, 0.9), (60.0, 0.9)))  # a real octave, played loud, does start
    assert sorted(round(float(m)) for m, g in zip(v.midi, v.gain, strict=True) if g) == [48, 60]


def test_an_octave_below_a_sounding_note_needs_a_strong_activation_to_start() -> None:
    for below in (12.0, 24.0):
        alloc = VoiceAllocator(AllocatorConfig(voices=3))
        alloc.frame(bumps((64.0, 0.9)))
        v = alloc.frame(bumps((64.0, 0.9), (64.0 - below, 0.7)))  # the tracker's commonest false chord note
        assert int(v.gain.sum()) == 1 and round(float(v.midi[0])) == 64
        v = alloc.frame(bumps((64.0, 0.9), (64.0 - below, 0.9)))  # a bass note under it, played loud, starts
        assert sorted(round(float(m)) for m, g in zip(v.midi, v.gain, strict=True) if g) == [64 - below, 64]
    v = VoiceAllocator(AllocatorConfig(voices=3)).frame(bumps((64.0, 0.9), (57.0, 0.7)))  # a fourth below: free
    assert int(v.gain.sum()) == 2


def test_a_rising_onset_on_a_sounding_voice_marks_it_struck_again() -> None:
    alloc = VoiceAllocator(AllocatorConfig(voices=3, onset=0.5))
    chord = bumps((48.0, 0.9), (55.0, 0.8))
    onsets = np.zeros(88, np.float32)
    onsets[[48 - 21, 55 - 21]] = 0.9
    first = alloc.frame(chord, onsets)  # both start with this onset: new voices, not re-strikes
    assert first.gain.sum() == 2 and not first.restruck.any()
    held = alloc.frame(chord, onsets)  # the onset stays high: no rising edge
    assert not held.restruck.any()
    quiet = np.zeros(88, np.float32)
    assert not alloc.frame(chord, quiet).restruck.any()
    again = quiet.copy()
    again[55 - 21] = 0.7  # the G is plucked again while both sound
    v = alloc.frame(chord, again)
    slot_g = int(np.argmin(np.abs(v.midi - 55.0)))
    assert v.restruck.tolist() == [i == slot_g for i in range(3)]
    assert v.gain.sum() == 2  # still the same two voices
    assert not alloc.frame(chord).restruck.any()  # without onsets nothing is ever struck again
