"""The tracker runtime: opening errors, pitch helpers, offline blocks == stream, note extraction."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from poly_phrases import export_tiny_tracker

from export.core.errors import LatentbridgeError
from export.poly import tracker as tracker_module
from export.poly.note_events import NoteSettings, NoteTracker, extract_notes
from export.poly.tracker import PolyTracker, PolyTrackerStream, bin_midi, frame_pitches, midi_bin, refine_peak


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny_tracker(tmp_path_factory.mktemp("poly"))


def test_missing_and_corrupt_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(LatentbridgeError, match="no such model file"):
        PolyTracker.open(tmp_path / "absent.tracker.onnx")
    bad = tmp_path / "bad.tracker.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(LatentbridgeError, match="not a readable ONNX model") as info:
        PolyTracker.open(bad)
    assert "\n" not in str(info.value)


def test_bins_map_to_midi_and_back() -> None:
    assert bin_midi(0) == 21 and bin_midi(261) == 108 and bin_midi(3) == 22
    assert midi_bin(60.5) == pytest.approx(118.5)


@pytest.mark.parametrize("centre", [100.0, 100.3, 99.6])
def test_parabolic_refinement_finds_a_parabola_vertex(centre: float) -> None:
    bins = np.arange(264, dtype=np.float64)
    row = np.maximum(0.0, 1.0 - 0.1 * (bins - centre) ** 2)
    assert refine_peak(row, int(row.argmax())) == pytest.approx(centre, abs=1e-9)
    assert frame_pitches(row, 0.5) == pytest.approx([bin_midi(centre)])


def test_offline_blocks_equal_one_stream_call(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = PolyTracker.open(exported)
    audio = (0.2 * np.random.default_rng(0).standard_normal(50 * 128 + 77)).astype(np.float32)
    monkeypatch.setattr(tracker_module, "BLOCK_FRAMES", 7)  # several blocks and a short last one
    act, onset = tracker.activations(audio)
    whole_act, whole_onset = PolyTrackerStream(tracker).push(audio[: 50 * 128])
    assert act.shape == (50, 264) and np.abs(act - whole_act).max() < 1e-5
    assert np.abs(onset - whole_onset).max() < 1e-5
    with pytest.raises(LatentbridgeError, match="multiples of 128"):
        PolyTrackerStream(tracker).push(audio[:100])


# the rules at their plainest (no activation floor, strikes only on frames already on, 48-ms minimums, onsets where
# the rules start notes), so the hand-made pattern shows each one; the tuned defaults are checked in the last test
PLAIN = NoteSettings(gap=2, min_frames=6, restrike_frames=6, min_activation=0.0, strike_floor=0.5, rise_frames=0)


def pattern() -> tuple[np.ndarray, np.ndarray]:
    """Two notes: MIDI 60 (bin 117) frames 10-39 with an onset at 10 and a re-strike at 25, and MIDI 64.3 held
    from frame 50 to 69 without any onset (legato start)."""
    act, onset = np.zeros((90, 264)), np.zeros((90, 88))
    act[10:40, 116:119] = [0.5, 0.9, 0.5]
    onset[10:12, 39] = onset[25, 39] = 0.9
    act[50:70, 128:131] = [0.3, 0.9, 0.6]  # peak bin 129 leaning up: fractional MIDI above 64
    return act, onset


def test_notes_from_a_known_pattern() -> None:
    notes = extract_notes(*pattern(), PLAIN)
    assert [(round(n.onset / (128 / 16000)), round(n.offset / (128 / 16000))) for n in notes] == [
        (10, 25), (25, 40), (50, 70)]
    assert notes[0].midi == pytest.approx(60.0) and 64.0 < notes[2].midi < 64.33


def test_restrike_age_minimum_length_and_minimum_activation_are_separate_rules() -> None:
    act, onset = pattern()
    act[50:70, 128:131] = [0.3, 0.6, 0.5]  # the legato note weaker: mean level 0.6 against 0.9

    def spans(**settings: float) -> list[tuple[int, int]]:
        notes = extract_notes(act, onset, replace(PLAIN, **settings))
        return [(round(n.onset / (128 / 16000)), round(n.offset / (128 / 16000))) for n in notes]

    assert spans() == [(10, 25), (25, 40), (50, 70)]
    assert spans(restrike_frames=16) == [(10, 40), (50, 70)]  # the re-strike at 15 frames is too early
    assert spans(min_frames=16) == [(50, 70)]  # the two 15-frame halves are dropped, the re-strike still splits
    assert spans(restrike_frames=16, min_frames=16) == [(10, 40), (50, 70)]
    assert spans(min_activation=0.7) == [(10, 25), (25, 40)]
    assert spans(min_activation=0.95) == []


def test_a_strike_starts_a_note_before_its_frames_rise_down_to_the_strike_floor() -> None:
    act, onset = pattern()
    act[10:12, 116:119] = [0.1, 0.3, 0.1]  # struck at 10, the frames reach 0.5 at 12
    onset[25] = 0.0

    def first_note(**settings: float) -> tuple[int, int]:
        note = extract_notes(act, onset, replace(PLAIN, **settings))[0]
        return round(note.onset / (128 / 16000)), round(note.offset / (128 / 16000))

    assert first_note() == (12, 40)  # legato start once the frames are on
    assert first_note(strike_floor=0.2) == (10, 40)
    assert first_note(strike_floor=0.35) == (12, 40)


def test_onsets_move_back_along_the_rising_edge_and_no_further() -> None:
    act, onset = pattern()
    act[6:10, 116:119] = [[0.0, 0.005, 0.0], [0.0, 0.1, 0.0], [0.0, 0.2, 0.0], [0.0, 0.3, 0.0]]  # rises from frame 7
    act[47:50, 129] = [0.4, 0.3, 0.35]  # before the legato note: its edge starts at 48 (47 is higher than 48)

    def onsets(**settings: float) -> list[int]:
        return [round(n.onset / (128 / 16000)) for n in extract_notes(act, onset, replace(PLAIN, **settings))]

    assert onsets() == [10, 25, 50]
    assert onsets(rise_frames=6) == [7, 25, 48]  # 0.005 is below the floor; the re-strike stays where it was
    assert onsets(rise_frames=2) == [8, 25, 48]
    assert onsets(rise_frames=6, rise_floor=0.25) == [9, 25, 48]


@pytest.mark.parametrize("settings", [PLAIN, replace(PLAIN, rise_frames=6)], ids=["plain", "rising-edge"])
def test_causal_notes_equal_offline_notes_in_any_blocks(settings: NoteSettings) -> None:
    act, onset = pattern()
    act[7:10, 117] = [0.1, 0.2, 0.3]
    tracker, found, start = NoteTracker(settings), [], 0
    for k in (1, 4, 9, 2, 30, 44):
        found += tracker.push(act[start: start + k], onset[start: start + k])
        start += k
    found += tracker.flush()
    assert sorted(found, key=lambda n: (n.onset, n.midi)) == extract_notes(act, onset, settings)
    assert len(found) == 3


def test_the_tuned_defaults_on_the_pattern() -> None:
    """15-frame halves are shorter than the 128-ms minimum note, the re-strike at 15 frames is old enough."""
    notes = extract_notes(*pattern())
    assert NoteSettings().min_frames == 16 and NoteSettings().restrike_frames == 8
    assert [(round(n.onset / (128 / 16000)), round(n.offset / (128 / 16000))) for n in notes] == [(50, 70)]
