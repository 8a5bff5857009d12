"""`latentbridge dream` on the bundled tagger: filter mode raises a tag at every 10 steps and keeps rate, channels
and length; target mode nears the target's activations; fooling flips a tag with a small, measured change;
the hard-cut filter against a computed reference; bad inputs are one-line errors and inputs stay untouched."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from export.app import cli
from export.core.audio_io import read_audio, read_mono, resample, write_audio
from export.onnx.bundled import BUNDLED_DIR, default_model
from models.dream.ascent import DreamConfig, dream
from models.dream.filtering import filtered_gradient, gated_input
from models.dream.fooling import FoolConfig, fool
from models.dream.objectives import Objective, TaggerProbe, parse_layer, tag_index

DEMO = BUNDLED_DIR / "demo_guitar_phrase.wav"  # rendered by `models.data.demo_phrase`, not a training clip
TAG = "reed"  # about 0.05 on the (guitar) demo phrase: far from saturated


@pytest.fixture(scope="module")
def probe() -> TaggerProbe:
    torch.set_num_threads(1)
    return TaggerProbe.open(default_model("tagger").path)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    """`latentbridge` with the dream command registered (until export/app/cli.py lists it)."""
    if "models.dream.cli" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "models.dream.cli"))
    return cli.main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stereo_phrase(path: Path, frames: int = 150_001) -> np.ndarray:
    """The demo phrase at 44.1 kHz, right channel 3 ms later and 6 dB down, cut to an odd length; written."""
    left = read_audio(DEMO)[0][0]
    right = 0.5 * np.concatenate([np.zeros(132, np.float32), left[:-132]])
    audio = np.stack([left, right])[:, :frames]
    write_audio(path, audio, 44100, "wav24")
    return read_audio(path)[0]


def mono_clip(path: Path, seconds: float = 2.0) -> np.ndarray:
    """The demo phrase's first seconds as a 16 kHz mono file; returns the samples."""
    clip = read_mono(DEMO)[: int(seconds * 16000)]
    write_audio(path, clip[None], 16000, "wav24")
    return read_mono(path)


