"""PolySynth in the stream and offline: block-size free, streaming == offline after the delay, mode switches
without a click, mono mode == the monophonic stream bit for bit (a tiny random tracker: what is checked here
holds for any tracker; the bundled one's musical behaviour is checked in test_poly_voices_bundled.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from poly_phrases import export_tiny_tracker, tone

from export.autoencoder.runtime import Controls, OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.core.errors import LatentbridgeError
from export.poly.offline import decode_voices
from export.poly.poly_synth import PolyConfig, PolySynth
from export.poly.tracker import PolyTracker

BLOCKS = (1, 127, 128, 129, 1000, 37, 4096)


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> PolyTracker:
    return PolyTracker.open(export_tiny_tracker(Path(tmp_path_factory.mktemp("tracker"))))


@pytest.fixture(scope="module")
def low(tracker: PolyTracker) -> PolyConfig:
    """Thresholds at the random tracker's own top activations, so its voices come and go."""
    activations, _ = tracker.activations(chord())
    return PolyConfig(voices=4, on=float(np.percentile(activations, 99)), off=float(np.percentile(activations, 97)))


def chord() -> np.ndarray:
    """A C major triad arriving note by note, then C4 alone: 1.5 s at 16 kHz."""
    audio = np.zeros(24000, np.float32)
    for midi, start in ((48, 0), (52, 2000), (55, 4000), (60, 12000)):
        audio[start: start + 11000] += tone(midi, 11000 / 16000)
    return audio


def stream(ae: OnnxAutoencoder, synth: PolySynth | None, audio: np.ndarray, blocks: tuple[int, ...],
           prefetch: bool = True) -> np.ndarray:
    """The stream as the chain wires it: the voices' analysis prefetched beside the encoder (unless told not)."""
    s = AutoencoderStream(ae, synth=None if synth is None else synth.push,
                          prefetch=synth.prefetch if synth is not None and prefetch else None)
    out, start, i = [], 0, 0
    while start < audio.shape[0]:
        n = blocks[i % len(blocks)]
        out.append(s.process(audio[start: start + n]))
        start, i = start + n, i + 1
    return np.concatenate(out)


def test_streamed_voices_do_not_depend_on_the_block_sizes(ae, tracker, low) -> None:
    audio = chord()
    one = stream(ae, PolySynth(ae, "poly", low, tracker), audio, (audio.shape[0],))
    awkward = stream(ae, PolySynth(ae, "poly", low, tracker), audio, BLOCKS)
    np.testing.assert_allclose(awkward, one, atol=2e-6, rtol=0)
    assert np.abs(one).max() > 0.01


def test_the_prefetched_analysis_gives_the_same_audio_bit_for_bit(ae, tracker, low) -> None:
    """The voices' analysis on their own thread beside the encoder sees the same audio in the same order."""
    audio = chord()
    prefetched = stream(ae, PolySynth(ae, "poly", low, tracker), audio, BLOCKS)
    serial = stream(ae, PolySynth(ae, "poly", low, tracker), audio, BLOCKS, prefetch=False)
    assert np.array_equal(prefetched, serial) and np.abs(serial).max() > 0.01


def test_a_push_of_other_audio_than_the_prefetch_is_refused(ae, tracker, low) -> None:
    synth = PolySynth(ae, "poly", low, tracker)
    audio = chord()[:1280]
    controls = ae.controls(audio)
    z = np.zeros((controls.frames, ae.z_dim), np.float32)
    synth.prefetch(audio)
    assert synth.prefetched is not None
    job = synth.prefetched[1]
    with pytest.raises(LatentbridgeError, match="other audio than the prefetch"):
        synth.push(audio.copy(), z, controls)
    job.result()  # the module's tracker is shared: its run must be over before the next test counts runs


def test_a_push_runs_the_tracker_once_over_all_its_frames(ae, tracker, low, monkeypatch) -> None:
    """The tracker streams (blocks of any size equal one call), so each push gives it all its k frames in one
    run rather than k runs of one frame."""
    runs, pushed = [], []
    graph_run = tracker.graph.run
    synth = PolySynth(ae, "poly", low, tracker)

    def counted_run(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        runs.append(inputs["audio"].shape[1] // 128)
        return graph_run(**inputs)

    def counted_push(audio: np.ndarray, z: np.ndarray, controls: Controls) -> np.ndarray:
        pushed.append(controls.frames)
        return synth.push(audio, z, controls)

    monkeypatch.setattr(tracker.graph, "run", counted_run)
    s = AutoencoderStream(ae, synth=counted_push)
    audio = chord()
    for start in range(0, audio.shape[0], 1000):
        s.process(audio[start: start + 1000])
    assert runs == pushed and max(pushed) > 1


def test_the_random_tracker_starts_and_ends_voices(ae, tracker, low) -> None:
    """Else the tests above would only see slot 0 on the monophonic controls."""
    synth = PolySynth(ae, "poly", low, tracker)
    s = AutoencoderStream(ae, synth=synth.push)
    counts = []
    for start in range(0, 24000, 512):
        s.process(chord()[start: start + 512])
        counts.append(synth.sounding)
    assert max(counts) >= 2 and len(set(counts)) >= 2


def test_streamed_voices_equal_offline_after_the_delay(ae, tracker, low) -> None:
    audio = chord()
    got = stream(ae, PolySynth(ae, "poly", low, tracker), audio, BLOCKS)
    controls = ae.controls(audio)
    z = ae.align(ae.encode(audio), controls.frames)
    offline = decode_voices(ae, audio, z, controls, config=low, tracker=tracker)
    d, n = 127, offline.shape[0] - 127
    np.testing.assert_allclose(got[d: d + n], offline[:n], atol=1e-4, rtol=0)


def test_mono_mode_is_the_monophonic_stream_bit_for_bit(ae, tracker) -> None:
    audio = chord()
    plain = stream(ae, PolySynth(ae, "mono", PolyConfig(voices=1), tracker), audio, BLOCKS)
    np.testing.assert_array_equal(plain, stream(ae, None, audio, BLOCKS))


def test_switching_modes_mid_note_does_not_click(ae, tracker, low) -> None:
    audio = chord()
    synth = PolySynth(ae, "mono", low, tracker)
    s = AutoencoderStream(ae, synth=synth.push)
    out = []
    for i, start in enumerate(range(0, audio.shape[0], 256)):
        if i in (30, 60):
            synth.set_mode("poly" if i == 30 else "mono")
        out.append(s.process(audio[start: start + 256]))
    got = np.concatenate(out)
    step = np.abs(np.diff(got))
    near = np.zeros(step.shape[0], bool)
    near[30 * 256 - 200: 30 * 256 + 600] = near[60 * 256 - 200: 60 * 256 + 800] = True
    assert step[near].max() <= 1.5 * step[~near].max()  # no step at a switch far beyond what the voices make
    assert synth.mode == "mono" and synth.sounding == 1  # back on slot 0 alone once the others faded
