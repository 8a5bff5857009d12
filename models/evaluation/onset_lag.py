"""How late a resynthesis starts each note against its input, as a transcriber hears both (`eval voices`).

Times in seconds in, milliseconds out. For each labelled note: the transcribed note of the same pitch (within
half a semitone) whose onset lies nearest the label's onset, inside `WINDOW`, once in the input's transcription
and once in the output's; the lag is output minus input, for the notes found in both. The note-onset F1 counts
an output note only within 50 ms of the label, so a wide spread of lags loses notes that a constant shift
(`--align-attacks`, about the median) cannot bring back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from export.poly.note_events import NoteEvent
from models.data.poly_midi import NoteLabel

WINDOW = (-0.1, 0.25)  # seconds around a label's onset where a transcribed note may start
PERCENTILES = (10, 25, 50, 75, 90)
NEAR_MEDIAN_MS = 25.0


def nearest_onset(heard: Sequence[NoteEvent], onset: float, pitch: float) -> float | None:
    """The onset of the same-pitch note in `heard` nearest `onset` within WINDOW, or None."""
    candidates = [n.onset for n in heard if abs(n.midi - pitch) < 0.5 and WINDOW[0] <= n.onset - onset <= WINDOW[1]]
    return min(candidates, key=lambda t: abs(t - onset)) if candidates else None


def onset_lags_ms(labels: Sequence[NoteLabel], heard_in: Sequence[NoteEvent],
                  heard_out: Sequence[NoteEvent]) -> list[float]:
    """Output minus input onset (ms) of each labelled note found in both transcriptions."""
    lags = []
    for note in labels:
        found_in, found_out = nearest_onset(heard_in, note.onset, note.pitch), nearest_onset(heard_out, note.onset,
                                                                                             note.pitch)
        if found_in is not None and found_out is not None:
            lags.append(1000.0 * (found_out - found_in))
    return lags


def lag_summary(lags_ms: Sequence[float], notes: int) -> dict[str, object]:
    """Counts beside the spread: labelled notes, notes found in both, their lag percentiles (ms) and the share
    within NEAR_MEDIAN_MS of the median (None where no note was found in both)."""
    summary: dict[str, object] = {"notes": notes, "found_in_both": len(lags_ms), "percentiles_ms": None,
                                  "within_25_ms_of_median": None}
    if lags_ms:
        values = np.asarray(lags_ms, np.float64)
        median = float(np.median(values))
        summary["percentiles_ms"] = {str(p): float(np.percentile(values, p)) for p in PERCENTILES}
        summary["within_25_ms_of_median"] = float(np.mean(np.abs(values - median) <= NEAR_MEDIAN_MS))
    return summary
