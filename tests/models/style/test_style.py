"""Style transfer: each method lowers its loss, the content-only limit returns the content, long inputs are
windowed with unit-gain crossfades, and the command keeps the content's rate and length and refuses bad input."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from export.app.cli import main
from export.core.audio_io import read_audio, write_audio
from export.onnx.bundled import default_model
from models.spectral.features import stft
from models.style.gram import gram
from models.style.nsynth_features import EncoderActivations
from models.style.nsynth_transfer import NSynthStyle, NSynthStyleConfig
from models.style.optimise import Transfer
from models.style.spectral_transfer import RANDOM_CNN, STFT_GRAM, SpectralStyle
from models.style.windows import transfer_windows, window_starts
from models.training.checkpoint import load_model

RATE = 16000


def tone(seconds: float, hz: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * hz * t) * np.minimum(1.0, t / 0.02)).astype(np.float32)


def buzz(seconds: float, hz: float) -> np.ndarray:
    """A bright sawtooth with a little noise: statistics far from a sine's."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(0)
    return (0.3 * (2 * ((t * hz) % 1.0) - 1) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> EncoderActivations:
    model, _ = load_model(default_model("autoencoder").path, "autoencoder")
    return EncoderActivations(model.encoder)


def test_gram_is_normalised_by_frames() -> None:
    f = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]])
    expected = torch.tensor([[30.0, 6.0], [6.0, 2.0]]) / 4
    assert torch.allclose(gram(f), expected)
    assert torch.allclose(gram(torch.cat([f, f], dim=1)), expected)  # twice as long, same statistics


