"""The MIDI voice allocator: notes, ADSR, velocity, pitch bend, sustain pedal, stealing, and outputs that do not
depend on how frames are grouped into calls."""

from __future__ import annotations

import math

import numpy as np
import pytest

from export.core.pitch_units import midi_to_hz
from plugin_host.midi_voices import (
    FRAME_RATE,
    LOUD_DB,
    SILENT_DB,
    SOFT_DB,
    Envelope,
    MidiEvent,
    VoiceAllocator,
    velocity_db,
)

FAST = Envelope(attack_s=0.0, decay_s=0.0, sustain=1.0, release_s=0.0)  # full level in one frame, gone in one


def on(frame: int, note: int, velocity: int = 100, channel: int = 0) -> MidiEvent:
    return MidiEvent(frame, (0x90 | channel, note, velocity))


def off(frame: int, note: int, channel: int = 0) -> MidiEvent:
    return MidiEvent(frame, (0x80 | channel, note, 0))


def cc(frame: int, number: int, value: int, channel: int = 0) -> MidiEvent:
    return MidiEvent(frame, (0xB0 | channel, number, value))


def play(events: list[MidiEvent], frames: int, voices: int = 4, envelope: Envelope = FAST,
         chunks: list[int] | None = None, bend_range: float = 2.0) -> dict[str, np.ndarray]:
    alloc = VoiceAllocator(voices, envelope, bend_range)
    for e in events:
        alloc.push(e)
    parts = []
    for k in chunks or [frames]:
        parts.append(alloc.render(k))
    return {name: np.concatenate([getattr(p, name) for p in parts]) for name in
            ("f0", "loudness", "gain", "periodicity", "pitch")}


def test_velocity_maps_linearly_in_db_onto_the_models_loudness_range() -> None:
    assert velocity_db(1) == SOFT_DB and velocity_db(127) == LOUD_DB
    assert velocity_db(0) == SOFT_DB and velocity_db(200) == LOUD_DB
    steps = np.diff([velocity_db(v) for v in range(1, 128)])
    np.testing.assert_allclose(steps, (LOUD_DB - SOFT_DB) / 126)


def test_a_note_sounds_at_its_pitch_and_level_on_one_voice_while_the_others_stay_idle() -> None:
    out = play([on(2, 69, 127), off(10, 69)], 14)
    assert np.all(out["gain"][:2] == 0) and np.all(out["loudness"][:2] == SILENT_DB)
    np.testing.assert_allclose(out["f0"][2:10, 0], 440.0, rtol=1e-6)
    np.testing.assert_array_equal(out["gain"][2:10, 0], 1.0)
    np.testing.assert_array_equal(out["periodicity"][2:10, 0], 1.0)
    np.testing.assert_allclose(out["loudness"][2:10, 0], LOUD_DB, atol=1e-5)
    assert np.all(out["gain"][:, 1:] == 0) and np.all(out["periodicity"][:, 1:] == 0)
    assert out["gain"][10, 0] == 0 and np.all(out["gain"][11:] == 0)  # a zero release: gone at once
    assert np.all(out["pitch"][2:] == 69) and np.all(out["pitch"][:2] == 60)


def test_the_adsr_follows_its_times_and_levels() -> None:
    env = Envelope(attack_s=5 / FRAME_RATE, decay_s=10 / FRAME_RATE, sustain=0.5, release_s=8 / FRAME_RATE)
    out = play([on(0, 60, 127), off(40, 60)], 60, envelope=env)
    level = 10 ** ((out["loudness"][:, 0] - LOUD_DB) / 20)
    np.testing.assert_allclose(level[:5], np.arange(1, 6) / 5, atol=1e-5)  # attack: linear to 1 in 5 frames
    np.testing.assert_allclose(level[5:15], 1 - 0.5 * np.arange(1, 11) / 10, atol=1e-5)  # decay to 0.5
    np.testing.assert_allclose(level[15:40], 0.5, atol=1e-5)  # sustain
    np.testing.assert_allclose(level[40:47], 0.5 - 0.5 * np.arange(1, 8) / 8, atol=1e-5)  # release in 8 frames
    assert out["gain"][46, 0] == 1 and out["gain"][47, 0] == 0 and np.all(out["gain"][48:, 0] == 0)
    assert np.all(out["loudness"][48:, 0] == SILENT_DB)


