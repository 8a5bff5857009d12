"""`latentbridge bench tracker`: one row per width plus the bundled graph; the parameter count grows with the width
and the streamed cost is a share of the 8-ms frame."""

from __future__ import annotations

import json

import pytest

from export.app.cli import main


def test_bench_tracker_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "tracker", "--width", "4", "--width", "8", "--train-steps", "1", "--frames", "20",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["channels"] for r in rows] == [4, 8, None] and rows[-1]["config"] == "bundled poly_default"
    assert rows[0]["parameters"] < rows[1]["parameters"]
    for r in rows:
        assert r["stream_ms_per_frame"] > 0
        assert r["stream_share_of_frame"] == pytest.approx(r["stream_ms_per_frame"] / 8.0)
    assert all(r["train_audio_s_per_s"] > 0 for r in rows[:2]) and rows[-1]["train_audio_s_per_s"] is None


def test_bench_tracker_refuses_a_bad_width(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "tracker", "--width", "0"])
    assert exit_info.value.code == 2
    assert "a width from 1 to 128" in capsys.readouterr().err
