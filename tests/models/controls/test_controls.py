"""Controls: YIN f0 / periodicity and A-weighted loudness against computed references, causality, ONNX."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.controls.loudness import LoudnessConfig, a_weighted_loudness, a_weighting_db
from models.controls.pitch import PitchConfig, cmnd, frames, yin

SR, HOP, WINDOW = 16000, 128, 1024
SETTLED = WINDOW // HOP  # frames whose window lies entirely inside the signal


def _time(seconds: float) -> Tensor:
    return torch.arange(int(seconds * SR), dtype=torch.float64) / SR


def _sine(freq: float, seconds: float = 0.5, amplitude: float = 0.5) -> Tensor:
    return (amplitude * torch.sin(2 * math.pi * freq * _time(seconds))).float()[None]


def _sawtooth(freq: float, seconds: float = 0.5) -> Tensor:
    """Band-limited sawtooth: every harmonic below Nyquist at amplitude 1 / k."""
    t = _time(seconds)
    k = torch.arange(1, int(SR / 2 / freq) + 1, dtype=torch.float64)[:, None]
    return (0.3 * (torch.sin(2 * math.pi * k * freq * t) / k).sum(0)).float()[None]


@pytest.mark.parametrize("freq", [55.0, 110.0, 220.0, 440.0, 880.0, 1320.0])
def test_yin_sine_frequency_within_one_percent(freq: float) -> None:
    f0, periodicity = yin(_sine(freq))
    assert f0.shape == (1, int(0.5 * SR) // HOP)
    settled = f0[0, SETTLED:]
    assert torch.max(torch.abs(settled / freq - 1.0)) < 0.01
    assert periodicity[0, SETTLED:].min() > 0.95


@pytest.mark.parametrize("freq", [65.0, 110.0, 220.0, 440.0])
def test_yin_sawtooth_gives_its_fundamental(freq: float) -> None:
    f0, periodicity = yin(_sawtooth(freq))
    assert torch.max(torch.abs(f0[0, SETTLED:] / freq - 1.0)) < 0.01
    assert periodicity[0, SETTLED:].min() > 0.9


def test_yin_periodicity_low_on_white_noise() -> None:
    noise = torch.from_numpy(np.random.default_rng(0).normal(0, 0.3, (2, SR)).astype(np.float32))
    _, periodicity = yin(noise)
    assert periodicity.mean() < 0.3
    assert torch.all((periodicity >= 0) & (periodicity <= 1))


def test_cmnd_matches_direct_difference_function() -> None:
    cfg = PitchConfig()
    t = np.arange(WINDOW) / SR
    x = np.random.default_rng(1).normal(0, 0.2, WINDOW) + 0.5 * np.sin(2 * np.pi * 150 * t)
    n, w = WINDOW, cfg.integration
    ref = x[n - w:]
    diff = np.array([np.sum((ref - x[n - w - tau: n - tau]) ** 2) for tau in range(cfg.tau_max + 2)])
    expected = np.ones_like(diff)
    expected[1:] = diff[1:] * np.arange(1, diff.size) / np.cumsum(diff[1:])
    got = cmnd(torch.from_numpy(x).float()[None], cfg)[0].double().numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4)


def test_frames_are_causal_windows_with_zeros_before_the_start() -> None:
    audio = torch.arange(1, 1001, dtype=torch.float32)[None]
    framed = frames(audio, 100, 300)
    assert framed.shape == (1, 10, 300)
    assert torch.equal(framed[0, 0], torch.cat([torch.zeros(200), audio[0, :100]]))
    assert torch.equal(framed[0, 9], audio[0, 700:1000])


def _gated_tone() -> Tensor:
    """A 300 Hz tone, then noise (unvoiced), then a 500 Hz tone: exercises the unvoiced hold."""
    rng = np.random.default_rng(2)
    parts = [_sine(300.0, 0.25)[0], torch.from_numpy(rng.normal(0, 0.2, SR // 4).astype(np.float32)),
             _sine(500.0, 0.25)[0]]
    return torch.cat(parts)[None]


def test_causal_prefix_and_history_window_give_the_same_frames() -> None:
    audio, cfg = _gated_tone(), PitchConfig()
    f0, periodicity = yin(audio, cfg)
    loud = a_weighted_loudness(audio)
    for length in (1000, 4096, 6000, 9000):
        f0_p, per_p = yin(audio[:, :length], cfg)
        n = length // HOP
        torch.testing.assert_close(f0_p, f0[:, :n], rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(per_p, periodicity[:, :n], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a_weighted_loudness(audio[:, :length]), loud[:, :n], rtol=1e-5, atol=1e-4)
    # a stream keeping `cfg.history` samples reproduces each frame, unvoiced holds included
    for i in range(cfg.history // HOP, f0.shape[1], 7):
        end = (i + 1) * HOP
        f0_w, per_w = yin(audio[:, end - cfg.history: end], cfg)
        torch.testing.assert_close(f0_w[:, -1], f0[:, i], rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(per_w[:, -1], periodicity[:, i], rtol=1e-5, atol=1e-5)


def test_unvoiced_frames_hold_the_last_voiced_f0_for_hold_frames() -> None:
    audio, cfg = _gated_tone(), PitchConfig(hold=8)
    f0, periodicity = yin(audio, cfg)
    first_noisy = (SR // 4 + WINDOW) // HOP  # windows entirely inside the noise from here on
    noisy = slice(first_noisy, SR // 2 // HOP)
    assert periodicity[0, noisy].max() < 0.5
    boundary = SR // 4 // HOP  # frames up to here are voiced (300 Hz); holds reach 8 frames past the last
    voiced = periodicity[0, :boundary + 8] > 1 - cfg.threshold
    last_voiced = int(torch.nonzero(voiced)[-1])
    held = f0[0, last_voiced + 1: last_voiced + 1 + cfg.hold]
    assert torch.allclose(held, torch.full_like(held, 300.0), rtol=0.01)
    # beyond the hold, noise frames report their own (scattered) estimates
    assert f0[0, last_voiced + cfg.hold + 1: noisy.stop].std() > 20.0
    assert torch.max(torch.abs(f0[0, -10:] / 500.0 - 1.0)) < 0.01


def test_silence_and_short_input() -> None:
    f0, periodicity = yin(torch.zeros(2, 3 * HOP + 5))
    assert f0.shape == (2, 3)
    assert torch.all(periodicity == 0) and torch.all(torch.isfinite(f0))
    assert torch.all((f0 >= 40.0) & (f0 <= 1600.0))
    assert yin(torch.zeros(1, HOP - 1))[0].shape == (1, 0)
    assert torch.all(a_weighted_loudness(torch.zeros(1, 4 * HOP)) == -100.0)


def test_invalid_configs_and_shapes_raise() -> None:
    with pytest.raises(LatentbridgeError, match="window"):
        PitchConfig(window=512, fmin=40.0)
    with pytest.raises(LatentbridgeError, match="fmin"):
        PitchConfig(fmin=900.0, fmax=800.0)
    with pytest.raises(LatentbridgeError, match="hop"):
        LoudnessConfig(hop=2048)
    with pytest.raises(LatentbridgeError, match="batch"):
        yin(torch.zeros(1000))


def test_a_weighting_reference_values() -> None:
    db = a_weighting_db(torch.tensor([1000.0, 100.0, 10000.0], dtype=torch.float64))
    assert abs(float(db[0])) < 0.01
    assert abs(float(db[1]) + 19.1) < 0.05  # IEC 61672 table: -19.1 dB at 100 Hz
    assert abs(float(db[2]) + 2.5) < 0.05  # and -2.5 dB at 10 kHz


def test_loudness_levels_and_weighting() -> None:
    def level(audio: Tensor) -> float:
        return float(a_weighted_loudness(audio)[0, SETTLED:].mean())

    loud = level(_sine(1000.0, amplitude=10 ** (-6 / 20)))
    quiet = level(_sine(1000.0, amplitude=10 ** (-26 / 20)))
    assert abs((loud - quiet) - 20.0) < 0.5
    assert abs(level(_sine(1000.0, amplitude=1.0)) - 10 * math.log10(0.5)) < 0.1  # full-scale mean square
    low = level(_sine(100.0, amplitude=1.0))
    assert abs(low - (10 * math.log10(0.5) - 19.1)) < 0.3  # weighted down like the curve


def test_loudness_matches_torch_stft_reference() -> None:
    cfg = LoudnessConfig()
    audio = torch.from_numpy(np.random.default_rng(3).normal(0, 0.1, (2, 5000))).float()
    padded = torch.nn.functional.pad(audio.double(), (cfg.n_fft - cfg.hop, 0))
    hann = torch.hann_window(cfg.n_fft, periodic=True, dtype=torch.float64)
    spec = torch.stft(padded, cfg.n_fft, cfg.hop, window=hann, center=False, return_complex=True)
    power = spec.abs().square() / hann.square().sum()
    freqs = torch.arange(cfg.n_fft // 2 + 1, dtype=torch.float64) * SR / cfg.n_fft
    weight = 10 ** (a_weighting_db(freqs) / 10)
    expected = 10 * torch.log10((power * weight[:, None]).mean(1)).clamp_min(cfg.floor_db)
    got = a_weighted_loudness(audio, cfg)
    assert got.shape == (2, 5000 // HOP) == expected.shape
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-3)


class _Yin(nn.Module):
    def forward(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        return yin(audio)


class _Loudness(nn.Module):
    def forward(self, audio: Tensor) -> Tensor:
        return a_weighted_loudness(audio)


def _onnx_run(module: nn.Module, outputs: list[str], path: Path, audio: Tensor) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(2, 3000),), path, opset_version=17, dynamo=False,
                          input_names=["audio"], output_names=outputs,
                          dynamic_axes={"audio": {0: "batch", 1: "samples"},
                                        **{name: {0: "batch", 1: "frames"} for name in outputs}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"audio": audio.numpy()})


def _voiced_batch() -> Tensor:
    rng = np.random.default_rng(4)
    tones = torch.cat([_sine(f, 0.4) for f in (82.0, 261.6, 987.0)])
    return tones + torch.from_numpy(rng.normal(0, 0.01, tones.shape).astype(np.float32))


def test_yin_exports_to_onnx_and_matches_torch(tmp_path: Path) -> None:
    audio = _voiced_batch()  # another batch size and length than the trace
    f0_onnx, periodicity_onnx = _onnx_run(_Yin(), ["f0", "periodicity"], tmp_path / "yin.onnx", audio)
    f0, periodicity = yin(audio)
    np.testing.assert_allclose(f0_onnx, f0.numpy(), rtol=1e-3)
    np.testing.assert_allclose(periodicity_onnx, periodicity.numpy(), atol=1e-3)


def test_loudness_exports_to_onnx_and_matches_torch(tmp_path: Path) -> None:
    audio = _voiced_batch()
    (loud_onnx,) = _onnx_run(_Loudness(), ["loudness"], tmp_path / "loudness.onnx", audio)
    np.testing.assert_allclose(loud_onnx, a_weighted_loudness(audio).numpy(), atol=1e-3)
