"""The LPC WaveNet decoder at run time (ONNX Runtime harmonic decoder + numpy LPC + native kernel, the bundled
lpc_wavenet): its guide equals the torch training guide, frames in any grouping give one call's samples bit for bit,
a stream in awkward blocks follows the offline decode's sampled path after its delay, a note's samples do not depend
on its batch, and bad models or settings are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from block_split import in_blocks
from synth_frames import BLOCKS, analysis, phrase, pushed_in_groups

from export.autoencoder.runtime import OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.core.errors import LatentbridgeError
from export.onnx.bundled import BUNDLED_DIR
from export.wavenet.lpc_synth import LpcNotes, LpcSynthConfig, LpcWaveNetSynth
from export.wavenet.note_decoders import NoteBatch, open_decoder
from export.wavenet.stream_synth import WaveNetSynth, check_decoder


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


def test_the_run_time_guide_equals_the_training_guide(ae: OnnxAutoencoder) -> None:
    """The same frames through torch (`harmonic_guide`, `excitation_rms`: what the decoder trained and was judged
    with) and through the run time, in uneven calls: the pre-emphasised harmonic output, the LPC coefficients and
    the excitation limit agree to float32 rounding."""
    from models.training.checkpoint import load_model
    from models.wavenet.lpc_decoder import excitation_rms, harmonic_guide

    ae_t, _ = load_model(BUNDLED_DIR / "ae_default.pt")
    lpc, _ = load_model(BUNDLED_DIR / "lpc_wavenet.pt")
    audio = torch.from_numpy(phrase(1.0))[None]
    f0, periodicity, loudness = ae_t.compute_controls(audio)
    guide = harmonic_guide(ae_t, lpc.cfg, audio, f0, periodicity, loudness)
    with torch.no_grad():
        z = ae_t.align_z(ae_t.encode(audio)[0], f0.shape[1]).numpy()
    synth = LpcWaveNetSynth(ae)
    parts: list[tuple[np.ndarray, ...]] = []
    for first, last in ((0, 1), (1, 40), (40, 41), (41, f0.shape[1])):
        parts.append(synth.guide(z[:, first:last], f0[:, first:last].numpy(), periodicity[:, first:last].numpy(),
                                 loudness[:, first:last].numpy()))
    h_s, coefficients, limit = (np.concatenate(p, axis=1) for p in zip(*parts, strict=True))
    np.testing.assert_allclose(h_s, guide.harmonic.numpy(), atol=1e-5)
    np.testing.assert_allclose(coefficients, guide.lpc.numpy(), atol=1e-5)
    np.testing.assert_allclose(limit, (4.0 * excitation_rms(lpc.cfg, guide) + 1e-4).numpy(), atol=1e-5)
    assert np.abs(h_s).max() > 0.1 and np.abs(coefficients[..., 1:]).max() > 0.5  # a real signal, real filters


def test_frames_in_any_grouping_give_one_calls_samples(ae: OnnxAutoencoder) -> None:
    audio = phrase()
    z, controls = analysis(ae, audio)
    hop, frames = ae.frame_hop, controls.frames
    one = LpcWaveNetSynth(ae)(audio[: frames * hop], z, controls)
    assert one.shape == (frames * hop,) and one.dtype == np.float32 and np.isfinite(one).all()
    synth = LpcWaveNetSynth(ae)
    np.testing.assert_array_equal(pushed_in_groups(synth, audio, z, controls, hop), one)
    assert np.sqrt(np.mean(one[1600:6400] ** 2)) > 1e-3  # the first tone sounds
    synth.reset()
    np.testing.assert_array_equal(synth.decode(z, controls), one)  # reset: a fresh synth's samples
    assert not np.array_equal(LpcWaveNetSynth(ae, LpcSynthConfig(seed=1)).decode(z, controls), one)


def test_stream_in_awkward_blocks_equals_the_offline_decode_after_the_delay(ae: OnnxAutoencoder) -> None:
    audio = phrase(0.6)
    s = AutoencoderStream(ae, synth=LpcWaveNetSynth(ae))
    got = in_blocks(s.process, audio, BLOCKS)
    z, controls = analysis(ae, audio)
    offline = LpcWaveNetSynth(ae).decode(z, controls)
    d = s.delay_samples
    assert got.shape == audio.shape and d == ae.frame_hop - 1 and np.all(got[:d] == 0)
    # the streaming encoder and trackers round differently from the offline ones, and the harmonic guide carries
    # that into the audio (1e-6), but the sampled path is the same: a different excitation class moves a sample by
    # at least one mu-law step (1.7e-4)
    np.testing.assert_allclose(got[d:], offline[: audio.shape[0] - d], atol=1e-5, rtol=0)
    assert np.sqrt(np.mean(offline ** 2)) > 1e-3


def test_a_notes_samples_do_not_depend_on_its_batch(ae: OnnxAutoencoder) -> None:
    frames = 30
    rng = np.random.default_rng(0)
    batch = NoteBatch(["a", "b"], rng.standard_normal((2, ae.z_dim)).astype(np.float32),
                      np.array([[220.0] * frames, [330.0] * frames], np.float32),
                      np.full((2, frames), 0.9, np.float32), np.full((2, frames), -25.0, np.float32))
    notes = open_decoder("lpc", ae, 0.7, 0, 1, "auto")
    assert isinstance(notes, LpcNotes) and notes.model == "lpc_wavenet.lpc_step.onnx"
    both = notes.decode(batch)
    alone = notes.decode(NoteBatch(["b"], batch.z[1:], batch.f0[1:], batch.periodicity[1:], batch.loudness[1:]))
    assert both.shape == (2, frames * ae.frame_hop) and np.abs(both).max() > 1e-3
    # ONNX Runtime's batched harmonic decoder rounds differently (1e-8); the sampled path is the same
    np.testing.assert_allclose(both[1], alone[0], atol=1e-6, rtol=0)
    assert notes.midi_range[0] <= 45 and notes.midi_range[1] >= 84


def test_bad_models_and_settings_are_one_line_errors(ae: OnnxAutoencoder, tmp_path: Path) -> None:
    corrupt = tmp_path / "lpc.lpc_step.onnx"
    corrupt.write_bytes(b"\x08\x01 not a model")
    lpc_graph = BUNDLED_DIR / "lpc_wavenet.lpc_step.onnx"
    cases = [(lambda: LpcWaveNetSynth(ae, graph=tmp_path / "missing.onnx"), "no such model file"),
             (lambda: LpcWaveNetSynth(ae, graph=corrupt), "not a readable ONNX model"),
             (lambda: LpcWaveNetSynth(ae, graph=BUNDLED_DIR / "ae_default.decoder.onnx"),
              "not a WaveNet step graph"),
             (lambda: LpcWaveNetSynth(ae, graph=BUNDLED_DIR / "ae_wavenet.wavenet_step.onnx"),
              "not an LPC WaveNet \\(use decoder wavenet\\)"),
             (lambda: WaveNetSynth(ae, graph=lpc_graph), "an LPC WaveNet \\(use decoder lpc\\)"),
             (lambda: LpcSynthConfig(temperature=-1.0), "temperature must be >= 0"),
             (lambda: LpcSynthConfig(bound=float("nan")), "bound must be >= 0"),
             (lambda: open_decoder("lpc", ae, 0.7, 0, 1, "cuda"), "runs on the native kernel"),
             (lambda: check_decoder("lpc", "poly"), "decoder lpc plays one voice")]
    for make, message in cases:
        with pytest.raises(LatentbridgeError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    assert check_decoder("lpc") == "lpc"
