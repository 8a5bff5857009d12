"""Per-note onset lag of a resynthesis against its input: the nearest same-pitch note in the window, counts beside
the spread."""

from __future__ import annotations

import pytest

from export.poly.note_events import NoteEvent
from models.data.poly_midi import NoteLabel
from models.evaluation.onset_lag import lag_summary, nearest_onset, onset_lags_ms


def label(onset: float, pitch: int) -> NoteLabel:
    return NoteLabel(onset=onset, offset=onset + 0.5, pitch=pitch, velocity=100, program=0, channel=0, bend=())


def heard(onset: float, midi: float) -> NoteEvent:
    return NoteEvent(onset=onset, offset=onset + 0.4, midi=midi, activation=0.9)


def test_nearest_onset_takes_the_same_pitch_inside_the_window_only() -> None:
    notes = [heard(0.95, 60.2), heard(1.04, 60.0), heard(1.02, 61.0), heard(1.5, 60.0)]
    assert nearest_onset(notes, 1.0, 60) == pytest.approx(1.04)  # 40 ms late beats 50 ms early
    assert nearest_onset(notes, 1.28, 60) == pytest.approx(1.5)  # 220 ms late: inside the 250-ms window
    assert nearest_onset(notes, 1.65, 60) is None  # 1.5 starts 150 ms early, outside the window's 100 ms
    assert nearest_onset(notes, 1.0, 62) is None


def test_lags_count_only_notes_heard_in_both_and_the_summary_keeps_the_counts() -> None:
    labels = [label(1.0, 60), label(2.0, 64), label(3.0, 67)]
    heard_in = [heard(1.01, 60), heard(2.0, 64)]  # the third note is not heard in the input
    heard_out = [heard(1.05, 60), heard(2.11, 64), heard(3.0, 67)]
    lags = onset_lags_ms(labels, heard_in, heard_out)
    assert lags == pytest.approx([40.0, 110.0])
    summary = lag_summary(lags, len(labels))
    assert summary["notes"] == 3 and summary["found_in_both"] == 2
    assert summary["percentiles_ms"]["50"] == pytest.approx(75.0)
    assert summary["within_25_ms_of_median"] == 0.0  # 35 ms either side of the median
    empty = lag_summary([], 3)
    assert empty["found_in_both"] == 0 and empty["percentiles_ms"] is None
