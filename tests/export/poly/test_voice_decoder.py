"""The batched voice decoder on the bundled autoencoder: blocks == one call, slot 0 == the monophonic decoder,
gains ramped within frames."""

from __future__ import annotations

import numpy as np
import pytest

from export.autoencoder.runtime import Controls, DecoderStream, OnnxAutoencoder
from export.core.audio_io import read_mono
from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR
from export.poly.voice_decoder import VoiceDecoder


@pytest.fixture(scope="module")
def note() -> tuple[OnnxAutoencoder, np.ndarray, Controls]:
    ae = OnnxAutoencoder.open()
    audio = read_mono(BUNDLED_DIR / "demo_reed_note.wav")[:16000]
    controls = ae.controls(audio)
    return ae, ae.align(ae.encode(audio), controls.frames), controls


def per_voice(controls: Controls, n: int) -> list[np.ndarray]:
    return [np.repeat(a[:, None], n, axis=1) for a in (controls.f0, controls.periodicity, controls.loudness)]


def test_slot_zero_alone_is_the_monophonic_decoder_bit_for_bit(note) -> None:
    ae, z, controls = note
    mono = DecoderStream(ae.graphs["decoder"]).push(z, controls)
    voices = VoiceDecoder(ae, 6, start_gain=np.eye(1, 6)[0])
    out = voices.push_first(z, controls.f0, controls.periodicity, controls.loudness)
    np.testing.assert_array_equal(out, mono)


def test_batched_voices_with_only_slot_zero_sounding_equal_the_monophonic_decoder(note) -> None:
    ae, z, controls = note
    mono = DecoderStream(ae.graphs["decoder"]).push(z, controls)
    gain = np.zeros((controls.frames, 6), np.float32)
    gain[:, 0] = 1
    out = VoiceDecoder(ae, 6, start_gain=np.eye(1, 6)[0]).push(z, *per_voice(controls, 6), gain)
    assert np.abs(out - mono).max() < 1e-5


def test_blocks_equal_one_call_and_gains_ramp_within_frames(note) -> None:
    ae, z, controls = note
    n, k = 3, controls.frames
    f0, per, loud = per_voice(controls, n)
    f0 = f0 * np.array([1.0, 1.5, 2.0], np.float32)
    ones = np.ones((k, n), np.float32)
    gain = np.zeros((k, n), np.float32)
    gain[10:, 0], gain[30:60, 1], gain[50:, 2] = 1.0, 0.5, 1.0
    whole = VoiceDecoder(ae, n).push(z, f0, per, loud, gain)
    blocks = VoiceDecoder(ae, n)
    parts, start = [], 0
    for size in (1, 3, 7, 2, 29, 500):
        stop = min(k, start + size)
        parts.append(blocks.push(z[start:stop], f0[start:stop], per[start:stop], loud[start:stop],
                                 gain[start:stop]))
        start = stop
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=2e-6)
    each = [VoiceDecoder(ae, n).push(z, f0, per, loud, ones * np.eye(n)[v]) for v in range(n)]
    # gains do not touch the decoder state: the sum equals each voice at gain 1 times the ramped gain
    hop = ae.frame_hop
    ramp = np.concatenate([np.zeros((1, n)), gain])  # the gain each frame starts from, then ends with
    envelope = np.concatenate([ramp[i][None] + (ramp[i + 1] - ramp[i])[None] * (np.arange(1, hop + 1) / hop)[:, None]
                               for i in range(k)])
    expected = sum(each[v] * envelope[:, v] for v in range(n))
    np.testing.assert_allclose(whole, expected, atol=2e-6)
    assert np.abs(whole[: 10 * hop]).max() == 0.0  # every gain 0 for the first 10 frames: silence


def test_bad_shapes_and_voice_counts_are_one_line_errors(note) -> None:
    ae, z, controls = note
    with pytest.raises(LatentbridgeError, match="between 1 and 16"):
        VoiceDecoder(ae, 17)
    with pytest.raises(LatentbridgeError, match=r"f0 must be \[5, 2\]"):
        VoiceDecoder(ae, 2).push(z[:5], np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)))
