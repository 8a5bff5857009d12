"""The feed-forward style network: identity at initialisation, causal, ONNX equal to torch, the ONNX stream equal to
the offline pass on awkward blocks, and bad models refused by `style --method feedforward` in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from style_models import music, random_style_model

from export.app.cli import main
from export.core.audio_io import write_audio
from export.onnx.style_net import StyleNetwork
from models.style.feedforward import FeedForwardConfig, SpectralGainNet

BUNDLED = Path(__file__).resolve().parents[3] / "export" / "bundled"


@pytest.fixture(scope="module", params=["low-delay", "legacy"])
def model(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[SpectralGainNet, Path]:
    """The default config (128/64 synthesis frames) and one without synthesis fields (512/128, as the first
    bundled styles were trained)."""
    torch.set_num_threads(1)
    return random_style_model(tmp_path_factory.mktemp("ff"), legacy=request.param == "legacy")  # type: ignore[return-value]


def test_a_fresh_network_is_the_identity() -> None:
    x = torch.from_numpy(music(0.7))
    np.testing.assert_allclose(SpectralGainNet(FeedForwardConfig())(x).detach().numpy(), x.numpy(), atol=1e-5)


def test_the_stream_is_causal(model: tuple[SpectralGainNet, Path]) -> None:
    network = StyleNetwork(model[1])
    x = music(0.8)
    changed = x.copy()
    changed[6000:] += 0.2 * np.random.default_rng(1).standard_normal(x.size - 6000).astype(np.float32)
    a, b = network.stream().process(x), network.stream().process(changed)
    np.testing.assert_array_equal(a[:6000], b[:6000])
    assert np.abs(a[6000 + network.delay_samples:] - b[6000 + network.delay_samples:]).max() > 1e-3


@pytest.mark.parametrize("block", [1, 63, 256, 8193])
def test_onnx_stream_on_awkward_blocks_equals_torch_offline(model: tuple[SpectralGainNet, Path], block: int) -> None:
    torch_model, path = model
    network = StyleNetwork(path)
    x = music(1.1)
    with torch.no_grad():
        reference = torch_model(torch.from_numpy(x)).numpy()
    assert np.abs(reference - x).max() > 1e-2  # the random network does change the audio
    d = network.delay_samples
    assert d == torch_model.cfg.synth_fft - 1 == (511 if torch_model.cfg.synth_fft == 512 else 127)
    padded = np.concatenate([x, np.zeros(d + block, np.float32)])
    stream = network.stream()
    out = np.concatenate([stream.process(padded[i:i + block]) for i in range(0, padded.size, block)])
    np.testing.assert_allclose(out[d:d + x.size], reference, atol=2e-4, rtol=0)
    np.testing.assert_allclose(network.offline(x), reference, atol=2e-4, rtol=0)


def test_a_bundled_style_is_found_by_name(tmp_path: Path) -> None:
    content = tmp_path / "c.wav"
    write_audio(content, music(0.5)[None], 16000, "wav16")
    out = tmp_path / "o.wav"
    assert main(["style", "--method", "feedforward", "--model", "style_reed", "--content", str(content), "--out",
                 str(out)]) == 0
    assert out.is_file()
    assert main(["style", "--method", "feedforward", "--model", "style_nope", "--content", str(content), "--out",
                 str(tmp_path / "p.wav")]) == 2


@pytest.mark.parametrize("bad", ["missing", "corrupt", "wrong_kind", "no_model"])
def test_bad_models_are_refused_in_one_line(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    content = tmp_path / "c.wav"
    write_audio(content, music(0.5)[None], 16000, "wav16")
    corrupt = tmp_path / "bad.style_gains.onnx"
    corrupt.write_bytes(b"\x08\x07garbage")
    model = {"missing": ["--model", str(tmp_path / "nope.onnx")], "corrupt": ["--model", str(corrupt)],
             "wrong_kind": ["--model", str(BUNDLED / "tagger_default.tagger.onnx")], "no_model": []}[bad]
    code = main(["style", "--method", "feedforward", *model, "--content", str(content), "--out",
                 str(tmp_path / "o.wav")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    assert {"missing": "no such style model", "corrupt": "not a readable ONNX model",
            "wrong_kind": "not a style one", "no_model": "needs --model"}[bad] in err
