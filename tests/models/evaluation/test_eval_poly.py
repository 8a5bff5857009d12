"""`eval poly`: the report's counts and metrics on synthetic phrases, with the Basic Pitch reference row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from poly_phrases import export_tiny_tracker, write_phrases

from export.app.cli import main


def test_eval_poly_reports_both_systems(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 1, "test": 2}, seconds=1.5)
    export_tiny_tracker(tmp_path)
    assert main(["eval", "poly", "--data", str(data), "--model", str(tmp_path / "run"), "--json", "--threads", "1",
                 "--plots", str(tmp_path / "plots")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == 2 and report["reference_notes"] > 2
    bp = report["basic_pitch"]
    assert bp["files_scored"] == 2 and bp["failures"] == []
    assert bp["frame"]["f1"] > 0.6 and bp["note_onset"]["recall"] > 0.5  # clean harmonic tones: an easy judge
    assert report["ours"]["files_scored"] == 2 and 0.0 <= report["ours"]["frame"]["f1"] <= 1.0
    assert len(report["plots"]) == 2 and all(Path(p).is_file() for p in report["plots"])
