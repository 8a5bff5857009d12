"""The style stage in live mode: the ONNX stream in the chain equals the offline pass on awkward blocks, its delay
is reported (and small at 48 kHz), `amount` crossfades without a click, render keeps rate/channels/length, and
the same stage runs in `render` and `live`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from style_models import music, random_style_model

from export.app.cli import main
from export.core.audio_io import read_audio, write_audio
from plugin_host.presets import build_chain, read_preset
from plugin_host.style_live import LiveStyleStage


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_style_model(tmp_path_factory.mktemp("live"))[1]


def preset(tmp_path: Path, model: Path, amount: float = 0.8) -> Path:
    path = tmp_path / "live.yaml"
    stage = {"name": "style", "kind": "style", "mode": "live", "model": str(model), "parameters": {"amount": amount}}
    path.write_text(yaml.safe_dump({"stages": [{"name": "trim", "kind": "gain"}, stage]}))
    return path


@pytest.mark.parametrize("block", [1, 63, 256, 8193])
def test_stage_stream_equals_the_offline_network(model: Path, block: int) -> None:
    stage = LiveStyleStage("s", 16000, str(model))
    assert stage.delay_samples == 127
    x = music(0.9)
    padded = np.concatenate([x, np.zeros(stage.delay_samples + block, np.float32)])
    out = np.concatenate([stage.process(padded[i:i + block]) for i in range(0, padded.size, block)])
    np.testing.assert_allclose(out[stage.delay_samples: stage.delay_samples + x.size], stage.network.offline(x),
                               atol=1e-5, rtol=0)


def test_delay_at_48k_is_under_40_ms(model: Path) -> None:
    """127 samples at 16 kHz (the 128-point synthesis window) plus the resamplers: about 11 ms at 48 kHz."""
    stage = LiveStyleStage("s", 48000, str(model))
    assert 3 * 127 < stage.delay_samples and stage.delay_samples / 48000 <= 0.012


def test_amount_crossfades_without_a_click(model: Path) -> None:
    stage = LiveStyleStage("s", 16000, str(model))
    x = music(1.5)
    padded = np.concatenate([x, np.zeros(stage.delay_samples + 256, np.float32)])
    out = []
    for i in range(0, padded.size, 256):
        if i == 12800:
            stage.params["amount"].set(0.0)
        out.append(stage.process(padded[i:i + 256]))
    y = np.concatenate(out)
    wet = stage.network.offline(x)
    step = max(np.abs(np.diff(x)).max(), np.abs(np.diff(wet)).max())
    assert np.abs(np.diff(y)).max() < 1.5 * step  # the 50 ms ramp, no step


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 2, 1.3), (22050, 1, 0.7)])
def test_render_keeps_rate_channels_length(tmp_path: Path, model: Path, rate: int, channels: int,
                                           seconds: float, one_thread: None) -> None:
    stem = tmp_path / "stem.wav"
    write_audio(stem, np.stack([music(seconds, rate, seed=c) for c in range(channels)]), rate, "wav24")
    out = tmp_path / "out"
    assert main(["render", str(stem), "--preset", str(preset(tmp_path, model)), "--out", str(out),
                 "--workers", "1"]) == 0
    got, got_rate = read_audio(out / "stem.wav")
    assert got_rate == rate and got.shape == (channels, int(seconds * rate))
    assert np.sqrt(np.mean(got ** 2)) > 1e-3 and np.all(np.isfinite(got))


def test_render_and_live_build_the_same_stage(tmp_path: Path, model: Path) -> None:
    spec = read_preset(preset(tmp_path, model))
    x = music(0.6, 48000)
    live, render = build_chain(spec, 48000), build_chain(spec, 48000, offline=True)
    assert isinstance(live.stages[1], LiveStyleStage) and live.delay_samples == render.delay_samples
    np.testing.assert_array_equal(live.process(x), render.process(x))
