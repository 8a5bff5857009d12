"""Autoencoder: forward/backward, configs, streaming encoder and decoder equal to offline, spectral loss."""

from __future__ import annotations

import math

import pytest
import torch

from export.core.errors import LatentbridgeError
from models.autoencoder.configs import CONFIGS, TEST_CONFIGS, AutoencoderConfig, get_config
from models.autoencoder.losses import multiscale_spectral_loss
from models.autoencoder.model import Autoencoder, AutoencoderStream
from models.controls.loudness import a_weighted_loudness
from models.controls.pitch import yin
from models.training.checkpoint import config_hash

BLOCKS = (1, 63, 64, 65, 511, 8193)
SR = 16000


def _signal(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    f = torch.linspace(150.0, 400.0, batch)[:, None]
    return 0.4 * torch.sin(2 * math.pi * f * t) + 0.05 * torch.randn(batch, length, generator=gen)


def _controls(frames: int, batch: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    f0 = 100.0 + 800.0 * torch.rand(batch, frames, generator=gen)
    periodicity = torch.rand(batch, frames, generator=gen)
    return f0, periodicity, -60.0 + 50.0 * torch.rand(batch, frames, generator=gen)


def _window_controls(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A deterministic stand-in for the trackers: each frame's values depend only on its causal window."""
    last = windows[:, -128:]
    loud = 20.0 * torch.log10(last.square().mean(-1).sqrt() + 1e-5)
    f0 = 60.0 + 2000.0 * windows.abs().mean(-1)
    return f0, torch.sigmoid(10.0 * windows[:, -1]), loud


def _model(name: str, seed: int = 0) -> Autoencoder:
    torch.manual_seed(seed)
    model = Autoencoder(get_config(name)).eval()
    with torch.no_grad():  # make the noise audible so the streaming test covers it
        model.decoder.head.bias.normal_()
    return model


@pytest.mark.parametrize("name", sorted(TEST_CONFIGS))
def test_forward_backward(name: str) -> None:
    model = _model(name).train()
    audio = _signal(2, 4096)
    recon, kl = model(audio, *_controls(32, 2), sample=True)
    assert recon.shape == (2, 4096) and torch.isfinite(recon).all()
    loss = multiscale_spectral_loss(recon, audio, model.cfg.fft_sizes) + model.cfg.kl_weight * kl
    loss.backward()
    for part in (model.encoder, model.decoder):
        grads = [p.grad.abs().sum() for p in part.parameters() if p.grad is not None]
        assert grads and sum(grads) > 0
    assert (kl > 0) == model.cfg.encoder.variational


def test_variational_sampling_differs_from_mean() -> None:
    model = _model("tiny_vae")
    audio = _signal(1, 2048)
    mean, _ = model.encode(audio)
    torch.manual_seed(3)
    sampled, _ = model.encode(audio, sample=True)
    assert mean.shape == sampled.shape == (1, 4, 4)
    assert not torch.allclose(mean, sampled)


def test_config_round_trip_and_hash() -> None:
    for cfg in [*CONFIGS.values(), *TEST_CONFIGS.values()]:
        again = AutoencoderConfig.from_dict(cfg.to_dict())
        assert again == cfg and config_hash(again) == config_hash(cfg)
    assert config_hash(CONFIGS["ae_small"]) != config_hash(CONFIGS["nsynth_small"])
    assert CONFIGS["ae_small"].encoder.causal
    h512 = CONFIGS["nsynth_h512_bo16"].encoder
    assert (h512.layers, h512.z_dim, h512.hop, h512.frontend) == (30, 16, 512, "audio")
    with pytest.raises(LatentbridgeError):
        get_config("nope")


def test_causal_z_alignment() -> None:
    model = _model("tiny")
    z = torch.arange(1, 4, dtype=torch.float32).reshape(1, 1, 3)  # z0=1, z1=2, z2=3
    aligned = model.align_z(z, 12)[0, :, 0]
    expected = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]  # frame i uses z[(i + 1) // 4 - 1]
    assert aligned.tolist() == expected
    noncausal = _model("tiny_noncausal").align_z(z, 12)[0, :, 0]
    assert noncausal.tolist() == [1] * 4 + [2] * 4 + [3] * 4


@pytest.mark.parametrize("name", ["tiny", "tiny_audio", "tiny_vae", "ae_small"])
def test_streaming_encoder_equals_offline(name: str) -> None:
    model = _model(name)
    audio = _signal(2, sum(BLOCKS))
    with torch.no_grad():
        offline = model.encode(audio)[0]
        state = model.encoder.init_state(2)
        pieces, start = [], 0
        for n in BLOCKS:
            z, state = model.encoder.stream(audio[:, start: start + n], state)
            pieces.append(z)
            start += n
    streamed = torch.cat(pieces, dim=-1)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=2e-5, rtol=1e-4)


def test_noncausal_encoder_refuses_to_stream() -> None:
    model = _model("tiny_noncausal")
    with pytest.raises(LatentbridgeError, match="non-causal"):
        model.encoder.init_state(1)
    with pytest.raises(LatentbridgeError, match="non-causal"):
        AutoencoderStream(model)


def test_decoder_frame_blocks_equal_offline() -> None:
    model = _model("tiny")
    frames = 40
    z = torch.randn(2, frames, 4)
    f0, per, loud = _controls(frames, 2)
    with torch.no_grad():
        offline, _ = model.decode(z, f0, per, loud)
        state, pieces, start = None, [], 0
        for k in (1, 7, 0, 3, 29):
            part = slice(start, start + k)
            out, state = model.decode(z[:, part], f0[:, part], per[:, part], loud[:, part], state)
            pieces.append(out)
            start += k
    torch.testing.assert_close(torch.cat(pieces, -1), offline, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny", "tiny_audio", "tiny_vae"])
def test_streaming_autoencoder_equals_offline_after_delay(name: str) -> None:
    model = _model(name)
    assert model.delay_samples == model.cfg.frame_hop - 1
    total = sum(BLOCKS)
    audio = _signal(1, total)
    stream = AutoencoderStream(model, 1, controls=_window_controls, context=512)
    with torch.no_grad():
        padded = torch.nn.functional.pad(audio, (512, 0))
        windows = padded[:, 128:].unfold(1, 512, 128)[0]  # window of frame i ends at (i + 1) * 128
        f0, per, loud = (c[None] for c in _window_controls(windows))
        offline = model(audio, f0, per, loud)[0]
        pieces, start = [], 0
        for n in BLOCKS:
            pieces.append(stream.process(audio[:, start: start + n]))
            start += n
    streamed = torch.cat(pieces, -1)
    assert streamed.shape == (1, total)
    d = model.delay_samples
    assert streamed[:, :d].abs().max() == 0
    torch.testing.assert_close(streamed[:, d: d + offline.shape[1]], offline[:, : total - d], atol=1e-5,
                               rtol=1e-4)
    assert offline.abs().max() > 1e-3


def test_multiscale_loss_zero_for_identical_and_grows_with_detuning() -> None:
    t = torch.arange(16000) / SR
    ref = (0.5 * torch.sin(2 * math.pi * 440.0 * t))[None]
    assert multiscale_spectral_loss(ref, ref).item() == 0.0
    detuned = [(0.5 * torch.sin(2 * math.pi * 440.0 * 2 ** (c / 1200) * t))[None] for c in (5, 50, 200, 700)]
    losses = [multiscale_spectral_loss(d, ref).item() for d in detuned]
    assert all(a < b for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[0] > 0


def test_streaming_with_the_project_trackers_equals_offline() -> None:
    model = _model("tiny")
    total = 6000
    audio = _signal(1, total) * torch.linspace(0.2, 1.0, total)
    pitch, loud = model.tracker_configs()
    f0, periodicity = yin(audio, pitch)
    for got, want in zip(model.compute_controls(audio), (f0, periodicity, a_weighted_loudness(audio, loud)),
                         strict=True):  # the model's controls are the project trackers' (imported plainly)
        torch.testing.assert_close(got, want.float())
    stream = AutoencoderStream(model, 1)
    with torch.no_grad():
        offline = model.reconstruct(audio)
        pieces, start = [], 0
        for n in (1, 63, 64, 65, 511, 5296):
            pieces.append(stream.process(audio[:, start: start + n]))
            start += n
    streamed, d = torch.cat(pieces, -1), model.delay_samples
    torch.testing.assert_close(streamed[:, d:], offline[:, : total - d], atol=1e-4, rtol=1e-3)
