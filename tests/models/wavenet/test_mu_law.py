"""8-bit mu-law: known values, the published formula, the 256-level table, error bound, numpy == torch."""

from __future__ import annotations

import numpy as np
import torch

from models.wavenet import mu_law

MU = 255


def formula_classes(x: np.ndarray) -> np.ndarray:
    """Reference written out here: F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu); round half up to 0..255."""
    f = np.sign(x) * np.log(1.0 + MU * np.abs(x)) / np.log(1.0 + MU)
    return np.floor((f + 1.0) / 2.0 * MU + 0.5).astype(np.int64)


def formula_level(c: np.ndarray) -> np.ndarray:
    y = 2.0 * c / MU - 1.0
    return np.sign(y) * ((1.0 + MU) ** np.abs(y) - 1.0) / MU


def test_known_values() -> None:
    x = np.array([-2.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 2.0])
    assert mu_law.encode_np(x).tolist() == [0, 0, 127, 128, 128, 255, 255]  # 0 is the 127|128 edge: half up
    assert mu_law.SILENCE_CLASS == 128
    levels = mu_law.decode_np(np.array([0, 127, 128, 255]))
    assert levels.dtype == np.float32
    assert levels[0] == -1.0 and levels[3] == 1.0
    assert -1e-4 < levels[1] < 0 < levels[2] < 1e-4  # 0 lies between levels 127 and 128
    np.testing.assert_allclose(levels[2], ((256.0 ** (1 / 255)) - 1) / 255, rtol=1e-6)


def test_encode_matches_formula() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-1, 1, 200_001), rng.uniform(-1, 1, 100_000),
                        np.clip(rng.normal(0, 0.01, 100_000), -1, 1)])
    scaled = (np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU) + 1) / 2 * MU + 0.5
    clear = np.abs(scaled - np.round(scaled)) > 1e-9  # drop values sitting on a class boundary
    assert clear.mean() > 0.999
    np.testing.assert_array_equal(mu_law.encode_np(x)[clear], formula_classes(x)[clear])


def test_level_table_and_round_trip() -> None:
    classes = np.arange(256)
    np.testing.assert_allclose(mu_law.decode_np(classes), formula_level(classes), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(mu_law.encode_np(mu_law.decode_np(classes)), classes)


def test_error_is_at_most_half_a_step() -> None:
    x = np.linspace(-1, 1, 400_001)
    err = np.abs(mu_law.compand(x) - mu_law.compand(mu_law.decode_np(mu_law.encode_np(x))))
    half_step = 1.0 / MU  # levels are 2/mu apart in the companded domain
    assert err.max() <= half_step * (1 + 1e-5)
    assert err.max() > 0.99 * half_step  # the bound is reached, so the quantiser is not finer than claimed


def test_encode_is_monotone_and_uses_every_class() -> None:
    x = np.linspace(-1, 1, 100_001)
    c = mu_law.encode_np(x)
    assert np.all(np.diff(c) >= 0)
    assert set(c.tolist()) == set(range(256))


def test_numpy_and_torch_are_identical() -> None:
    rng = np.random.default_rng(1)
    edges = mu_law.BOUNDARIES.astype(np.float32)
    below, above = np.nextafter(edges, np.float32(-2)), np.nextafter(edges, np.float32(2))
    x = np.concatenate([rng.uniform(-1.1, 1.1, 50_000).astype(np.float32), edges, below, above])
    x = x.reshape(-1, 5)
    c_np = mu_law.encode_np(x)
    c_t = mu_law.encode(torch.from_numpy(x))
    assert c_t.dtype == torch.int64 and c_t.shape == x.shape
    np.testing.assert_array_equal(c_t.numpy(), c_np)
    np.testing.assert_array_equal(mu_law.decode(c_t).numpy(), mu_law.decode_np(c_np))
    assert mu_law.decode(c_t).dtype == torch.float32