def test_filter_mode_raises_the_tag_every_10_steps_and_keeps_rate_channels_length(
        tmp_path: Path, main: Callable[[list[str]], int], probe: TaggerProbe,
        capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "phrase.wav", tmp_path / "dreamed.wav"
    audio = stereo_phrase(source)
    before = digest(source)
    assert main(["dream", str(source), "--out", str(out), "--tag", TAG, "--mode", "filter", "--steps", "30",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert digest(source) == before
    got, rate = read_audio(out)
    assert rate == 44100 and got.shape == audio.shape == (2, 150_001)
    change = got - audio
    np.testing.assert_allclose(change[0], change[1], atol=2e-6)  # one change on both channels: the image stays
    assert np.abs(got[1] - 0.5 * np.concatenate([np.zeros(132), got[0][:-132]])).max() > 1e-3
    rows = report["per_step"]
    assert [r["step"] for r in rows] == list(range(1, 31))
    checkpoints = [report["probability_before"]] + [rows[k - 1]["after"] for k in (10, 20, 30)]
    assert all(a < b for a, b in zip(checkpoints, checkpoints[1:], strict=False)), checkpoints
    assert all(r["before"] == p["after"] for p, r in zip(rows, rows[1:], strict=False))
    reference = float(probe.model.predict_clip(read_mono(out))[tag_index(probe.model, TAG)])
    assert report["probability_after"] == pytest.approx(reference, abs=1e-4)  # the file, judged by the tagger
    assert report["probability_before"] < 0.2 and reference > report["probability_before"] + 0.4
    assert 5.0 < report["snr_db"] < 60.0 and not report["clipped"]


def test_target_mode_moves_activations_toward_the_target(tmp_path: Path, main: Callable[[list[str]], int],
                                                         probe: TaggerProbe,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source, target, out = tmp_path / "in.wav", tmp_path / "target.wav", tmp_path / "out.wav"
    mono_clip(source)
    t = np.arange(32000) / 16000
    reed = 0.3 * np.sign(np.sin(2 * np.pi * 311 * t)) * np.exp(-0.3 * t)  # a buzzy square tone
    write_audio(target, reed[None].astype(np.float32), 16000, "wav24")
    assert main(["dream", str(source), "--out", str(out), "--mode", "target", "--target", str(target),
                 "--layer", "block3", "--steps", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    layer = parse_layer("block3", probe.model)
    goal = probe.layer_moments(read_mono(target), layer)

    def distance(x: np.ndarray) -> float:
        return float((probe.layer_moments(x, layer) - goal).pow(2).sum() / goal.pow(2).sum())

    assert report["distance_before"] == pytest.approx(distance(read_mono(source)), rel=1e-4)
    assert report["distance_after"] == pytest.approx(distance(read_mono(out)), rel=1e-4)
    distances = [report["distance_before"]] + [r["distance"] for r in report["per_step"]]
    assert distances[10] < distances[0] and distances[20] < distances[10]
    assert report["distance_after"] < 0.9 * report["distance_before"]


def test_fooling_flips_the_tag_with_the_smallest_change_found(tmp_path: Path, main: Callable[[list[str]], int],
                                                            probe: TaggerProbe,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "in.wav", tmp_path / "fooled.wav"
    audio = stereo_phrase(source)
    index = tag_index(probe.model, "solo")
    p0 = float(probe.model.predict_clip(read_mono(source))[index])
    assert p0 > 0.7
    assert main(["dream", str(source), "--out", str(out), "--mode", "fool", "--tag", "solo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    got, rate = read_audio(out)
    assert rate == 44100 and got.shape == audio.shape
    p1 = float(probe.model.predict_clip(read_mono(out))[index])
    assert report["flipped"] and report["direction"] == "down" and p1 < 0.5 < p0
    assert report["probability_after"] == pytest.approx(p1, abs=1e-4)
    noise = np.sum((got - audio).astype(np.float64) ** 2)
    assert report["snr_db"] == pytest.approx(10 * np.log10(np.sum(audio.astype(np.float64) ** 2) / noise), abs=0.01)
    assert 15.0 < report["snr_db"] < 80.0

    x = read_mono(source)
    result = fool(probe, x, tag_index(probe.model, TAG), FoolConfig())
    assert result.flipped and result.direction == "up" and result.after > 0.5 > result.before
    shorter = probe.evaluate(x + 0.9 * result.change, Objective("odds", tag=tag_index(probe.model, TAG)), False)
    assert shorter.value < 0.1  # 90 % of the change no longer clears the margin: the bisection found the edge


def test_deepdream_on_a_layer_and_filter_add_climb(probe: TaggerProbe) -> None:
    x = read_mono(DEMO)[:16000]  # one window, zero-padded
    layer = Objective("layer", layer=parse_layer("block4", probe.model))
    deep = dream(probe, x, layer, DreamConfig("deepdream", steps=6))
    values = [r.value for r in deep.records]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert deep.change.shape == x.shape and np.any(deep.change)
    tag = tag_index(probe.model, "flute")  # about 0.03 on this window; adding only the strongest bins climbs slowly
    # (measured with the 38 000-step tagger: flute 0.033 -> 0.136 in 10 steps, brass only 0.060 -> 0.088)
    added = dream(probe, x, Objective("tag", tag=tag), DreamConfig("filter-add", steps=10))
    assert added.records[-1].probabilities[tag] > added.records[0].probabilities[tag] + 0.04
    assert all(r.kept is not None and 0.0 < r.kept < 0.5 for r in added.records[1:])  # only the strongest bins


def test_hard_cut_filter_against_a_computed_reference() -> None:
    t = np.arange(16000) / 16000
    strong, weak = np.sin(2 * np.pi * 1000 * t), 0.05 * np.sin(2 * np.pi * 3000 * t)
    kept, fraction = filtered_gradient((strong + weak).astype(np.float32), threshold=0.2)
    inner = slice(1000, -1000)
    np.testing.assert_allclose(kept[inner], strong[inner], atol=0.02)  # the weak partial is cut away entirely
    assert 0.0 < fraction < 0.05
    rng = np.random.default_rng(0)
    gradient, audio = rng.standard_normal(8000).astype(np.float32), rng.standard_normal(8000).astype(np.float32)
    for direction, _ in (filtered_gradient(gradient, 0.3), gated_input(audio, gradient, 0.3)):
        assert float(np.dot(direction, gradient)) > 0  # every filtered direction still climbs
    assert not np.any(filtered_gradient(np.zeros(4000, np.float32), 0.2)[0])


def test_many_channels_and_high_rates_keep_their_shape(tmp_path: Path, main: Callable[[list[str]], int],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "eight.wav", tmp_path / "out.flac"
    mono = resample(read_mono(DEMO)[:4800], 16000, 192000)[:57_599]
    audio = np.stack([mono * (0.3 + 0.08 * c) for c in range(8)]).astype(np.float32)
    write_audio(source, audio, 192000, "wav24")
    before = digest(source)
    assert main(["dream", str(source), "--out", str(out), "--tag", TAG, "--steps", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    got, rate = read_audio(out)
    assert rate == 192000 and got.shape == (8, 57_599) and digest(source) == before
    assert report["channels"] == 8 and report["frames"] == 57_599 and np.isfinite(report["snr_db"])


def nan_file(path: Path) -> None:
    write_audio(path, np.full((1, 4000), 0.1, np.float32), 16000, "wav32f")
    path.write_bytes(path.read_bytes()[:-8] + np.array([np.nan, np.inf], np.float32).tobytes())


@pytest.mark.parametrize("name, make, message", [
    ("empty.wav", lambda p: p.write_bytes(b""), "cannot decode audio"),
    ("corrupt.wav", lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk"), "cannot decode audio"),
    ("nan.wav", nan_file, "NaN or Inf"),
    ("one.wav", lambda p: write_audio(p, np.full((1, 1), 0.1, np.float32), 44100, "wav24"), "1 sample at 44100"),
])
def test_bad_files_are_one_line_errors_and_stay_untouched(tmp_path: Path, main: Callable[[list[str]], int],
                                                          capsys: pytest.CaptureFixture[str], name: str,
                                                          make: Callable[[Path], None], message: str) -> None:
    source, out = tmp_path / name, tmp_path / "out.wav"
    make(source)
    before = digest(source)
    assert main(["dream", str(source), "--out", str(out), "--tag", TAG, "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("latentbridge: error:")
    assert digest(source) == before and not out.exists()


def test_bad_requests_are_one_line_errors(tmp_path: Path, main: Callable[[list[str]], int],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "in.wav", tmp_path / "out.wav"
    mono_clip(source, seconds=0.5)
    before = digest(source)
    for argv, message in ((["--tag", "gutiar"], "did you mean guitar"),
                          (["--tag", "kazoo"], "unknown tag 'kazoo'"),
                          (["--layer", "block9"], "unknown layer 'block9'"),
                          (["--layer", "block1:999"], "has channels 0..31, got '999'"),
                          (["--mode", "target"], "needs --target FILE"),
                          (["--mode", "fool"], "needs --tag"),
                          (["--tag", TAG, "--target", str(source)], "only for --mode target"),
                          (["--tag", TAG, "--steps", "0"], "--steps must be >= 1"),
                          (["--tag", TAG, "--threshold", "1.5"], "--threshold must be in"),
                          (["--mode", "target", "--target", str(tmp_path / "none.wav")], "no such audio file")):
        assert main(["dream", str(source), "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, (argv, err)
    assert main(["dream", str(source), "--out", str(source), "--tag", TAG, "--force"]) == 2
    assert "is an input file" in capsys.readouterr().err
    out.write_bytes(b"keep")
    assert main(["dream", str(source), "--out", str(out), "--tag", TAG]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"keep"
    assert digest(source) == before


def test_help_shows_the_modes_and_an_example(main: Callable[[list[str]], int],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dream", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "Example: latentbridge dream " in text
    assert all(mode in text for mode in ("deepdream", "filter-add", "target", "fool"))
