"""`latentbridge bench stream`: one row per preset, with the latency the engine reports, the worker's time per
block, late blocks and RSS growth, as JSON and as a table. The simulated device clock pauses with the machine
(`realtime.sim_clock`), so a late block there is the engine's own: none is allowed."""

from __future__ import annotations

import json

import pytest

from export.app.cli import main


def test_stream_bench_reports_each_preset_it_ran(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "stream", "--preset", "effects-only", "--preset", "resynth", "--seconds", "2",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["preset"] for r in rows] == ["effects-only", "resynth"]
    for r in rows:
        assert r["blocks"] == 2 * 48000 // 256 and r["late_blocks"] == 0
        assert r["added_latency_ms"] == pytest.approx(1000 * (4 * 256 + r["chain_delay_samples"]) / 48000, abs=0.01)
        w = r["worker_fraction"]
        assert 0 < w["mean"] <= w["p99"] <= w["max"]
    assert rows[0]["chain_delay_samples"] < rows[1]["chain_delay_samples"]  # the neural stage's frame delay
    assert main(["bench", "stream", "--preset", "effects-only", "--seconds", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["preset", "analysis", "latency", "ms"] and table[1].split()[:2] == [
        "effects-only", "none"]


def test_serial_analysis_runs_a_poly_preset_again_with_its_analysis_on_the_worker(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Side by side in one run: the voices' analysis on their own thread, then on the worker; a preset without
    poly voices runs once. (Late blocks are the machine's business here: `bench stream` itself judges them.)"""
    assert main(["bench", "stream", "--preset", "poly-morph", "--preset", "resynth", "--seconds", "1",
                 "--serial-analysis", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["preset"], r["analysis"]) for r in rows] == [("poly-morph", "thread"), ("poly-morph", "worker"),
                                                           ("resynth", "none")]
    assert all(r["blocks"] == 48000 // 256 and r["voices"] == rows[0]["voices"] for r in rows[:2])
    assert rows[0]["voices"] == {"morph": 6}
