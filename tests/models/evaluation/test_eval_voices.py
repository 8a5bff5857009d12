"""`eval voices`: the report on synthetic chord phrases through the real morph, Basic Pitch and the classifier, with
the tracker or with the label stand-in (`--oracle-tracker`), and its one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from poly_phrases import write_phrases

from export.app.cli import build_parser, main
from export.core.audio_io import read_mono
from export.core.errors import LatentbridgeError
from export.poly.tracker import PolyTracker
from models.data.poly_reader import read_poly
from models.evaluation.label_tracker import ORACLE_PARTS, LabelTracker
from models.polypitch.labels import frame_targets


@pytest.fixture(scope="module")
def phrases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phrases(tmp_path_factory.mktemp("voices") / "data", {"train": 1, "valid": 1, "test": 2}, seconds=2.0)


def test_label_stream_in_blocks_equals_the_whole_phrase_targets(phrases: Path) -> None:
    notes = read_poly(phrases, "test")[0].notes
    tracker = LabelTracker()
    tracker.use(notes)
    stream = tracker.stream()
    parts = [stream.push(np.zeros(k * 128, np.float32)) for k in (1, 7, 0, 30, 212)]
    activations, onsets = frame_targets(notes, 0, 250, 128, 16000)
    assert np.array_equal(np.concatenate([a for a, _ in parts]), activations) and activations.max() > 0.9
    assert np.array_equal(np.concatenate([o for _, o in parts]), onsets) and onsets.sum() > 0


def test_mixed_streams_take_one_output_from_the_labels_and_the_other_from_the_tracker(phrases: Path) -> None:
    notes = read_poly(phrases, "test")[0].notes
    tracker = PolyTracker.open()
    audio = read_mono(read_poly(phrases, "test")[0].audio_path, 16000)[: 160 * 128]
    real_act, real_onsets = tracker.activations(audio)
    label_act, label_onsets = frame_targets(notes, 0, 160, 128, 16000)
    clean = np.where(label_act >= 0.01, real_act, 0.0)
    assert 0 < np.count_nonzero(clean >= 0.5) < np.count_nonzero(real_act >= 0.5)  # some false frames removed
    filled = np.maximum(real_act, label_act)
    assert np.count_nonzero(filled >= 0.5) > np.count_nonzero(real_act >= 0.5)  # some missed frames added
    for part, expected in (("frames", (label_act, real_onsets)), ("onsets", (real_act, label_onsets)),
                           ("clean", (clean, real_onsets)), ("filled", (filled, real_onsets))):
        mixed = LabelTracker(part, tracker)
        mixed.use(notes)
        stream = mixed.stream()
        pushed = [stream.push(audio[a * 128: b * 128]) for a, b in ((0, 3), (3, 97), (97, 160))]
        for got, want in zip((np.concatenate([p[0] for p in pushed]), np.concatenate([p[1] for p in pushed])),
                             expected, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(LatentbridgeError, match="every part but 'all'"):
        LabelTracker("frames")
    for part in ORACLE_PARTS:  # the CLI offers every part
        args = build_parser().parse_args(["eval", "voices", "--data", "x", "--oracle-tracker", part])
        assert args.oracle_tracker == part


@pytest.mark.parametrize("oracle", [None, "all", "frames"], ids=["tracker", "oracle", "oracle-frames"])
def test_eval_voices_report(phrases: Path, oracle: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", "voices", "--data", str(phrases), "--files", "2", "--threads", "1", "--json"]
    flags = {None: [], "all": ["--oracle-tracker"], "frames": ["--oracle-tracker", "frames"]}[oracle]
    assert main(argv + flags) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["oracle_tracker"] == oracle and "notes" not in report
    ph = report["phrases"]
    assert ph["files"] == 2 and ph["no_notes_found"]["input"] == 0 and ph["no_notes_found"]["poly"] == 0
    f1 = ph["basic_pitch_note_onset_f1"]
    assert f1["input"] > 0.5  # clean harmonic tones: Basic Pitch finds their notes
    assert 0.0 < f1["poly"] <= 1.0 and ph["poly_over_input"] == pytest.approx(f1["poly"] / f1["input"])
    strict, wide = ph["by_onset_tolerance"]["50 ms"], ph["by_onset_tolerance"]["80 ms"]
    assert {k: strict[k] for k in f1} == f1  # the default tolerance is mir_eval's 50 ms
    assert all(wide[k] >= strict[k] and wide["recall"][k] >= strict["recall"][k] for k in f1)  # never fewer matches
    assert all(0.0 <= strict[kind][k] <= 1.0 for kind in ("precision", "recall") for k in f1)
    assert wide["poly_over_input"] == pytest.approx(wide["poly"] / wide["input"])
    lag = ph["poly_onset_lag_ms"]
    assert lag["notes"] > 0 and 0 < lag["found_in_both"] <= lag["notes"]


def test_eval_voices_refusals(phrases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", "voices", "--data", str(phrases), "--files", "1", "--oracle-tracker"]
    assert main(base + ["--notes-data", str(tmp_path)]) == 2
    assert "phrases only" in capsys.readouterr().err
    assert main(base + ["--tracker", str(tmp_path / "x.tracker.onnx")]) == 2
    err = capsys.readouterr().err
    assert "leave out --tracker" in err and len(err.strip().splitlines()) == 1