def test_pitch_bend_moves_the_channels_voices_by_the_bend_range() -> None:
    up = MidiEvent(3, (0xE0, 0x7F, 0x7F))  # full up: +8191/8192
    down = MidiEvent(6, (0xE0, 0x00, 0x00))  # full down: -1
    other = MidiEvent(3, (0xE1, 0x7F, 0x7F))  # another channel: no effect on channel 0's voice
    out = play([on(0, 60), up, other, down], 9, bend_range=2.0)
    assert out["f0"][2, 0] == pytest.approx(midi_to_hz(60))
    assert out["f0"][4, 0] == pytest.approx(midi_to_hz(60 + 2 * 8191 / 8192), rel=1e-6)
    assert out["f0"][7, 0] == pytest.approx(midi_to_hz(58), rel=1e-6)
    wide = play([on(0, 60), up], 5, bend_range=12.0)
    assert wide["f0"][4, 0] == pytest.approx(midi_to_hz(60 + 12 * 8191 / 8192), rel=1e-6)


def test_the_sustain_pedal_holds_released_notes_until_it_lifts() -> None:
    out = play([cc(0, 64, 127), on(1, 60), off(3, 60), cc(20, 64, 0)], 24)
    np.testing.assert_array_equal(out["gain"][1:20, 0], 1.0)  # held by the pedal long after the key went up
    assert out["gain"][20, 0] == 0 and np.all(out["gain"][21:, 0] == 0)  # released when it lifts
    unpedalled = play([on(1, 60), off(3, 60)], 6)
    assert unpedalled["gain"][3, 0] == 0


def test_stealing_takes_the_oldest_released_voice_then_the_oldest_held_and_fades_it_out_first() -> None:
    slow = Envelope(attack_s=0.0, decay_s=0.0, sustain=1.0, release_s=1.0)  # releases last 125 frames
    # voices: 60 (released at 5), 62 (released at 6), 64 (held); a new note steals 60's voice, the oldest release
    out = play([on(0, 60), on(1, 62), off(5, 60), off(6, 62), on(8, 67)], 12, voices=2, envelope=slow)
    assert out["f0"][7, 0] == pytest.approx(midi_to_hz(60))
    assert out["gain"][8, 0] == 0 and out["f0"][8, 0] == pytest.approx(midi_to_hz(60))  # fades out (one frame)
    assert out["gain"][9, 0] == 1 and out["f0"][9, 0] == pytest.approx(midi_to_hz(67))  # then the new note
    np.testing.assert_array_equal(out["gain"][:12, 1], [0] + [1] * 11)  # 62's voice untouched
    # all held: the oldest note-on goes
    held = play([on(0, 60), on(1, 62), on(4, 67)], 7, voices=2)
    assert held["gain"][4, 0] == 0 and held["f0"][5, 0] == pytest.approx(midi_to_hz(67))
    assert np.all(held["gain"][:7, 1][1:] == 1) and held["f0"][6, 1] == pytest.approx(midi_to_hz(62))
    # a note sustained by the pedal goes before a key still held, even a newer one
    pedal = play([on(0, 60), cc(1, 64, 127), on(2, 62), off(3, 62), on(5, 67)], 8, voices=2)
    assert pedal["gain"][5, 1] == 0 and pedal["f0"][6, 1] == pytest.approx(midi_to_hz(67))
    assert np.all(pedal["gain"][:8, 0] == 1)


def test_the_same_note_again_retriggers_its_voice() -> None:
    slow = Envelope(attack_s=0.0, decay_s=0.0, sustain=1.0, release_s=1.0)
    out = play([on(0, 60), off(2, 60), on(4, 60, 127)], 6, envelope=slow)
    assert np.all(out["gain"][:, 1:] == 0)  # no second voice
    assert out["loudness"][5, 0] == pytest.approx(LOUD_DB, abs=1e-5)


def test_same_events_same_output_whatever_the_grouping_of_frames() -> None:
    rng = np.random.default_rng(3)
    events = []
    for frame in sorted(rng.integers(0, 400, 80)):
        kind = rng.integers(0, 5)
        note = int(rng.integers(48, 72))
        if kind < 2:
            events.append(on(int(frame), note, int(rng.integers(1, 128)), int(rng.integers(0, 2))))
        elif kind < 4:
            events.append(off(int(frame), note, int(rng.integers(0, 2))))
        else:
            events.append(MidiEvent(int(frame), (0xE0, int(rng.integers(0, 128)), int(rng.integers(0, 128)))))
    events.append(cc(100, 64, 127))
    events.append(cc(250, 64, 0))
    env = Envelope(attack_s=0.03, decay_s=0.1, sustain=0.6, release_s=0.2)
    whole = play(events, 420, voices=3, envelope=env)
    chunks = [1, 2, 3, 5, 7, 11, 13, 64, 1, 100]
    chunks.append(420 - sum(chunks))
    split = play(events, 420, voices=3, envelope=env, chunks=chunks)
    for name in whole:
        np.testing.assert_array_equal(whole[name], split[name], err_msg=name)
    assert (whole["gain"] > 0).sum(axis=1).max() == 3  # stealing happened: all voices busy at once
    assert math.isclose(float(whole["loudness"].max()), LOUD_DB, abs_tol=1.0)
