"""The random peaking equaliser of the tracker's training crops: its gain where it peaks, unity far away,
deterministic per generator."""

from __future__ import annotations

import numpy as np
from scipy.signal import freqz

from models.training.random_eq import peaking_coefficients, random_eq


def test_a_peaking_filter_has_its_gain_at_its_centre_and_unity_far_from_it() -> None:
    b, a = peaking_coefficients(1000.0, 9.0, 1.0)
    _, response = freqz(b, a, worN=[20.0, 1000.0, 7900.0], fs=16000)
    gains = 20 * np.log10(np.abs(response))
    assert abs(gains[1] - 9.0) < 1e-6 and abs(gains[0]) < 0.1 and abs(gains[2]) < 0.3


def test_random_eq_changes_a_tone_s_level_by_at_most_its_bound_and_repeats_per_generator() -> None:
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * np.arange(16000) / 16000)).astype(np.float32)
    outs = [random_eq(tone, np.random.default_rng(seed), 6.0) for seed in (3, 3, 4)]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2]) and outs[0].dtype == np.float32
    for out in outs:  # two bands of at most +-6 dB each, steady state
        level = 20 * np.log10(np.sqrt(np.mean(out[4000:] ** 2)) / np.sqrt(np.mean(tone[4000:] ** 2)))
        assert abs(level) <= 12.0 + 1e-3
    assert any(abs(20 * np.log10(np.std(o[4000:]) / np.std(tone[4000:]))) > 0.5 for o in outs)
