"""Attack alignment (`morph --align-attacks MS`, `render --align-attacks MS`, a resynth/morph stage's
`align_attacks_ms`): the output comes that much earlier and nothing else changes; the stage reports it as delay,
so render, the dry path and live agree; out of range is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import read_audio, write_audio
from export.core.errors import LatentbridgeError
from plugin_host.neural_stage import MorphStage
from plugin_host.presets import read_preset
from plugin_host.render import RenderSettings, render_audio

RATE = 16000


def plucks(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for start, f0 in ((0.1, 220.0), (0.55, 330.0)):
        tone = sum(np.sin(2 * np.pi * k * f0 * (t - start)) / k for k in range(1, 5))
        out += np.where(t >= start, 0.3 * tone * np.exp(-(t - start) / 0.2), 0.0)
    return out.astype(np.float32)


def preset(align_ms: float | None) -> dict:
    stage = {"name": "m", "kind": "morph", "target": "reed", "voices": "poly", "parameters": {"amount": 0.5}}
    if align_ms is not None:
        stage["align_attacks_ms"] = align_ms
    return {"name": "p", "stages": [stage]}


def test_a_stage_reports_the_alignment_as_delay_and_render_comes_that_much_earlier() -> None:
    audio = plucks()[None]
    plain, aligned = MorphStage("m", RATE, "reed"), MorphStage("m", RATE, "reed", align_attacks_ms=20.0)
    assert aligned.delay_samples == plain.delay_samples + 320
    assert aligned.describe()["align_attacks_ms"] == 20.0
    before = render_audio(preset(None), audio, RATE, RenderSettings())[0]
    after = render_audio(preset(20.0), audio, RATE, RenderSettings())[0]
    assert after.shape == before.shape and np.abs(before).max() > 1e-2
    # the same chain on the same blocks; a longer flush at the end changes float32 rounding only (1e-7)
    np.testing.assert_allclose(after[:-320], before[320:], atol=1e-6, rtol=0)


def test_morph_writes_the_output_that_much_earlier(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    write_audio(source, plucks()[None], RATE, "wav32f")
    outs = {}
    for ms in (0, 20):
        out = tmp_path / f"out{ms}.wav"
        assert main(["morph", str(source), "--target", "reed", "--amount", "0", "--voices", "poly", "--out",
                     str(out), "--align-attacks", str(ms)]) == 0
        outs[ms], rate = read_audio(out)
        assert rate == RATE and outs[ms].shape == (1, RATE)
    np.testing.assert_array_equal(outs[20][0, :-320], outs[0][0, 320:])
    assert np.all(outs[20][0, -320:] == 0)


def test_out_of_range_alignments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.wav"
    write_audio(source, plucks(0.2)[None], RATE, "wav16")
    out = tmp_path / "out.wav"
    for value in ("-1", "150", "nan"):
        assert main(["morph", str(source), "--target", "reed", "--amount", "0", "--out", str(out),
                     "--align-attacks", value]) == 2
        err = capsys.readouterr().err.strip()
        assert "--align-attacks must be in [0, 100] ms" in err and "\n" not in err
    assert not out.exists()
    path = tmp_path / "p.yaml"
    path.write_text("stages:\n  - {name: m, kind: morph, target: reed, align_attacks_ms: 500}\n")
    with pytest.raises(LatentbridgeError, match="stages/0/align_attacks_ms") as info:
        read_preset(path)
    assert "\n" not in str(info.value)
    with pytest.raises(LatentbridgeError, match="stage 'm': align_attacks_ms must be in \\[0, 100\\]"):
        MorphStage("m", RATE, "reed", align_attacks_ms=float("inf"))


def test_render_takes_an_alignment_for_every_neural_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.wav"
    write_audio(source, plucks()[None], RATE, "wav32f")
    outs = {}
    for ms in (None, "20"):
        out = tmp_path / f"r{ms}"
        extra = [] if ms is None else ["--align-attacks", ms]
        assert main(["render", str(source), "--preset", "poly-morph", "--out", str(out), "--format", "wav32f",
                     *extra]) == 0
        outs[ms], _ = read_audio(out / "in.wav")
    sidecar = json.loads((tmp_path / "r20" / "in.json").read_text())
    assert [s.get("align_attacks_ms") for s in sidecar["preset"]["stages"] if s["kind"] == "morph"] == [20.0]
    np.testing.assert_allclose(outs["20"][0, :-320], outs[None][0, 320:], atol=1e-6, rtol=0)
    assert main(["render", str(source), "--preset", "effects-only", "--out", str(tmp_path / "e"),
                 "--align-attacks", "20"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--align-attacks: preset effects-only has no resynth or morph stage" in err and "\n" not in err
    assert main(["render", str(source), "--preset", "poly-morph", "--out", str(tmp_path / "x"),
                 "--align-attacks", "101"]) == 2
    assert "--align-attacks must be in [0, 100] ms" in capsys.readouterr().err
    assert not (tmp_path / "x" / "in.wav").exists()
