"""Spectral autoencoder: loss weights against the formula, dB scaling, Griffin-Lim on a sine, AE, ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.spectral import (
    CONFIGS,
    TEST_CONFIGS,
    SpectralAEConfig,
    SpectralAutoencoder,
    SpectrogramConfig,
    frequency_weights,
    get_config,
    griffin_lim,
    log_magnitude,
    logmag_to_magnitude,
    spectral_convergence,
)
from models.spectral.features import denormalize_db, magnitude_scale, normalize_db, stft

ALL = {**TEST_CONFIGS, **CONFIGS}
RATE = 16000


def tones(freqs: list[float], amps: list[float], length: int) -> Tensor:
    t = torch.arange(length, dtype=torch.float64) / RATE
    rows = [a * torch.sin(2 * np.pi * f * t) for f, a in zip(freqs, amps, strict=True)]
    return torch.stack(rows).float()


def build(cfg: SpectralAEConfig, seed: int = 0) -> SpectralAutoencoder:
    torch.manual_seed(seed)
    return SpectralAutoencoder(cfg)


def test_frequency_weights_follow_the_formula() -> None:
    w = frequency_weights(512, 1024, RATE).double().numpy()
    hz = np.arange(512) * RATE / 1024  # bin k at k * 15.625 Hz; bin 256 is exactly 4 kHz
    assert w[0] == 10.0
    assert hz[256] == 4000.0 and w[256] == 1.0
    assert np.all(w[256:] == 1.0)
    np.testing.assert_allclose(w[:256], 10.0 - 9.0 * hz[:256] / 4000.0, atol=1e-6, rtol=0)
    assert np.all(np.diff(w[:257]) < 0)  # strictly falling up to the knee
    np.testing.assert_allclose(build(CONFIGS["small"]).weights.numpy(), w, atol=0, rtol=0)
    # another grid: the knee falls between bins (n_fft 100 at 16 kHz: 160 Hz bins, 4 kHz = bin 25)
    w2 = frequency_weights(51, 100, RATE).double().numpy()
    np.testing.assert_allclose(w2, np.maximum(1.0, 10.0 - 9.0 * np.arange(51) * 160.0 / 4000.0), atol=1e-6)


def test_loss_is_the_frequency_weighted_mse() -> None:
    model = build(TEST_CONFIGS["tiny"])
    g = torch.Generator().manual_seed(1)
    predicted, target = torch.rand(2, 32, 68, generator=g), torch.rand(2, 32, 68, generator=g)
    w = frequency_weights(32, 64, RATE).numpy()
    expected = np.mean(w[None, :, None] * (predicted.numpy() - target.numpy()) ** 2)
    assert model.loss(predicted, target).item() == pytest.approx(float(expected), rel=1e-5)


def test_a_full_scale_sine_reads_0_db_and_levels_map_linearly() -> None:
    cfg = SpectrogramConfig()
    logmag = log_magnitude(tones([1000.0, 1000.0], [1.0, 0.1], 8000), cfg)  # 1 kHz = bin 64 exactly
    assert logmag.shape == (2, 513, 32)
    span = cfg.max_db - cfg.min_db
    np.testing.assert_allclose(logmag[0, 64, 2:-2].numpy(), (0.0 - cfg.min_db) / span, atol=1e-4)
    np.testing.assert_allclose(logmag[1, 64, 2:-2].numpy(), (-20.0 - cfg.min_db) / span, atol=1e-4)
    assert float(logmag.min()) == 0.0 and float(logmag.max()) <= 1.0


def test_normalisation_round_trip() -> None:
    cfg = SpectrogramConfig()
    x = torch.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(normalize_db(denormalize_db(x, -100.0, 20.0), -100.0, 20.0).numpy(), x.numpy(),
                               atol=1e-6)
    audio = 0.2 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(2))
    audio[1, :2000] *= 1e-6  # part of the clip below min_db: clipped to 0
    magnitude = stft(audio, cfg.n_fft, cfg.hop).abs()
    restored = logmag_to_magnitude(log_magnitude(audio, cfg), cfg)
    db = 20.0 * torch.log10(magnitude * magnitude_scale(cfg.n_fft))
    inside = (db > cfg.min_db + 0.01) & (db < cfg.max_db)
    assert inside.float().mean() > 0.7 and (~inside).any()
    np.testing.assert_allclose(restored[inside].numpy(), magnitude[inside].numpy(), rtol=1e-4)
    floor = 10.0 ** (cfg.min_db / 20.0) / magnitude_scale(cfg.n_fft)
    np.testing.assert_allclose(restored[db <= cfg.min_db].numpy(), floor, rtol=1e-4)


def test_griffin_lim_rebuilds_a_sine() -> None:
    """Fast Griffin-Lim (momentum 0.99, the default), 50 iterations from random phases (seed 0)."""
    sine = tones([440.0], [0.5], RATE)
    magnitude = stft(sine, 1024, 256).abs()
    audio = griffin_lim(magnitude, 1024, 256, RATE, n_iter=50)
    assert audio.shape == (1, RATE)
    convergence = float(spectral_convergence(audio, magnitude, 1024, 256)[0])
    assert convergence < 0.1
    one_step = float(spectral_convergence(griffin_lim(magnitude, 1024, 256, RATE, n_iter=1), magnitude, 1024,
                                          256)[0])
    assert one_step > 2 * convergence  # the iterations did the work, not the random start
    middle = audio[0, 2000:14000].double().numpy()  # away from the edge frames
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size), n=16 * middle.size))
    peak_hz = spectrum.argmax() * RATE / (16 * middle.size)
    # within 1 % (17 cents, a seventh of an STFT bin); more iterations pull it closer (200: 439.8 Hz)
    assert abs(peak_hz - 440.0) < 4.4
    assert np.sqrt(np.mean(middle ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_griffin_lim_is_deterministic_and_checks_its_input() -> None:
    magnitude = stft(tones([300.0, 700.0], [0.3, 0.3], 2000), 256, 64).abs()
    first = griffin_lim(magnitude, 256, 64, 2000, n_iter=5, seed=3)
    again = griffin_lim(magnitude, 256, 64, 2000, n_iter=5, seed=3)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not torch.equal(first, griffin_lim(magnitude, 256, 64, 2000, n_iter=5, seed=4))
    with pytest.raises(LatentbridgeError, match="do not match length"):
        griffin_lim(magnitude, 256, 64, 4000)
    with pytest.raises(LatentbridgeError, match="magnitude must be"):
        griffin_lim(magnitude[:, :-1], 256, 64, 2000)
    with pytest.raises(LatentbridgeError, match="momentum"):
        griffin_lim(magnitude, 256, 64, 2000, momentum=1.0)


@pytest.mark.parametrize("name", [*TEST_CONFIGS, "small"])
def test_backward_gives_finite_gradients_and_z_has_the_configured_shape(name: str) -> None:
    cfg = ALL[name]
    model = build(cfg).train()
    audio = tones([220.0, 1500.0], [0.5, 0.2], cfg.n_samples)
    logmag = model.prepare(audio)
    assert logmag.shape == (2, cfg.n_freq, cfg.padded_frames(cfg.n_samples))
    z = model.encode(logmag)
    assert z.shape == (2, *cfg.z_shape(cfg.n_samples))
    decoded = model.decode(z)
    assert decoded.shape == logmag.shape and 0.0 < decoded.min().item() and decoded.max().item() < 1.0
    loss = model.loss(decoded, logmag)
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


def test_prepare_drops_nyquist_and_pads_with_silence() -> None:
    cfg = TEST_CONFIGS["tiny"]  # n_fft 64, hop 16, frames a multiple of 4
    model = build(cfg)
    audio = tones([500.0], [0.5], 1000)  # 63 frames -> padded to 64
    prepared = model.prepare(audio)
    assert prepared.shape == (1, 32, 64)
    expected = log_magnitude(audio, cfg.spectrogram)[:, :32]
    np.testing.assert_array_equal(prepared[:, :, :63].numpy(), expected.numpy())
    assert float(prepared[:, :, 63:].abs().max()) == 0.0


def test_autoencoder_fits_a_batch(one_thread: None) -> None:
    cfg = TEST_CONFIGS["tiny"]
    model = build(cfg, seed=5).train()
    logmag = model.prepare(tones([300.0, 900.0, 2500.0, 5000.0], [0.5, 0.3, 0.1, 0.05], cfg.n_samples))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(80):
        loss = model.loss(model(logmag), logmag)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_reconstruct_returns_audio_of_the_same_length() -> None:
    model = build(CONFIGS["small"]).train()
    audio = tones([440.0], [0.5], 6000)
    out = model.reconstruct(audio, n_iter=4)
    assert out.shape == audio.shape and torch.isfinite(out).all()
    assert model.training  # mode restored
    with pytest.raises(LatentbridgeError, match="audio must be"):
        model.reconstruct(audio[0])


def test_configs_round_trip_and_reject_bad_values() -> None:
    for cfg in ALL.values():
        assert SpectralAEConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert CONFIGS["nsynth_spectral"].z_shape(64000) == (16, 16, 8)  # 2048 values per note (paper: 1984)
    assert CONFIGS["small"].z_shape(64000) == (4, 32, 16)
    with pytest.raises(LatentbridgeError, match="divisible"):
        SpectralAEConfig(spectrogram=SpectrogramConfig(n_fft=96, hop=24), channels=(4, 4, 4, 4, 4, 4))
    with pytest.raises(LatentbridgeError, match="min_db < max_db"):
        SpectrogramConfig(min_db=0.0, max_db=-10.0)
    with pytest.raises(LatentbridgeError, match="unknown SpectralAEConfig fields: colour"):
        SpectralAEConfig.from_dict({"colour": 1})
    with pytest.raises(LatentbridgeError, match="unknown spectral autoencoder config"):
        get_config("huge")


class _Encode(nn.Module):
    def __init__(self, model: SpectralAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, logmag: Tensor) -> Tensor:
        return self.model.encode(logmag)


class _Decode(_Encode):
    def forward(self, z: Tensor) -> Tensor:
        return self.model.decode(z)


def calibrated(model: SpectralAutoencoder, logmag: Tensor) -> SpectralAutoencoder:
    """Batch-norm statistics from `logmag` (cumulative average), then eval mode."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    with torch.no_grad():
        model.train()(logmag)
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.filterwarnings("ignore:The feature will be removed")
@pytest.mark.parametrize("name", ALL)
def test_onnx_encode_decode_match_torch(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    cfg = ALL[name]
    model = build(cfg, seed=7)
    audio = tones([110.0, 440.0, 1760.0], [0.8, 0.3, 0.05], cfg.n_samples)
    logmag = model.prepare(audio)
    calibrated(model, logmag)
    with torch.no_grad():
        z = model.encode(logmag)
        decoded = model.decode(z)
    steps = z.shape[-1]
    shorter = max(1, steps // 2)  # a clip shorter than the export example: the time axes really are dynamic
    cases = [(_Encode(model), "logmag", "z", logmag, logmag[..., : shorter * cfg.time_multiple]),
             (_Decode(model), "z", "logmag", z, z[..., :shorter])]
    axes = {"logmag": {0: "batch", 2: "frames"}, "z": {0: "batch", 3: "steps"}}
    for wrapper, inp, out, example, short in cases:
        path = tmp_path / f"spectral_{name}_{inp}.onnx"
        torch.onnx.export(wrapper.eval(), (example[:1],), str(path), opset_version=17, dynamo=False,
                          input_names=[inp], output_names=[out],
                          dynamic_axes={inp: axes[inp], out: axes[out]})
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        wrapper.eval()  # export restores the wrapper's mode, and with it the model's
        for x in (example, short):
            with torch.no_grad():
                expected = wrapper(x).numpy()
            (got,) = session.run(None, {inp: x.numpy()})
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert np.ptp(z.numpy(), axis=0).max() > 1e-2 and np.ptp(decoded.numpy(), axis=0).max() > 1e-3
