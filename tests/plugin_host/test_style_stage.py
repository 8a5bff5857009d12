"""The style stage: windows joined without a seam, its delay, `amount`, render keeping rate/channels/length with
the style file's hash in the sidecar, the live refusal in one line, and bad inputs refused in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from export.app.cli import main
from export.core.audio_io import read_audio, write_audio
from export.core.errors import LatentbridgeError
from plugin_host.presets import build_chain, load_chain, read_preset
from plugin_host.style_stage import StyleSpec, StyleStage, crossfade

RATE = 16000


def tone(seconds: float, rate: int, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(2 * np.pi * 3 * hz * t)).astype(np.float32)


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    path = tmp_path / "style.wav"
    write_audio(path, tone(0.8, RATE, 660.0)[None], RATE, "wav32f")
    return path


def run(stage: StyleStage, x: np.ndarray, block: int) -> np.ndarray:
    padded = np.concatenate([x, np.zeros(stage.delay_samples + block, np.float32)])
    out = np.concatenate([stage.process(padded[i:i + block]) for i in range(0, padded.size, block)])
    return out[stage.delay_samples: stage.delay_samples + x.size]


def window_gain(counter: list[int]) -> Any:
    """A styler factory whose k-th window is the input times (1 + 0.2 k): a seam would show as a step."""
    def factory(spec: StyleSpec, style: np.ndarray) -> Any:
        def styler(window: np.ndarray, weight: float) -> np.ndarray:
            counter.append(window.size)
            return window * (1.0 + 0.2 * (len(counter) - 1))
        return styler
    return factory


@pytest.mark.parametrize("rate, block", [(16000, 256), (44100, 63), (48000, 8193)])
def test_windows_join_without_a_seam_and_the_delay_is_one_window(style_file: Path, rate: int, block: int) -> None:
    calls: list[int] = []
    spec = StyleSpec(style=str(style_file), window_s=0.5, overlap_s=0.1)
    stage = StyleStage("st", rate, spec, factory=window_gain(calls))
    assert stage.delay_samples == int(0.5 * rate)
    x = tone(2.3, rate)
    y = run(stage, x, block)
    assert len(calls) >= 5 and max(calls) <= int(0.6 * 16000) + 1
    # delay compensated, the output is the input times a gain that ramps from window to window over each
    # 0.1-s crossfade (medians of 50-ms segments; the 16-kHz round trip adds about -26 dB of error): no seam
    loud = np.abs(x) > 0.1
    ratio = np.where(loud, y / np.where(loud, x, 1.0), np.nan)
    seg = rate // 20
    gains = np.array([np.nanmedian(ratio[i:i + seg]) for i in range(0, x.size - seg, seg)])
    assert abs(gains[0] - 1.0) < 0.02 and np.all(np.diff(gains) > -0.02) and np.all(np.diff(gains) < 0.12)
    assert gains[-1] > 1.0 + 0.2 * (len(calls) - 3)
    assert np.abs(np.diff(y)).max() < 1.5 * np.abs(np.diff(x)).max() * gains.max()


def test_crossfade_keeps_power_for_identical_and_unrelated_segments() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4000)
    np.testing.assert_allclose(crossfade(a, a), a, atol=1e-12)  # identical: unit gain, no bump
    b = rng.standard_normal(4000)
    mid = crossfade(a, b)[1800:2200]
    assert 0.85 < np.mean(mid ** 2) < 1.15  # unrelated: equal power, no dip


def test_amount_crossfades_dry_and_styled_without_a_click(style_file: Path) -> None:
    spec = StyleSpec(style=str(style_file), window_s=0.5, overlap_s=0.1)
    stage = StyleStage("st", RATE, spec, factory=lambda s, st: lambda w, g: -w)  # styled = inverted input
    x = tone(2.0, RATE)
    out = []
    for i in range(0, x.size + stage.delay_samples, 256):
        if i == RATE:
            stage.params["amount"].set(0.0)
        out.append(stage.process(np.concatenate([x, np.zeros(stage.delay_samples + 256, np.float32)])[i:i + 256]))
    y = np.concatenate(out)
    assert np.abs(np.diff(y)).max() < 1.5 * np.abs(np.diff(x)).max()  # the 50 ms ramp, no step


def preset(tmp_path: Path, style: Path | str, **extra: Any) -> Path:
    path = tmp_path / "styled.yaml"
    stage = {"name": "style", "kind": "style", "style": str(style), "method": "stft-gram", "iterations": 3,
             "window_s": 0.6, "overlap_s": 0.1, "parameters": {"amount": 0.8}, **extra}
    path.write_text(yaml.safe_dump({"stages": [{"name": "trim", "kind": "gain"}, stage]}))
    return path


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 2, 1.3), (22050, 1, 0.7)])
def test_render_keeps_rate_channels_length_and_records_the_style(tmp_path: Path, style_file: Path, rate: int,
                                                                 channels: int, seconds: float,
                                                                 one_thread: None) -> None:
    stem = tmp_path / "stem.wav"
    audio = np.stack([tone(seconds, rate, 220.0 * (1 + c)) for c in range(channels)])
    write_audio(stem, audio, rate, "wav24")
    out = tmp_path / "out"
    assert main(["render", str(stem), "--preset", str(preset(tmp_path, style_file)), "--out", str(out),
                 "--workers", "1"]) == 0
    got, got_rate = read_audio(out / "stem.wav")
    assert got_rate == rate and got.shape == (channels, int(seconds * rate))
    assert np.sqrt(np.mean(got ** 2)) > 1e-3 and np.all(np.isfinite(got))
    sidecar = json.loads((out / "stem.json").read_text())
    import hashlib

    assert sidecar["models"][str(style_file)] == hashlib.sha256(style_file.read_bytes()).hexdigest()
    stage = sidecar["preset"]["stages"][1]
    assert (stage["method"], stage["iterations"], stage["parameters"]["amount"]) == ("stft-gram", 3, 0.8)


def test_live_refuses_an_offline_style_stage_in_one_line(tmp_path: Path, style_file: Path) -> None:
    path = preset(tmp_path, style_file)
    with pytest.raises(LatentbridgeError) as err:
        load_chain(path, 48000)
    message = str(err.value)
    assert "\n" not in message and "mode: live" in message and "render" in message
    assert build_chain(read_preset(path), 48000, offline=True).delay_samples == int(0.6 * 48000)


def test_live_mode_refuses_a_corrupt_or_missing_model_in_one_line(tmp_path: Path) -> None:
    model = tmp_path / "reed.style.onnx"
    model.write_bytes(b"not an onnx graph")
    path = tmp_path / "live.yaml"
    for spec, expected in (({"model": str(model)}, "not a readable ONNX model"),
                           ({"model": str(tmp_path / "missing.onnx")}, "no such style model")):
        path.write_text(yaml.safe_dump({"stages": [{"name": "s", "kind": "style", "mode": "live", **spec}]}))
        for offline in (False, True):
            with pytest.raises(LatentbridgeError, match=expected):
                build_chain(read_preset(path), 48000, offline=offline)
    path.write_text(yaml.safe_dump({"stages": [{"name": "s", "kind": "style", "mode": "live"}]}))
    with pytest.raises(LatentbridgeError, match="model"):
        read_preset(path)  # the schema asks for `model` in live mode


@pytest.mark.parametrize("bad", ["missing_style", "silent_style", "nan_audio", "bad_method"])
def test_bad_inputs_are_refused_in_one_line(tmp_path: Path, style_file: Path, bad: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pedalboard.io import AudioFile

    stem = tmp_path / "stem.wav"
    audio = tone(1.0, RATE)[None]
    if bad == "nan_audio":
        audio[0, 3000] = np.nan
    with AudioFile(str(stem), "w", RATE, 1, bit_depth=32) as f:
        f.write(audio)
    style: Path | str = style_file
    extra: dict[str, Any] = {}
    if bad == "missing_style":
        style = tmp_path / "nope.wav"
    elif bad == "silent_style":
        style = tmp_path / "silent.wav"
        write_audio(style, np.zeros((1, RATE), np.float32), RATE, "wav32f")
    elif bad == "bad_method":
        extra = {"method": "vgg"}
    out = tmp_path / "out"
    assert main(["render", str(stem), "--preset", str(preset(tmp_path, style, **extra)), "--out", str(out),
                 "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentbridge: error:"), err
    assert not (out / "stem.wav").exists()


def test_the_stage_refuses_nan_input_in_one_line(style_file: Path) -> None:
    stage = StyleStage("st", RATE, StyleSpec(style=str(style_file), window_s=0.5, overlap_s=0.1),
                       factory=lambda s, st: lambda w, g: w)
    x = tone(0.6, RATE)
    x[100] = np.nan
    with pytest.raises(LatentbridgeError, match="NaN") as err:
        stage.process(x)
    assert "\n" not in str(err.value)
