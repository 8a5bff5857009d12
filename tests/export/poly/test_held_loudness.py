"""HeldLoudness: a held tracked voice swells only slowly unless struck; starts, pitch changes, re-strikes and
onsets reset it; monophonic slots pass untouched."""

import numpy as np

from export.poly.held_loudness import HeldLoudness, HeldLoudnessConfig

CFG = HeldLoudnessConfig(settle_frames=3, rise_db=0.5, strike_onset=0.35)
ON = np.array([True])


def run(loudness: list[float], hz: list[float] | None = None, onset: list[float] | None = None,
        restruck: list[bool] | None = None, mono: bool = False) -> list[float]:
    held = HeldLoudness(1, CFG)
    n = len(loudness)
    hz, onset, restruck = hz or [220.0] * n, onset or [0.0] * n, restruck or [False] * n
    return [float(held.frame(np.array([loudness[i]]), ON, np.array([mono]), np.array([restruck[i]]),
                             np.array([hz[i]]), np.array([onset[i]]))[0]) for i in range(n)]


def test_a_settled_voice_rises_slowly_and_falls_at_once() -> None:
    out = run([-30, -30, -30, -30, -24, -24, -40, -30])
    assert out[:4] == [-30, -30, -30, -30]
    assert out[4:6] == [-29.5, -29.0]  # limited to 0.5 dB a frame once settled (3 frames)
    assert out[6] == -40  # a fall passes
    assert out[7] == -39.5


def test_the_first_frames_of_a_note_rise_freely() -> None:
    assert run([-60, -40, -30]) == [-60, -40, -30]  # its attack: held 1, 1, 2 frames (< 3)


def test_a_new_pitch_an_onset_or_a_restrike_lets_it_swell() -> None:
    base = [-30.0] * 4 + [-20.0]
    assert run(base)[-1] == -29.5
    assert run(base, hz=[220.0] * 4 + [233.1])[-1] == -20  # a semitone up: a new note
    assert run(base, hz=[220.0] * 4 + [224.0])[-1] == -29.5  # 31 cents: the same note
    assert run(base, onset=[0.0] * 4 + [0.4])[-1] == -20  # the onset head strikes it
    assert run(base, onset=[0.0] * 4 + [0.3])[-1] == -29.5
    assert run(base, restruck=[False] * 4 + [True])[-1] == -20


def test_monophonic_slots_and_silent_ones_pass_untouched() -> None:
    assert run([-30] * 4 + [-20], mono=True)[-1] == -20
    held = HeldLoudness(2, CFG)
    for level in (-30.0, -30.0, -30.0, -30.0):
        held.frame(np.array([level, level]), np.array([True, True]), np.zeros(2, bool), np.zeros(2, bool),
                   np.full(2, 220.0), np.zeros(2))
    out = held.frame(np.array([-20.0, -20.0]), np.array([True, False]), np.zeros(2, bool), np.zeros(2, bool),
                     np.full(2, 220.0), np.zeros(2))
    assert out.tolist() == [-29.5, -20.0]  # the slot that stopped sounding starts afresh
