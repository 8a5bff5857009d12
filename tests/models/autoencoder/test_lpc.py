"""Linear prediction from the harmonic envelope: Levinson recovers a known AR process, every filter is stable,
the envelope's prediction whitens a harmonic signal, pre-emphasis is x[t] - c x[t - 1]."""

from __future__ import annotations

import math

import numpy as np
import torch

from export.autoencoder.lpc_envelope import LPCConfig, autocorrelation, envelope_power, levinson
from export.autoencoder.lpc_envelope import predict as predict_np
from export.autoencoder.lpc_envelope import preemphasis as preemphasis_np
from models.autoencoder.lpc import lpc_from_envelope, predict, preemphasis

SR, HOP = 16000, 128


def _stable(a: torch.Tensor, radius: float = 1.0) -> bool:
    roots = np.concatenate([np.roots(row) for row in a.reshape(-1, a.shape[-1]).double().numpy()])
    return bool(np.all(np.abs(roots) < radius))


def test_levinson_recovers_a_synthetic_ar_process() -> None:
    from scipy.signal import lfilter

    true = np.array([1.0, -1.6, 1.3, -0.5, 0.1])  # poles inside the unit circle
    assert _stable(torch.from_numpy(true)[None])
    rng = np.random.default_rng(0)
    x = lfilter([1.0], true, rng.standard_normal(200_000))
    a, k = levinson(autocorrelation(x, 4), 4)
    np.testing.assert_allclose(a, true, atol=0.02)
    assert np.all(np.abs(k) < 1)


def test_every_envelope_filter_is_stable_inside_the_bandwidth_radius() -> None:
    gen = torch.Generator().manual_seed(0)
    batch, frames, harmonics, bands = 4, 50, 60, 65
    f0 = 40.0 + torch.rand(batch, frames, generator=gen) * 1500.0
    amps = torch.rand(batch, harmonics, frames, generator=gen) ** 4
    amps[0, 1:] = 0.0  # a pure sine: the hardest case for a line spectrum
    amps[1] = 0.0  # silence except noise
    noise = torch.rand(batch, bands, frames, generator=gen) * 1e-3
    noise[2] = 0.0  # no noise at all
    noise[3, :, :10] = 0.0
    amps[3, :, :10] = 0.0  # digital silence
    cfg = LPCConfig()
    a = lpc_from_envelope(f0, amps, noise, cfg, SR)
    assert a.shape == (batch, frames, cfg.order + 1) and torch.isfinite(a).all()
    assert torch.all(a[..., 0] == 1.0)
    assert _stable(a, radius=cfg.bandwidth + 1e-6)


def test_envelope_power_puts_each_harmonic_at_k_f0_with_its_power() -> None:
    f0 = torch.tensor([[1000.0]])
    amps = torch.zeros(1, 3, 1)
    amps[0, :, 0] = torch.tensor([0.5, 0.0, 0.2])
    power = envelope_power(f0.numpy(), amps.numpy(), np.zeros((1, 5, 1)), SR, 257)[0, 0]
    spacing = 8000.0 / 256
    assert math.isclose(float(power.sum()), 0.5 * (0.25 + 0.04), rel_tol=1e-6)
    peaks = set(np.flatnonzero(power > 1e-6).tolist())
    assert peaks <= {int(1000 // spacing), int(1000 // spacing) + 1, int(3000 // spacing), int(3000 // spacing) + 1}


def test_prediction_from_the_envelope_removes_most_of_a_harmonic_tone() -> None:
    frames = 40
    f0 = torch.full((1, frames), 220.0)
    decay = torch.tensor([0.5 ** k for k in range(20)])
    amps = decay[None, :, None].expand(1, 20, frames).contiguous()
    n = torch.arange(frames * HOP, dtype=torch.float64)
    x = sum(float(decay[k]) * torch.sin(2 * math.pi * 220.0 * (k + 1) * n / SR) for k in range(20)).float()[None]
    a = lpc_from_envelope(f0, amps, torch.full((1, 9, frames), 1e-4), LPCConfig(), SR)
    s = preemphasis(x, 0.85)
    e = s - predict(s, a, HOP)
    assert float(e[:, 512:].norm() / s[:, 512:].norm()) < 0.3


def test_predict_matches_a_direct_loop_and_emphasis_round_trips() -> None:
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3 * HOP, generator=gen)
    a = torch.randn(2, 3, 5, generator=gen) * 0.3
    a[..., 0] = 1.0
    p = predict(s, a, HOP)
    t = 2 * HOP + 7
    expected = -sum(float(a[1, 2, k]) * float(s[1, t - k]) for k in range(1, 5))
    assert math.isclose(float(p[1, t]), expected, rel_tol=1e-5, abs_tol=1e-6)
    assert float(p[0, 0]) == 0.0
    x = torch.randn(2, 1000, generator=gen)
    s = preemphasis(x, 0.85)
    assert torch.equal(s[:, 0], x[:, 0]) and torch.allclose(s[:, 1:], x[:, 1:] - 0.85 * x[:, :-1])


def test_the_run_time_prediction_and_emphasis_equal_training_s_and_carry_their_past() -> None:
    """The numpy versions (the run-time LPC decoder's) give the torch values, and a signal cut in two with each
    part given the other's past gives the whole signal's."""
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 5 * HOP, generator=gen)
    a = torch.randn(2, 5, 7, generator=gen) * 0.3
    a[..., 0] = 1.0
    whole = predict_np(s.numpy(), a.numpy(), HOP)
    np.testing.assert_allclose(whole, predict(s, a, HOP).numpy(), atol=1e-5)
    cut = 2 * HOP
    tail = predict_np(s[:, cut:].numpy(), a[:, 2:].numpy(), HOP, past=s[:, cut - 6: cut].numpy())
    np.testing.assert_allclose(tail, whole[:, cut:], atol=1e-5)
    x = s.numpy()
    emphasised = preemphasis_np(x, 0.85)
    np.testing.assert_allclose(emphasised, preemphasis(s, 0.85).numpy(), atol=1e-6)
    np.testing.assert_allclose(preemphasis_np(x[:, 100:], 0.85, previous=x[:, 99]), emphasised[:, 100:], atol=1e-6)


def test_a_frames_coefficients_do_not_depend_on_the_frames_beside_it() -> None:
    """The run-time decoder analyses one frame per call live and many offline: every float64 coefficient must be
    the same whatever the grouping (a matrix product would let BLAS choose its summation order by shape)."""
    from export.autoencoder.lpc_envelope import lpc_from_power

    power = np.random.default_rng(1).random((1, 120, 257)) ** 4
    whole = lpc_from_power(power, LPCConfig(), SR)
    for size in (1, 7, 33):
        parts = [lpc_from_power(power[:, i: i + size], LPCConfig(), SR) for i in range(0, 120, size)]
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
