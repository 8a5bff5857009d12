"""`decoder: wavenet` on the resynth/morph stages (the native kernel in the chain): the stage's delay is honoured
(render at 16 kHz equals the offline WaveNet sample for sample; at 48 kHz render equals the live chain after its
delay, whatever the blocks), the `morph-wavenet` preset, `--decoder` on morph and render, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from block_split import in_blocks

from export.app.cli import main
from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import read_audio, write_audio
from export.core.errors import LatentbridgeError
from export.wavenet.stream_synth import WaveNetSynth
from plugin_host.chain import PRIME_BLOCKS
from plugin_host.neural_stage import MorphStage
from plugin_host.presets import build_chain, load_chain, read_preset
from plugin_host.render import RenderSettings, render_audio

WAVENET_RESYNTH = {"name": "w", "stages": [{"name": "g", "kind": "gain"},
                                           {"name": "r", "kind": "resynth", "decoder": "wavenet"}]}


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * sum(np.sin(2 * np.pi * k * 220.0 * t) / k for k in range(1, 5)) * np.exp(-t / 0.5)
    return np.stack([mono * (1.0 - 0.3 * c) for c in range(channels)]).astype(np.float32)


def test_render_at_16k_equals_the_offline_wavenet_after_the_reported_delay() -> None:
    """Render crops the chain's reported delay; what remains is the offline analysis and one WaveNet call on the
    same input (primed silence included), sample for sample: the delay is exactly the one reported (one sample
    off and the sampled waveforms would not match at all)."""
    rate = 16000
    audio = np.pad(tone(0.6, rate), ((0, 0), (rate // 10, rate // 10)))
    settings = RenderSettings()
    out = render_audio(WAVENET_RESYNTH, audio, rate, settings)[0]
    assert out.shape == audio[0].shape
    assert build_chain(WAVENET_RESYNTH, rate).delay_samples == OnnxAutoencoder.open().frame_hop - 1
    lead = PRIME_BLOCKS * settings.blocksize
    ae = OnnxAutoencoder.open()
    x = np.concatenate([np.zeros(lead, np.float32), audio[0]])
    controls = ae.controls(x)
    reference = WaveNetSynth(ae).decode(ae.align(ae.encode(x), controls.frames), controls)[lead:]
    n = reference.shape[0]
    assert n > 0.9 * out.shape[0]
    # the same classes (one mu-law step is 1.7e-4 or more); the chain's float32 wet mix rounds within 1e-8
    np.testing.assert_allclose(out[:n], reference, atol=1e-6, rtol=0)
    assert np.sqrt(np.mean(reference ** 2)) > 1e-2  # it really sounds


def test_render_equals_the_live_chain_after_its_delay_whatever_the_blocks() -> None:
    rate = 48000
    audio = tone(0.5, rate)[0]
    stage = MorphStage("m", rate, "reed", decoder="wavenet")
    live = in_blocks(stage.process, audio, (1, 127, 128, 129, 1000, 4096))
    even = in_blocks(MorphStage("m", rate, "reed", decoder="wavenet").process, audio, (256,))
    np.testing.assert_array_equal(live, even)
    chain = load_chain("morph-wavenet", rate)
    chain.prime(256)
    played = in_blocks(chain.process, audio, (256,))  # the preset's reverb depends on the block split
    rendered = render_audio(read_preset("morph-wavenet"), audio[None], rate, RenderSettings(256))[0]
    d = chain.delay_samples
    assert d == load_chain("morph-reed", rate).delay_samples  # the decoder adds no delay
    np.testing.assert_array_equal(rendered[: audio.shape[0] - d], played[d:])
    assert np.abs(rendered).max() > 0.01


def test_the_lpc_preset_renders_as_it_plays() -> None:
    rate = 48000
    audio = tone(0.4, rate)[0]
    chain = load_chain("morph-lpc", rate)
    assert chain.stage("morph").describe()["decoder"] == "lpc"
    chain.prime(256)
    played = in_blocks(chain.process, audio, (256,))
    rendered = render_audio(read_preset("morph-lpc"), audio[None], rate, RenderSettings(256))[0]
    d = chain.delay_samples
    assert d == load_chain("morph-reed", rate).delay_samples  # the decoder adds no delay
    np.testing.assert_array_equal(rendered[: audio.shape[0] - d], played[d:])
    assert np.abs(rendered).max() > 1e-3


def test_the_preset_and_the_stage_describe_their_decoder() -> None:
    stage = load_chain("morph-wavenet", 48000).stage("morph")
    assert isinstance(stage, MorphStage) and stage.describe()["decoder"] == "wavenet"
    assert read_preset("morph-wavenet")["stages"][1]["decoder"] == "wavenet"
    assert load_chain("morph-reed", 48000).stage("morph").describe()["decoder"] == "harmonic"  # the default
    stage.command("voices", "mono")
    with pytest.raises(LatentbridgeError, match="decoder wavenet plays one voice") as info:
        stage.prepare_command("voices", "poly")
    assert "\n" not in str(info.value) and stage.poly.mode == "mono"


@pytest.mark.parametrize(("decoder", "graph"), [("wavenet", "ae_wavenet.wavenet_step.onnx"),
                                                ("lpc", "lpc_wavenet.lpc_step.onnx")])
def test_morph_and_render_take_a_decoder(tmp_path: Path, decoder: str, graph: str) -> None:
    rate = 44100
    source = tmp_path / "in.wav"
    write_audio(source, tone(0.4, rate, channels=2), rate, "wav24")
    out = tmp_path / "out.wav"
    assert main(["morph", str(source), "--target", "reed", "--amount", "0.5", "--out", str(out),
                 "--decoder", decoder]) == 0
    got, got_rate = read_audio(out)
    assert got_rate == rate and got.shape == (2, int(0.4 * rate)) and np.abs(got).max() > 1e-3
    assert main(["render", str(source), "--preset", "resynth", "--out", str(tmp_path / "r"), "--decoder",
                 decoder]) == 0
    sidecar = json.loads((tmp_path / "r" / "in.json").read_text())
    assert sidecar["frames"] == got.shape[1] and sidecar["channels"] == 2
    assert [s.get("decoder") for s in sidecar["preset"]["stages"] if s["kind"] == "resynth"] == [decoder]
    assert any(name.endswith(graph) for name in sidecar["models"])


def test_bad_decoder_choices_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.wav"
    write_audio(source, tone(0.2, 48000), 48000, "wav16")
    out = tmp_path / "out.wav"
    for argv in (["morph", str(source), "--target", "reed", "--amount", "0", "--out", str(out)],
                 ["render", str(source), "--preset", "morph-reed", "--out", str(tmp_path / "r")]):
        assert main([*argv, "--decoder", "wavenet", "--voices", "poly"]) == 2
        err = capsys.readouterr().err.strip()
        assert "decoder wavenet plays one voice" in err and "\n" not in err
        with pytest.raises(SystemExit):  # argparse refuses an unknown decoder with its usage line
            main([*argv, "--decoder", "foo"])
        assert "invalid choice: 'foo'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "r" / "in.wav").exists()
    path = tmp_path / "p.yaml"
    path.write_text("stages:\n  - {name: m, kind: morph, target: reed, decoder: foo}\n")
    with pytest.raises(LatentbridgeError, match="stages/0/decoder"):
        read_preset(path)
    path.write_text("stages:\n  - {name: m, kind: morph, target: reed, decoder: wavenet, voices: poly}\n")
    with pytest.raises(LatentbridgeError, match="stage 'm': decoder wavenet plays one voice") as info:
        build_chain(read_preset(path), 48000)
    assert "\n" not in str(info.value)
