"""`eval poly`: the report's counts and metrics on synthetic phrases, with the Basic Pitch reference row."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from poly_phrases import export_tiny_tracker, write_phrases

from export.app.cli import main
from export.core.errors import LatentbridgeError


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
    ahead = report["ours"]["one_frame_lookahead"]
    assert 0.0 <= ahead["frame"]["f1"] <= 1.0 and 0.0 <= ahead["note_onset"]["f1"] <= 1.0
    for name in ("ours", "basic_pitch"):  # the per-style means average to the overall ones (files weigh equally)
        rows = report[name]["per_style"]
        assert sum(r["files"] for r in rows.values()) == 2
        mean = sum(r["note_onset_f1"] * r["files"] for r in rows.values()) / 2
        assert mean == pytest.approx(report[name]["note_onset"]["f1"])
        assert sum(r["frame_f1"] * r["files"] for r in rows.values()) / 2 == pytest.approx(report[name]["frame"]["f1"])


def test_tune_ranks_every_setting_on_valid_phrases_and_never_on_test(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    from models.evaluation.tune_poly import BASIC_PITCH_GRID, GRID, tune_basic_pitch, tune_notes
    from models.training.checkpoint import load_model

    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 2, "test": 1}, seconds=1.5)
    bundled = Path(__file__).resolve().parents[3] / "export" / "bundled" / "poly_default.pt"
    assert main(["eval", "poly", "--data", str(data), "--model", str(bundled), "--tune", "2", "--json",
                 "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    table = report["table"]
    assert report["split"] == "valid" and report["phrases"] == 2
    assert len(table) == len(list(itertools.product(*GRID.values())))
    assert [r["f1"] for r in table] == sorted((r["f1"] for r in table), reverse=True)
    assert report["best"] == table[0] and table[0]["f1"] >= report["default"]["f1"] and table[0]["f1"] > 0.3
    assert table[-1]["f1"] < table[0]["f1"]  # the thresholds matter on these phrases
    bp = report["basic_pitch"]  # its own thresholds tuned on the same phrases
    assert len(bp["table"]) == len(list(itertools.product(*BASIC_PITCH_GRID.values())))
    assert bp["best"] == bp["table"][0] and bp["best"]["f1"] >= bp["default"]["f1"] > 0.3
    with pytest.raises(LatentbridgeError, match="test split"):
        tune_notes(load_model(bundled, "poly")[0], data, split="test")
    with pytest.raises(LatentbridgeError, match="test split"):
        tune_basic_pitch(data, split="test")


def test_basic_pitch_thresholds_reach_its_notes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--basic-pitch-notes` changes Basic Pitch's notes and is recorded; its defaults are `predict`'s own."""
    from basic_pitch.inference import predict

    from models.evaluation.eval_poly import BasicPitchNotes, basic_pitch_model, basic_pitch_transcription

    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 1, "test": 1}, seconds=1.5)
    wav = next((data / "test").glob("*.wav"))
    model = basic_pitch_model()
    _, _, events = predict(str(wav), model_or_model_path=str(model))
    ours, _ = basic_pitch_transcription(wav, 187, model)
    assert sorted((round(n.onset, 4), round(n.offset, 4), n.midi) for n in ours.notes) == sorted(
        (round(float(s), 4), round(float(e), 4), float(p)) for s, e, p, *_ in events) != []
    strict, _ = basic_pitch_transcription(wav, 187, model, BasicPitchNotes(onset=0.95, frame=0.9, min_note_ms=500))
    assert len(strict.notes) < len(ours.notes)
    export_tiny_tracker(tmp_path)
    capsys.readouterr()  # predict's own "Predicting MIDI" line
    assert main(["eval", "poly", "--data", str(data), "--model", str(tmp_path / "run"), "--json", "--threads", "1",
                 "--basic-pitch-notes", "0.6", "0.5", "35"]) == 0
    assert json.loads(capsys.readouterr().out)["basic_pitch_notes"] == {"onset": 0.6, "frame": 0.5,
                                                                       "min_note_ms": 35.0}


def test_one_frame_ahead_reads_each_output_one_frame_earlier() -> None:
    from models.evaluation.eval_poly import one_frame_ahead

    act, onset = np.arange(12.0).reshape(4, 3), np.arange(8.0).reshape(4, 2)
    a, o = one_frame_ahead(act, onset)
    assert np.array_equal(a[:3], act[1:]) and not a[3].any() and a.shape == act.shape
    assert np.array_equal(o[:3], onset[1:]) and not o[3].any()


def test_a_whole_split_keeps_only_the_plotted_rows(tmp_path: Path) -> None:
    """Every file is scored; only the first `keep_rows` keep their activations (a 4 500-file split fits)."""
    from models.evaluation.eval_poly import evaluate
    from models.training.checkpoint import load_model

    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 1, "test": 3}, seconds=1.0)
    export_tiny_tracker(tmp_path)
    model = load_model(tmp_path / "run", "poly")[0].eval()
    report, rows = evaluate(model, data, "test", basic_pitch=False, keep_rows=1)
    assert report["files"] == 3 and report["ours"]["files_scored"] == 3
    assert len(rows) == 1 and rows[0]["ours"].shape[1] == 264
