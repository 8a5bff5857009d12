"""The WaveNet synth of a stream (the native kernel on the bundled ae_wavenet, ONNX Runtime for the analysis):
frames pushed in any grouping give one call's samples bit for bit, the stream fed awkward block sizes equals the
offline decode after its delay bit for bit, and bad models, temperatures and decoder choices are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from block_split import in_blocks
from synth_frames import BLOCKS, analysis, phrase, pushed_in_groups

from export.autoencoder.runtime import OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR
from export.wavenet.stream_synth import WaveNetSynth, WaveNetSynthConfig, check_decoder


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


def test_frames_in_any_grouping_give_one_calls_samples(ae: OnnxAutoencoder) -> None:
    audio = phrase()
    z, controls = analysis(ae, audio)
    hop, frames = ae.frame_hop, controls.frames
    one = WaveNetSynth(ae)(audio[: frames * hop], z, controls)
    assert one.shape == (frames * hop,) and one.dtype == np.float32
    synth = WaveNetSynth(ae)
    np.testing.assert_array_equal(pushed_in_groups(synth, audio, z, controls, hop), one)
    assert np.sqrt(np.mean(one[1600:9600] ** 2)) > 1e-2  # the first tone really sounds
    synth.reset()
    np.testing.assert_array_equal(synth.decode(z, controls), one)  # reset: a fresh synth's samples
    other = WaveNetSynth(ae, WaveNetSynthConfig(seed=1)).decode(z, controls)
    assert not np.array_equal(other, one)  # the seed chooses the sampling stream


def test_stream_in_awkward_blocks_equals_the_offline_decode_after_the_delay(ae: OnnxAutoencoder) -> None:
    audio = phrase()
    s = AutoencoderStream(ae, synth=WaveNetSynth(ae))
    got = in_blocks(s.process, audio, BLOCKS)
    z, controls = analysis(ae, audio)
    offline = WaveNetSynth(ae).decode(z, controls)
    d = s.delay_samples
    assert got.shape == audio.shape and d == ae.frame_hop - 1 and np.all(got[:d] == 0)
    np.testing.assert_array_equal(got[d:], offline[: audio.shape[0] - d])


def test_bad_models_temperatures_and_decoder_choices_are_one_line_errors(ae: OnnxAutoencoder, tmp_path: Path) -> None:
    corrupt = tmp_path / "ae_wavenet.wavenet_step.onnx"
    corrupt.write_bytes(b"\x08\x01 not a model")
    cases = [(lambda: WaveNetSynth(ae, graph=tmp_path / "missing.onnx"), "no such model file"),
             (lambda: WaveNetSynth(ae, graph=corrupt), "not a readable ONNX model"),
             (lambda: WaveNetSynth(ae, graph=BUNDLED_DIR / "ae_default.decoder.onnx"), "not a WaveNet step graph"),
             (lambda: WaveNetSynth(ae, graph=BUNDLED_DIR / "speech_wavenet.wavenet_step.onnx"),
              "not a note WaveNet of this autoencoder"),
             (lambda: WaveNetSynth(ae, WaveNetSynthConfig(temperature=-1.0)), "temperature must be >= 0"),
             (lambda: check_decoder("foo"), "decoder must be one of wavenet, harmonic, lpc, got 'foo'"),
             (lambda: check_decoder("wavenet", "poly"), "decoder wavenet plays one voice")]
    for make, message in cases:
        with pytest.raises(LatentbridgeError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    assert check_decoder("wavenet") == "wavenet" and check_decoder("harmonic", "poly") == "harmonic"
