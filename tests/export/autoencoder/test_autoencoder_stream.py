"""Block streaming of the exported autoencoder equals the offline chain after the reported delay, for awkward
block sizes, with and without a latent map (the live morph)."""

from __future__ import annotations

import numpy as np
import pytest
from block_split import in_blocks

from export.autoencoder.latent_bank import LatentBank
from export.autoencoder.morphing import Target, morph_mono
from export.autoencoder.runtime import OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR

BLOCKS = (100, 37, 256, 1, 513, 128, 4000, 77)


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


def phrase(seconds: float = 2.3) -> np.ndarray:
    """Two plucked tones and a rest: onsets, a pitch change and silence."""
    t = np.arange(int(seconds * 16000)) / 16000
    out = np.zeros_like(t)
    for start, f0 in ((0.1, 196.0), (0.9, 293.7)):
        on = t >= start
        tone = sum(np.sin(2 * np.pi * k * f0 * (t - start)) / k for k in range(1, 6))
        out += np.where(on, 0.3 * tone * np.exp(-(t - start) / 0.4), 0.0)
    return out.astype(np.float32)


def stream(s: AutoencoderStream, audio: np.ndarray) -> np.ndarray:
    return in_blocks(s.process, audio, BLOCKS)


def test_stream_equals_offline_after_the_delay(ae: OnnxAutoencoder) -> None:
    audio = phrase()
    s = AutoencoderStream(ae)
    got = stream(s, audio)
    assert got.shape == audio.shape and s.delay_samples == ae.frame_hop - 1
    controls = ae.controls(audio)
    offline = ae.decode(ae.align(ae.encode(audio), controls.frames), controls)
    d = s.delay_samples
    assert np.all(got[:d] == 0)
    n = min(offline.shape[0], got.shape[0] - d)
    np.testing.assert_allclose(got[d: d + n], offline[:n], atol=1e-4, rtol=0)
    assert np.sqrt(np.mean(offline ** 2)) > 1e-2  # it really sounds


def test_streamed_morph_equals_offline_morph(ae: OnnxAutoencoder) -> None:
    audio = phrase()
    goal = LatentBank.load(BUNDLED_DIR / "ae_default.bank.npz").lookup("reed", 60.0)
    amount = 0.7
    s = AutoencoderStream(ae, latent_map=lambda z, controls: (1 - amount) * z + amount * goal[None])
    got = stream(s, audio)
    offline = morph_mono(ae, audio, Target(latent=goal), amount, None)
    d = s.delay_samples
    np.testing.assert_allclose(got[d:], offline[: audio.shape[0] - d], atol=1e-4, rtol=0)


def test_stream_rejects_multichannel_blocks(ae: OnnxAutoencoder) -> None:
    with pytest.raises(LatentbridgeError, match="mono audio"):
        AutoencoderStream(ae).process(np.zeros((2, 128), np.float32))


def test_streaming_trackers_equal_the_offline_trackers(ae: OnnxAutoencoder) -> None:
    from export.autoencoder.runtime import ControlsStream

    audio = phrase(1.7)[: 13 * 128 * 8]
    offline = ae.controls(audio)
    tracker = ControlsStream(ae.graphs["controls_stream"], ae.frame_hop)
    parts = [tracker.push(audio[i: i + 13 * 128]) for i in range(0, audio.shape[0], 13 * 128)]
    f0 = np.concatenate([p.f0 for p in parts])
    np.testing.assert_allclose(f0, offline.f0, rtol=1e-3)
    np.testing.assert_allclose(np.concatenate([p.periodicity for p in parts]), offline.periodicity, atol=1e-3)
    np.testing.assert_allclose(np.concatenate([p.loudness for p in parts]), offline.loudness, atol=1e-3)
    assert (offline.periodicity > 0.9).mean() > 0.3  # voiced frames and held ones are both exercised
    with pytest.raises(LatentbridgeError, match="multiples of 128"):
        tracker.push(audio[:100])
