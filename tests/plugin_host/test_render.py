"""`latentbridge render`: rate, channels and exact length kept, delay compensated, sidecar, automation, mid/side,
parallel workers bit-identical to one, bad inputs refused in one line, inputs never touched."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from export.app.cli import main
from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import read_audio, write_audio
from plugin_host.chain import PRIME_BLOCKS
from plugin_host.control_change import ControlChange
from plugin_host.presets import read_preset
from plugin_host.render import RenderSettings, render_audio


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * sum(np.sin(2 * np.pi * k * 220.0 * t) / k for k in range(1, 5)) * np.exp(-t / 0.8)
    return np.stack([mono * (0.5 + 0.5 * c) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 2, 1.3), (22050, 1, 0.7), (96000, 1, 0.4)])
def test_render_keeps_rate_channels_and_exact_length(tmp_path: Path, rate: int, channels: int,
                                                     seconds: float) -> None:
    stem = tmp_path / "in" / "stem.wav"
    stem.parent.mkdir()
    write_audio(stem, tone(seconds, rate, channels), rate, "wav24")
    before = stem.read_bytes()
    out = tmp_path / "out"
    assert main(["render", str(stem), "--preset", "morph-reed", "--out", str(out)]) == 0
    got, got_rate = read_audio(out / "stem.wav")
    assert got_rate == rate and got.shape == (channels, int(seconds * rate))
    assert np.sqrt(np.mean(got ** 2)) > 1e-3
    assert stem.read_bytes() == before
    sidecar = json.loads((out / "stem.json").read_text())
    assert sidecar["preset"]["name"] == "morph-reed" and sidecar["frames"] == got.shape[1]
    assert any(name.endswith("ae_default.decoder.onnx") for name in sidecar["models"])
    assert not list(out.glob(".*"))  # written atomically, nothing left behind
    assert main(["render", str(stem), "--preset", "morph-reed", "--out", str(out)]) == 2  # no --force


def test_render_compensates_the_chain_delay() -> None:
    rate = 48000
    audio = np.zeros((1, rate // 2), np.float32)
    audio[0, 10000] = 0.5
    out = render_audio({"name": "bypassed", "stages": [{"name": "r", "kind": "resynth", "bypass": True}]},
                       audio, rate, RenderSettings())
    np.testing.assert_array_equal(out, audio)  # bypassed neural stage: its delay is removed exactly


def offline_resynth(audio: np.ndarray, rate: int) -> np.ndarray:
    """The bundled autoencoder run offline (whole-signal graphs: no stream, so no delay) on mono `audio` at
    `rate`, through scipy's polyphase resampling (not pedalboard's); as many samples as it decodes."""
    ae = OnnxAutoencoder.open()
    g = math.gcd(rate, ae.sample_rate)
    x = resample_poly(audio, ae.sample_rate // g, rate // g).astype(np.float32)
    controls = ae.controls(x)
    y = ae.decode(ae.align(ae.encode(x), controls.frames), controls)
    return resample_poly(y, rate // g, ae.sample_rate // g).astype(np.float32)


def best_lag(out: np.ndarray, ref: np.ndarray, reach: int) -> tuple[int, float]:
    """The lag in [-reach, reach] at which `out` best matches `ref` shifted (normalised cross-correlation)."""
    n = min(out.shape[0], ref.shape[0])
    scores = {}
    for lag in range(-reach, reach + 1):
        a, b = (out[lag:n], ref[: n - lag]) if lag >= 0 else (out[: n + lag], ref[-lag:n])
        scores[lag] = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b) + 1e-30))
    lag = max(scores, key=scores.__getitem__)
    return lag, scores[lag]


@pytest.mark.parametrize("rate", [16000, 48000])
def test_render_compensates_the_delay_of_a_live_neural_stage(rate: int) -> None:
    """The rendered stem lines up with an offline reference of its neural stage: the whole-signal autoencoder
    (no stream, no delay) on the same input, primed silence included. At 16 kHz (no resampling) sample for
    sample; at 48 kHz the cross-correlation peaks at lag 0 within one sample (the neural stage runs on the 16-kHz
    grid: the resamplers' decimation phase leaves up to half a 16-kHz sample)."""
    audio = np.pad(tone(0.8, rate), ((0, 0), (rate // 10, rate // 10)))  # a tone with an onset and a release
    preset = {"name": "g", "stages": [{"name": "g", "kind": "gain"}, {"name": "r", "kind": "resynth"}]}
    settings = RenderSettings()
    out = render_audio(preset, audio, rate, settings)[0]
    assert out.shape == audio[0].shape
    lead = PRIME_BLOCKS * settings.blocksize  # the silence the chain is primed with before the stem
    reference = offline_resynth(np.concatenate([np.zeros(lead, np.float32), audio[0]]), rate)[lead:]
    lag, corr = best_lag(out, reference, rate // 100)
    assert corr > 0.95 and abs(lag) <= (0 if rate == 16000 else 1), (lag, corr)
    if rate == 16000:
        n = reference.shape[0]
        assert n > 0.9 * out.shape[0]
        np.testing.assert_allclose(out[:n], reference, atol=1e-4, rtol=0)
    assert np.sqrt(np.mean(reference ** 2)) > 1e-2  # it really sounds


def test_identical_settings_give_bit_identical_output_and_workers_change_nothing(tmp_path: Path) -> None:
    stems = tmp_path / "stems"
    stems.mkdir()
    for i in range(3):
        write_audio(stems / f"s{i}.flac", tone(0.6 + 0.1 * i, 44100, 2) * (0.5 + 0.2 * i), 44100, "flac")
    assert main(["render", str(stems), "--preset", "morph-reed", "--out", str(tmp_path / "one"),
                 "--workers", "1", "--format", "wav32f"]) == 0
    assert main(["render", str(stems), "--preset", "morph-reed", "--out", str(tmp_path / "two"),
                 "--workers", "2", "--format", "wav32f"]) == 0
    for i in range(3):
        a, _ = read_audio(tmp_path / "one" / f"s{i}.wav")
        b, _ = read_audio(tmp_path / "two" / f"s{i}.wav")
        np.testing.assert_array_equal(a, b)


def test_mid_side_equals_independent_for_a_linear_chain() -> None:
    preset = {"name": "g", "stages": [{"name": "g", "kind": "gain", "parameters": {"gain_db": -6}}]}
    audio = tone(0.3, 44100, 2)
    independent = render_audio(preset, audio, 44100, RenderSettings())
    ms = render_audio(preset, audio, 44100, RenderSettings(stereo="ms"))
    np.testing.assert_allclose(ms, independent, atol=1e-6)
    with pytest.raises(Exception, match="2-channel"):
        render_audio(preset, audio[:1], 44100, RenderSettings(stereo="ms"))


@pytest.mark.parametrize("stereo", ["independent", "ms"])
def test_progress_counts_every_input_sample_once(stereo: str) -> None:
    """The progress bar's total is channels x frames: a copied channel counts, the flushed delay tail does not."""
    audio = tone(0.37, 44100, 2)
    three = np.concatenate([audio, audio[:1]])  # the third channel repeats the first: rendered once, copied
    done: list[int] = []
    for stem in ([audio] if stereo == "ms" else [audio, three]):
        done.clear()
        render_audio(read_preset("morph-reed"), stem, 44100, RenderSettings(stereo=stereo), done.append)
        assert sum(done) == stem.size and min(done) >= 0


def test_automation_breakpoints_apply_at_their_sample() -> None:
    preset = {"name": "g", "stages": [{"name": "out", "kind": "gain"}]}
    rate = 48000
    audio = np.ones((1, rate), np.float32) * 0.5
    out = render_audio(preset, audio, rate, RenderSettings(automation=[ControlChange(0.5003, "out", "gain_db", -60.0)]))
    at = round(0.5003 * rate)
    np.testing.assert_array_equal(out[0, :at], audio[0, :at])  # untouched up to the breakpoint's sample
    assert out[0, at] < 0.5 and out[0, -1] < 0.5 * 10 ** (-59 / 20)


def test_automation_files_and_their_errors(tmp_path: Path) -> None:
    stem = tmp_path / "s.wav"
    write_audio(stem, tone(0.5, 48000), 48000, "wav24")
    csv = tmp_path / "a.csv"
    csv.write_text("seconds,stage,parameter,value\n0.1,morph,amount,0\n0.3,morph,amount,1\n")
    assert main(["render", str(stem), "--preset", "morph-reed", "--out", str(tmp_path / "o"),
                 "--automation", str(csv)]) == 0
    assert json.loads((tmp_path / "o" / "s.json").read_text())["automation"][1]["value"] == 1.0
    bad = tmp_path / "b.csv"
    bad.write_text("seconds,stage,parameter,value\n0.1,nope,amount,0\n")
    assert main(["render", str(stem), "--preset", "morph-reed", "--out", str(tmp_path / "p"),
                 "--automation", str(bad)]) == 2


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk", b"not audio at all"])
def test_corrupt_or_empty_stems_are_refused(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    stem = tmp_path / "bad.wav"
    stem.write_bytes(content)
    assert main(["render", str(stem), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentbridge: error:")
    assert stem.read_bytes() == content


def test_nan_stems_unknown_presets_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stem = tmp_path / "nan.wav"
    audio = tone(0.2, 48000)
    audio[0, 100] = np.nan
    from pedalboard.io import AudioFile

    with AudioFile(str(stem), "w", 48000, 1, bit_depth=32) as f:
        f.write(audio)
    assert main(["render", str(stem), "--out", str(tmp_path / "o")]) == 2
    assert "NaN" in capsys.readouterr().err
    good = tmp_path / "good.wav"
    write_audio(good, tone(0.2, 48000), 48000, "wav24")
    assert main(["render", str(good), "--preset", "nope", "--out", str(tmp_path / "o")]) == 2
    assert main(["render", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o")]) == 2
    assert read_preset("morph-reed")["name"] == "morph-reed"


def session_file(tmp_path: Path, changes: list[dict[str, object]], version: int = 1) -> Path:
    path = tmp_path / "osc.json"
    path.write_text(json.dumps({"format": "latentbridge-osc-session", "version": version, "samplerate": 48000,
                                "blocksize": 256, "preset": "effects-only", "primed_samples": 4096,
                                "changes": changes}))
    return path


def test_a_recorded_osc_session_replays_like_breakpoints_and_loads_presets(tmp_path: Path) -> None:
    from plugin_host.control_change import read_automation

    audio = tone(1.0, 48000)
    rows = [{"sample": 256 * 40, "kind": "param", "stage": "input", "parameter": "gain_db", "value": -12.0},
            {"sample": 256 * 80, "kind": "bypass", "stage": "room", "parameter": "", "value": 1.0},
            {"sample": 256 * 120, "kind": "bypass", "stage": "", "parameter": "", "value": 1.0}]
    points = read_automation(session_file(tmp_path, rows))
    assert [p.kind for p in points] == ["param", "bypass", "bypass"] and points[0].sample == 256 * 40
    replayed = render_audio(read_preset("effects-only"), audio, 48000, RenderSettings(automation=points))
    as_breakpoint = [ControlChange(256 * 40 / 48000, "input", "gain_db", -12.0)]
    first = render_audio(read_preset("effects-only"), audio, 48000, RenderSettings(automation=as_breakpoint))
    d = 256 * 80 - 1024  # before the bypass (minus the reverb's tail reach)
    np.testing.assert_array_equal(replayed[:, :d], first[:, :d])
    plain = render_audio(read_preset("effects-only"), audio, 48000, RenderSettings())
    assert not np.array_equal(replayed[:, 256 * 40:d], plain[:, 256 * 40:d])
    np.testing.assert_array_equal(replayed[:, 256 * 121:], audio[:, 256 * 121:])  # the whole chain bypassed
    swapped = read_automation(session_file(tmp_path, [{"sample": 256 * 40, "kind": "preset", "stage": "",
                                                       "parameter": "", "value": "resynth"}]))
    out = render_audio(read_preset("effects-only"), audio, 48000, RenderSettings(automation=swapped))
    np.testing.assert_array_equal(out[:, : 256 * 40 - 1024], plain[:, : 256 * 40 - 1024])
    assert not np.allclose(out[:, 256 * 60:], plain[:, 256 * 60:], atol=1e-3)


@pytest.mark.parametrize("version,row", [(2, {}), (1, {"sample": 0, "kind": "dance", "stage": "", "parameter": "",
                                                          "value": 1}), (1, {"kind": "param"})])
def test_bad_osc_sessions_are_one_line_errors(tmp_path: Path, version: int, row: dict[str, object],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    stem = tmp_path / "s.wav"
    write_audio(stem, tone(0.2, 48000), 48000, "wav24")
    path = session_file(tmp_path, [row] if row else [], version)
    assert main(["render", str(stem), "--preset", "effects-only", "--out", str(tmp_path / "o"),
                 "--automation", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "osc.json" in err[0]


def test_ray_local_renders_what_local_processes_render(tmp_path: Path) -> None:
    """`--ray local`: a real local Ray instance, one task per stem; outputs bit-identical to a local run."""
    ray = pytest.importorskip("ray")
    stems = []
    for i, (rate, channels) in enumerate([(48000, 2), (44100, 1)]):
        path = tmp_path / f"stem{i}.wav"
        write_audio(path, tone(0.6, rate, channels) * (0.5 + 0.2 * i), rate, "wav24")
        stems.append(str(path))
    try:
        assert main(["render", *stems, "--preset", "morph-reed", "--out", str(tmp_path / "ray"), "--ray", "local",
                     "--workers", "2"]) == 0
    finally:
        ray.shutdown()
    assert main(["render", *stems, "--preset", "morph-reed", "--out", str(tmp_path / "here"), "--workers", "1"]) == 0
    for name in ("stem0", "stem1"):
        got, rate = read_audio(tmp_path / "ray" / f"{name}.wav")
        want, want_rate = read_audio(tmp_path / "here" / f"{name}.wav")
        assert rate == want_rate and np.array_equal(got, want)
        assert json.loads((tmp_path / "ray" / f"{name}.json").read_text())["ray"] == "local"


def test_stems_from_files_folders_and_quoted_globs(tmp_path: Path) -> None:
    from export.core.errors import LatentbridgeError
    from plugin_host.render_cli import stems

    for name in ("a.wav", "b.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.wav").write_bytes(b"x")
    assert stems([str(tmp_path)]) == [tmp_path / "a.wav", tmp_path / "b.flac"]
    assert stems([str(tmp_path / "**" / "*.wav")]) == [tmp_path / "a.wav", tmp_path / "sub" / "c.wav"]
    with pytest.raises(LatentbridgeError, match="matches no file"):
        stems([str(tmp_path / "*.aiff")])