def test_encoder_activations_are_the_encoders(encoder: EncoderActivations) -> None:
    """The last residual state rebuilt from the captured ReLUs gives the encoder's own z: h_0 is the input conv
    of the front end, layer k adds proj_k(after_k), so h_L = h_0 + sum_k proj_k(after_k); the bottleneck and
    pooling of h_L must give `Encoder.forward`'s z. Each pair is checked on the way: before_k = relu(h_(k-1)),
    after_k = relu(conv_k(before_k))."""
    enc = encoder.encoder
    x = torch.from_numpy(tone(0.5, 220.0) + buzz(0.5, 330.0))
    with torch.no_grad():
        relus, content, _ = encoder(x)
        assert len(relus) == 2 * len(enc.layers) and content is relus[-1]
        assert relus[0].shape[-1] == x.numel() // enc.frame_hop
        front = enc.logmel(x[None]) if enc.logmel is not None else x[None, None]
        h = enc.input(front)[0]
        for k, layer in enumerate(enc.residual_layers()):
            before, after = relus[2 * k], relus[2 * k + 1]
            torch.testing.assert_close(before, torch.relu(h), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(after, torch.relu(layer.conv(before[None])[0]), atol=1e-5, rtol=1e-5)
            assert float(after.max()) > 0.0  # a live layer, not a zero that matches anything
            h = h + layer.proj(after[None])[0]
        z = F.avg_pool1d(enc.bottleneck(h[None]), enc.pool, enc.pool)[:, : enc.cfg.z_dim]  # (the mean if VAE)
        want = enc(x[None])
        want = want[0] if isinstance(want, tuple) else want
    assert z.shape == want.shape and z.shape[-1] == x.numel() // enc.cfg.hop
    torch.testing.assert_close(z, want, atol=1e-5, rtol=1e-4)
    assert float(want.abs().max()) > 1e-3


def hiss(seconds: float) -> np.ndarray:
    """A faint noise floor, as real recordings have: the magnitude domain only reshapes energy that is there."""
    return (0.01 * np.random.default_rng(1).standard_normal(int(seconds * RATE))).astype(np.float32)


@pytest.mark.parametrize("domain", ["magnitude", "waveform"])
def test_nsynth_lowers_the_style_loss_and_gram_distance(encoder: EncoderActivations, one_thread: None,
                                                        domain: str) -> None:
    content, style = tone(0.6, 220.0) + hiss(0.6), buzz(0.6, 660.0)
    method = NSynthStyle(encoder, style, NSynthStyleConfig(iterations=40, domain=domain))
    result = method.transfer(content)
    assert len(result.style_loss) == 41 and result.audio.shape == content.shape
    assert result.style_loss[-1] < 0.5 * result.style_loss[0]
    assert method.gram_distance(result.audio) < method.gram_distance(content)
    if domain == "waveform":
        assert np.abs(result.audio).max() <= 1.0  # mu-law samples are clamped to [-1, 1]


def test_the_envelope_term_alone_moves_the_encoders_mean_log_mel_within_the_bin_limits(
        encoder: EncoderActivations, one_thread: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Gram layer off, only the envelope term on: the front end's mean over frames moves toward the
    style's, and the optimised log-magnitudes (the variable Adam leaves) stay within -cut_db .. +boost_db of the
    content's bins."""
    import models.style.nsynth_transfer as nsynth

    content, style = tone(0.6, 220.0) + hiss(0.6), buzz(0.6, 660.0)
    cfg = NSynthStyleConfig(iterations=40, layer_weights=(0.0,) * encoder.n_layers, envelope_weight=1.0,
                            cut_db=6.0, boost_db=9.0)
    method = NSynthStyle(encoder, style, cfg)
    optimised: list[torch.Tensor] = []
    adam = nsynth.adam

    def adam_keeping(variable: torch.Tensor, *args: object, **kwargs: object) -> object:
        curves = adam(variable, *args, **kwargs)  # type: ignore[arg-type]
        optimised.append(variable.detach().clone())
        return curves
    monkeypatch.setattr(nsynth, "adam", adam_keeping)
    result = method.transfer(content)
    assert result.style_loss[-1] < 0.5 * result.style_loss[0]
    change_db = (optimised[0] - torch.log(method.spectrum(torch.from_numpy(content)).abs() + 1e-7)) * nsynth.NEPER_DB
    assert -6.0 - 1e-3 <= float(change_db.min()) and float(change_db.max()) <= 9.0 + 1e-3
    assert float(change_db.min()) < -5.0 and float(change_db.max()) > 8.0  # both limits bind somewhere

    def envelope(audio: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return method.features(torch.from_numpy(audio)).front.mean(dim=-1)
    target = method.style_envelope
    assert (envelope(result.audio) - target).norm() < 0.8 * (envelope(content) - target).norm()


def test_nsynth_l2_style_loss_and_layer_weights(encoder: EncoderActivations, one_thread: None) -> None:
    content, style = tone(0.5, 220.0) + hiss(0.5), buzz(0.5, 660.0)
    weights = (1.0,) * 4 + (0.0,) * (encoder.n_layers - 4)
    result = NSynthStyle(encoder, style, NSynthStyleConfig(iterations=20, style_loss="l2",
                                                           layer_weights=weights)).transfer(content)
    assert result.style_loss[-1] < 0.5 * result.style_loss[0]
    from export.core.errors import LatentbridgeError

    with pytest.raises(LatentbridgeError, match="layer-weights"):
        NSynthStyle(encoder, style, NSynthStyleConfig(layer_weights=(1.0, 2.0)))


def test_nsynth_content_only_limit_returns_the_content(encoder: EncoderActivations, one_thread: None) -> None:
    """Style weight 0: the only force is the content loss, so the waveform stays the content (a small step:
    Adam's unit-size first steps at the default lr 0.05 are noise the encoder cannot see)."""
    content, style = tone(0.5, 220.0), buzz(0.5, 660.0)
    cfg = NSynthStyleConfig(iterations=30, style_weight=0.0, lr=1e-5)
    result = NSynthStyle(encoder, style, cfg).transfer(content)
    snr = 10 * np.log10(np.mean(content ** 2) / np.mean((result.audio - content) ** 2))
    assert snr > 40.0
    styled = NSynthStyle(encoder, style, replace(cfg, style_weight=1.0, lr=0.05)).transfer(content)
    assert 10 * np.log10(np.mean(content ** 2) / np.mean((styled.audio - content) ** 2)) < 20.0


@pytest.mark.parametrize("base", [STFT_GRAM, replace(RANDOM_CNN, filters=64)], ids=["stft-gram", "random-cnn"])
def test_spectral_methods_lower_their_loss(base: object, one_thread: None) -> None:
    content, style = tone(1.0, 220.0), buzz(1.0, 660.0)
    method = SpectralStyle(style, replace(base, iterations=30, griffin_lim_iters=30))  # type: ignore[type-var]
    result = method.transfer(content)
    total = np.add(result.content_loss, result.style_loss)  # starts at the content: all style loss
    assert total[-1] < total[0] and result.style_loss[-1] < 0.9 * result.style_loss[0]
    assert method.gram_distance(result.audio) < method.gram_distance(content)


def spectral_error(a: np.ndarray, b: np.ndarray, n_fft: int, hop: int) -> float:
    ma = stft(torch.from_numpy(a)[None], n_fft, hop).abs()
    mb = stft(torch.from_numpy(b)[None], n_fft, hop).abs()
    return float((ma - mb).norm() / mb.norm())


@pytest.mark.parametrize("base", [STFT_GRAM, replace(RANDOM_CNN, filters=64)], ids=["stft-gram", "random-cnn"])
def test_spectral_content_only_limit_returns_the_content(base: object, one_thread: None) -> None:
    """Style weight 0 keeps the content's spectrogram; only Griffin-Lim's phase differs."""
    content, style = tone(1.0, 220.0), buzz(1.0, 660.0)
    cfg = replace(base, iterations=20, style_weight=0.0, griffin_lim_iters=60)  # type: ignore[type-var]
    kept = SpectralStyle(style, cfg).transfer(content)
    styled = SpectralStyle(style, replace(cfg, style_weight=1.0)).transfer(content)
    assert kept.style_loss == [0.0] * len(kept.style_loss) and max(kept.content_loss) == 0.0
    kept_error = spectral_error(kept.audio, content, cfg.n_fft, cfg.hop)
    assert kept_error < 0.15
    assert spectral_error(styled.audio, content, cfg.n_fft, cfg.hop) > 2 * kept_error


@pytest.mark.parametrize("n", [100, 1000, 1001, 2345])
def test_windows_cover_the_input_with_unit_gain(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    calls = []

    def identity(chunk: np.ndarray) -> Transfer:
        calls.append(chunk.size)
        return Transfer(chunk.copy())
    out, results = transfer_windows(x, 400, 100, identity)
    assert np.allclose(out, x, atol=1e-6) and len(results) == len(window_starts(n, 400, 100)) == len(calls)
    assert max(calls) <= 400


def write(path: Path, audio: np.ndarray, rate: int) -> Path:
    write_audio(path, audio, rate, "wav32f")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_style_command_keeps_rate_and_length(tmp_path: Path, one_thread: None) -> None:
    rate = 44100
    stereo = np.stack([tone(0.7, 220.0, rate), tone(0.7, 330.0, rate)])
    content = write(tmp_path / "content.wav", stereo, rate)
    style = write(tmp_path / "style.wav", buzz(0.8, 440.0)[None], RATE)
    before = digest(content), digest(style)
    out = tmp_path / "out.wav"
    args = ["style", "--content", str(content), "--style", str(style), "--out", str(out), "--method", "stft-gram",
            "--iterations", "5", "--plots"]
    assert main(args) == 0
    audio, got_rate = read_audio(out)
    assert got_rate == rate and audio.shape == (1, stereo.shape[1])
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["iterations"] == 5 and len(report["style_loss"]) == 6 and "pitch_agreement" in report
    assert out.with_suffix(".png").stat().st_size > 10000
    assert (digest(content), digest(style)) == before
    assert main(args) == 2  # exists: needs --force


@pytest.mark.parametrize("bad", ["empty", "nan", "one_sample", "corrupt"])
def test_style_command_refuses_bad_input(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    style = write(tmp_path / "style.wav", buzz(0.5, 440.0)[None], RATE)
    content = tmp_path / "content.wav"
    if bad == "empty":
        content.write_bytes(b"")
    elif bad == "corrupt":
        content.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    else:
        from pedalboard.io import AudioFile

        audio = tone(0.5, 220.0)[None] if bad == "nan" else np.zeros((1, 1), np.float32)
        if bad == "nan":
            audio[0, 10] = np.nan
        with AudioFile(str(content), "w", RATE, 1, bit_depth=32) as f:
            f.write(audio)
    before = content.read_bytes()
    assert main(["style", "--content", str(content), "--style", str(style), "--out", str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentbridge: error:")
    assert content.read_bytes() == before and not (tmp_path / "o.wav").exists()
