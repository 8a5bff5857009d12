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

from export.autoencoder.runtime import Controls, OnnxAutoencoder
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
    """The stream gives the synth the offline analysis' frames (to the streaming graphs' rounding, 1e-6: tested
    for the autoencoder stream), and its output after the delay is the offline decode of those frames, sample for
    sample. (Not compared with a decode of the offline analysis itself: a 1e-6 difference in the guide moves the
    decoder's float past, and where that straddles a mu-law class boundary the two sampled paths part, at a point
    that depends on the CPU's rounding.)"""
    audio = phrase(0.6)
    received: list[tuple[np.ndarray, Controls]] = []
    live = LpcWaveNetSynth(ae)

    def recording(block: np.ndarray, z: np.ndarray, controls: Controls) -> np.ndarray:
        received.append((z.copy(), Controls(controls.f0.copy(), controls.periodicity.copy(),
                                            controls.loudness.copy())))
        return live(block, z, controls)

    s = AutoencoderStream(ae, synth=recording)
    got = in_blocks(s.process, audio, BLOCKS)
    d = s.delay_samples
    assert got.shape == audio.shape and d == ae.frame_hop - 1 and np.all(got[:d] == 0)
    z = np.concatenate([r[0] for r in received])
    controls = Controls(*(np.concatenate([getattr(r[1], k) for r in received])
                          for k in ("f0", "periodicity", "loudness")))
    z_offline, controls_offline = analysis(ae, audio)
    n = controls.frames
    np.testing.assert_allclose(z, z_offline[:n], atol=1e-4)
    np.testing.assert_allclose(controls.loudness, controls_offline.loudness[:n], atol=1e-3)
    offline = LpcWaveNetSynth(ae).decode(z, controls)
    np.testing.assert_array_equal(got[d: d + offline.shape[0]], offline[: audio.shape[0] - d])
    assert np.sqrt(np.mean(offline ** 2)) > 1e-3


def test_a_notes_samples_do_not_depend_on_the_other_notes_of_its_batch(ae: OnnxAutoencoder) -> None:
    frames = 30
    rng = np.random.default_rng(0)

    def batch(keys: list[str], z: np.ndarray, f0: list[float]) -> NoteBatch:
        return NoteBatch(keys, z.astype(np.float32), np.array([[f] * frames for f in f0], np.float32),
                         np.full((len(keys), frames), 0.9, np.float32), np.full((len(keys), frames), -25.0, np.float32))

    z = rng.standard_normal((3, ae.z_dim))
    notes = open_decoder("lpc", ae, 0.7, 0, 1, "auto")
    assert isinstance(notes, LpcNotes) and notes.model == "lpc_wavenet.lpc_step.onnx"
    first = notes.decode(batch(["a", "b"], z[:2], [220.0, 330.0]))
    second = notes.decode(batch(["c", "b"], z[[2, 1]], [147.0, 330.0]))
    assert first.shape == (2, frames * ae.frame_hop) and np.abs(first).max() > 1e-3
    np.testing.assert_array_equal(first[1], second[1])  # note b, beside another note, from its own stream
    assert not np.array_equal(first[0], second[0])
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
