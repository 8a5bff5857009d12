"""The VST3 host path against a real plugin: the C test plugin (tests/vst3_fixture), built here, loaded by pedalboard
(JUCE's VST3 host), by `Vst3Stage` and by a preset; and its C ABI driven directly (parameter points, flushes, state).

Audio is float32 at 48 kHz; the plugin is out[n] = in[n - 64] * gain, and reports 64 samples of latency.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pedalboard
import pytest
from block_split import in_blocks
from vst3_plugin import (
    CID_TEST_GAIN,
    IID_COMPONENT,
    IID_CONNECTION_POINT,
    IID_FACTORY2,
    IID_PROCESSOR,
    MONO,
    STEREO,
    RawPlugin,
    call,
)

from export.core.errors import LatentbridgeError
from plugin_host.presets import load_chain
from plugin_host.vst3_stage import Vst3Stage

RATE = 48000
LATENCY = 64
GAIN = 10 ** (-6 / 20)

@pytest.fixture
def plugin(bundle: Path) -> Any:  # a pedalboard VST3Plugin: its parameters are attributes made at load
    return pedalboard.load_plugin(str(bundle))


@pytest.fixture
def raw(bundle: Path) -> Iterator[RawPlugin]:
    driver = RawPlugin(bundle)
    yield driver
    assert driver.close() == 0  # the driver's references were the only ones: the instance is freed


def noise(channels: int, n: int = 6000, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.3).astype(np.float32)


def preset(tmp_path: Path, bundle: Path, parameters: str = "{gain_db: -6}") -> Path:
    path = tmp_path / "vst3.yaml"
    path.write_text(f"name: vst3-test\nstages:\n  - {{name: plug, kind: vst3, path: '{bundle}', "
                    f"parameters: {parameters}}}\n")
    return path


# ---- pedalboard ----------------------------------------------------------------------------------------------

def test_pedalboard_loads_it_with_typed_parameters_and_its_latency(plugin: Any) -> None:
    assert (plugin.name, plugin.manufacturer_name, plugin.category) == ("Latentbridge Test Gain", "latentbridge", "Fx")
    assert plugin.is_effect and not plugin.is_instrument
    assert set(plugin.parameters) == {"gain_db", "invert"}
    gain, invert = plugin.parameters["gain_db"], plugin.parameters["invert"]
    assert gain.type is float and gain.range[:2] == (-24.0, 12.0) and gain.label == "dB"
    assert invert.type is bool and invert.range == (False, True, 1)
    assert plugin.gain_db == 0.0 and not plugin.invert
    assert plugin.reported_latency_samples == LATENCY


@pytest.mark.parametrize("channels", [1, 2])
def test_a_whole_file_comes_back_gained_and_aligned(plugin: Any, channels: int) -> None:
    """reset=True (the default): pedalboard runs `latency` samples more and drops as many, so out = in * gain
    exactly (mono input gets the plugin's mono layout, stereo its stereo one)."""
    x = noise(channels)
    plugin.gain_db = -6
    y = plugin.process(x, RATE)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x * GAIN, atol=1e-6, rtol=0)
    plugin.invert = True
    np.testing.assert_allclose(plugin.process(x, RATE), -x * GAIN, atol=1e-6, rtol=0)


@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_a_fresh_plugin_keeps_block_lengths_and_lags_by_the_latency(bundle: Path, channels: int) -> None:
    """reset=False on a freshly loaded plugin: pedalboard drops nothing, so blocks of 256 keep their length and
    the stream is the whole-file (compensated) result delayed by the 64 samples of latency, zeros first."""
    x = noise(channels)
    whole = pedalboard.load_plugin(str(bundle), parameter_values={"gain_db": -6}).process(x, RATE)
    streamer = pedalboard.load_plugin(str(bundle), parameter_values={"gain_db": -6})
    blocks = [streamer.process(x[:, i: i + 256], RATE, reset=False) for i in range(0, x.shape[1], 256)]
    assert [b.shape[1] for b in blocks] == [min(256, x.shape[1] - i) for i in range(0, x.shape[1], 256)]
    out = np.concatenate(blocks, axis=1)
    np.testing.assert_array_equal(out[:, :LATENCY], 0)
    np.testing.assert_allclose(out[:, LATENCY:], whole[:, :-LATENCY], atol=1e-6, rtol=0)


def test_after_a_reset_streaming_drops_the_latency_so_the_first_blocks_come_back_short(
        plugin: Any) -> None:
    """pedalboard's streaming compensation starts over at each reset: the first 64 output samples are dropped
    (a 40-sample block comes back empty, the next with 16), and the stream is then aligned with the input."""
    x = noise(1, 2000)
    plugin.reset()
    blocks = [plugin.process(x[:, i: i + 40], RATE, reset=False) for i in range(0, x.shape[1], 40)]
    assert [b.shape[1] for b in blocks[:3]] == [0, 16, 40]
    out = np.concatenate(blocks, axis=1)
    assert out.shape[1] == x.shape[1] - LATENCY
    np.testing.assert_allclose(out, x[:, : out.shape[1]], atol=1e-6, rtol=0)


def test_a_gain_change_between_blocks_is_heard_from_the_next_block_plus_the_latency(bundle: Path) -> None:
    """JUCE hands a changed parameter to the plugin as a point at offset 0 of the next block; the gain acts
    before the delay line, so in the stream the step lands 64 samples after that block starts."""
    streamer: Any = pedalboard.load_plugin(str(bundle))
    ones = np.ones((1, 256), np.float32)
    first = streamer.process(ones, RATE, reset=False)
    streamer.gain_db = -12
    second, third = (streamer.process(ones, RATE, reset=False) for _ in range(2))
    low = 10 ** (-12 / 20)
    np.testing.assert_allclose(first[0], np.r_[np.zeros(LATENCY), np.ones(256 - LATENCY)], atol=1e-6, rtol=0)
    np.testing.assert_allclose(second[0], np.r_[np.ones(LATENCY), np.full(256 - LATENCY, low)], atol=1e-6, rtol=0)
    np.testing.assert_allclose(third[0], low, atol=1e-6, rtol=0)


def test_raw_state_carries_the_values_the_plugin_has_applied_to_a_new_instance(bundle: Path) -> None:
    """The component's state is the processor's: a value set from Python reaches it with the next processed
    block (VST3 sends parameter changes through process()), so raw_state is read after processing."""
    source: Any = pedalboard.load_plugin(str(bundle))
    source.gain_db, source.invert = -12, True
    source.process(noise(1, 512), RATE)
    copy: Any = pedalboard.load_plugin(str(bundle))
    copy.raw_state = source.raw_state
    assert copy.gain_db == pytest.approx(-12.0) and copy.invert
    x = noise(1)
    np.testing.assert_allclose(copy.process(x, RATE), -x * 10 ** (-12 / 20), atol=1e-6, rtol=0)


# ---- Vst3Stage and presets -----------------------------------------------------------------------------------

def test_the_stage_exposes_the_plugin_parameters_as_a_typed_table(bundle: Path) -> None:
    stage = Vst3Stage("plug", RATE, str(bundle))
    gain = stage.params["gain_db"].spec
    assert (gain.low, gain.high, gain.default, gain.unit) == (-24.0, 12.0, 0.0, "dB")
    assert set(stage.params) == {"gain_db", "invert"}
    assert (stage.params["invert"].spec.low, stage.params["invert"].spec.high) == (0.0, 1.0)
    assert stage.describe()["path"] == str(bundle)


def test_the_stage_delay_is_the_plugin_latency(bundle: Path) -> None:
    assert Vst3Stage("plug", RATE, str(bundle)).delay_samples == LATENCY


def test_setting_the_stage_gain_sets_the_output_level(bundle: Path) -> None:
    stage = Vst3Stage("plug", RATE, str(bundle))
    value = stage.params["gain_db"]
    value.set(-12.0)
    value.current = value.target
    x = noise(1, 4096)[0]
    out = np.concatenate([stage.process(x[i: i + 256]) for i in range(0, x.shape[0], 256)])
    np.testing.assert_allclose(out[LATENCY:], x[:-LATENCY] * 10 ** (-12 / 20), atol=1e-6, rtol=0)


def test_a_vst3_preset_builds_a_chain_around_the_plugin(bundle: Path, tmp_path: Path) -> None:
    chain = load_chain(preset(tmp_path, bundle), RATE)
    stage = chain.stage("plug")
    assert isinstance(stage, Vst3Stage) and stage.params["gain_db"].target == -6.0
    assert chain.describe()["stages"]["plug"]["kind"] == "vst3"
    with pytest.raises(LatentbridgeError, match="outside"):
        load_chain(preset(tmp_path, bundle, "{gain_db: 20}"), RATE)


def test_a_vst3_chain_in_device_blocks_equals_one_call_and_lags_by_its_delay(bundle: Path, tmp_path: Path) -> None:
    """As for pedalboard's effects (test_chain): fixed blocks give what one call gives, and the chain's
    `delay_samples` is where the input reappears (here at -6 dB)."""
    audio = noise(1, 24000)[0]
    whole = load_chain(preset(tmp_path, bundle), RATE).process(audio)
    chain = load_chain(preset(tmp_path, bundle), RATE)
    np.testing.assert_array_equal(in_blocks(chain.process, audio, (256,)), whole)
    d = chain.delay_samples
    assert d == LATENCY
    np.testing.assert_allclose(whole[d:], audio[:-d] * GAIN, atol=1e-6, rtol=0)


def test_a_vst3_chain_is_invariant_to_changing_block_sizes(bundle: Path, tmp_path: Path) -> None:
    audio = noise(1, 24000)[0]
    whole = load_chain(preset(tmp_path, bundle), RATE).process(audio)
    split = in_blocks(load_chain(preset(tmp_path, bundle), RATE).process, audio, (1, 63, 64, 65, 511, 8193))
    np.testing.assert_allclose(split, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("content", [b"", b"\x7fELF not really a shared object" * 50])
def test_a_corrupt_bundle_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "Broken.vst3"
    binary = bundle / "Contents" / "x86_64-linux" / "Broken.so"
    binary.parent.mkdir(parents=True)
    if content:
        binary.write_bytes(content)
    with pytest.raises(LatentbridgeError, match="cannot load the plugin") as info:
        Vst3Stage("plug", RATE, str(bundle))
    assert "\n" not in str(info.value)
    with pytest.raises(LatentbridgeError, match="cannot load the plugin"):
        load_chain(preset(tmp_path, bundle, "{}"), RATE)


# ---- the C ABI, driven directly ------------------------------------------------------------------------------

def test_the_factory_describes_one_fx_class_and_refuses_other_ids(raw: RawPlugin) -> None:
    assert raw.factory_call(4, ctypes.c_int32, ()) == 1
    info = ctypes.create_string_buffer(440)
    assert raw.factory_call(5, ctypes.c_int32, (ctypes.c_int32, ctypes.c_void_p), 0, info) == 0

    def text(at: int, size: int) -> str:
        return info.raw[at: at + size].split(b"\0")[0].decode()

    assert (info.raw[:16], text(20, 32), text(52, 64)) == (CID_TEST_GAIN, "Audio Module Class",
                                                           "Latentbridge Test Gain")
    assert raw.factory_call(7, ctypes.c_int32, (ctypes.c_int32, ctypes.c_void_p), 0, info) == 0
    assert (text(120, 128), text(248, 64), text(312, 64)) == ("Fx", "latentbridge", "1.0.0")
    assert raw.factory_call(5, ctypes.c_int32, (ctypes.c_int32, ctypes.c_void_p), 1, info) != 0
    out = ctypes.c_void_p(1)
    assert raw.factory_call(6, ctypes.c_int32, (ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)),
                            bytes(16), IID_COMPONENT, ctypes.byref(out)) == -1 and out.value is None
    assert raw.query(raw.factory, IID_FACTORY2) == raw.factory
    raw.release(raw.factory)


def test_unknown_interfaces_are_refused_and_references_balance(raw: RawPlugin) -> None:
    assert raw.query(raw.component, IID_CONNECTION_POINT) is None
    assert raw.query(raw.controller, IID_PROCESSOR) == raw.processor
    assert raw.release(raw.processor) == 3  # back to the driver's three: component, processor, controller


def test_buses_are_one_in_one_out_mono_or_stereo_alike(raw: RawPlugin) -> None:
    assert raw.arrangement(0) == raw.arrangement(1) == STEREO
    assert raw.arrange([MONO], [STEREO]) == 1 and raw.arrangement(0) == STEREO
    assert raw.arrange([0x3F], [0x3F]) == 1  # 5.1
    assert raw.arrange([MONO, MONO], [MONO]) == 1
    assert raw.arrange([MONO], [MONO]) == 0 and raw.arrangement(1) == MONO
    info = ctypes.create_string_buffer(276)
    assert call(raw.component, 8, ctypes.c_int32, (ctypes.c_int32,) * 3 + (ctypes.c_void_p,), 0, 0, 0, info) == 0
    assert int.from_bytes(info.raw[8:12], "little") == 1  # channelCount follows the arrangement
    raw.start(STEREO)
    assert raw.arrange([MONO], [MONO]) == 1  # not while active
    raw.stop()


def test_only_32_bit_float_is_processed(raw: RawPlugin) -> None:
    assert call(raw.processor, 5, ctypes.c_int32, (ctypes.c_int32,), 0) == 0
    assert call(raw.processor, 5, ctypes.c_int32, (ctypes.c_int32,), 1) == 1
    assert raw.setup(1) == 1
    assert call(raw.processor, 6, ctypes.c_uint32, ()) == LATENCY == call(raw.processor, 10, ctypes.c_uint32, ())
    raw.start(MONO)
    assert raw.process(np.ones((1, 64), np.float32), sample_size=1)[0] == 2


@pytest.mark.parametrize("in_place", [False, True])
def test_parameter_points_apply_at_their_sample_offsets_and_hold(raw: RawPlugin, in_place: bool) -> None:
    raw.start(STEREO)
    x = noise(2, 512)
    points = {0: [(0, 0.5), (100, 24 / 36), (300, 0.0)], 1: [(150, 1.0), (400, 0.0)]}
    result, y = raw.process(x, points, in_place=in_place)
    assert result == 0
    db = np.select([np.arange(512) < 100, np.arange(512) < 300], [-6.0, 0.0], -24.0)
    sign = np.where((np.arange(512) >= 150) & (np.arange(512) < 400), -1.0, 1.0)
    want = np.concatenate([np.zeros((2, LATENCY)), (x * 10 ** (db / 20) * sign)[:, :-LATENCY]], axis=1)
    np.testing.assert_allclose(y, want, atol=1e-6, rtol=0)
    assert raw.get_state()[4:] == np.array([0.0, 0.0]).tobytes()  # the last points are the values now


def test_a_flush_applies_points_and_missing_buffers_are_silence(raw: RawPlugin) -> None:
    raw.start(MONO)
    assert raw.process(noise(1, 100))[0] == 0  # leaves noise in the delay line
    assert raw.process(None, {0: [(0, 0.0)]}, num_samples=0)[0] == 0  # a flush: -24 dB, no audio
    assert raw.process(None, num_samples=LATENCY, null_buses=True)[0] == 0  # 64 samples pass, none seen
    result, y = raw.process(np.ones((1, 256), np.float32))
    assert result == 0
    np.testing.assert_allclose(y[0], np.r_[np.zeros(LATENCY), np.full(256 - LATENCY, 10 ** (-24 / 20))],
                               atol=1e-7, rtol=0)


def test_texts_values_and_conversions_are_consistent(raw: RawPlugin) -> None:
    assert [raw.text(0, v) for v in (0.0, 0.5, 2 / 3 - 1e-4, 1.0)] == ["-24.0", "-6.0", "0.0", "12.0"]
    assert [raw.text(1, v) for v in (0.0, 0.49, 0.5, 1.0)] == ["Off", "Off", "On", "On"]
    assert raw.value_for(0, "-6.0") == 0.5 and raw.value_for(0, "3 dB") == pytest.approx(27 / 36)
    assert raw.value_for(0, "40") == 1.0 and raw.value_for(0, "loud") is None
    assert [raw.value_for(1, t) for t in ("On", "Off", "1", "0", "maybe")] == [1.0, 0.0, 1.0, 0.0, None]

    def convert(slot: int, pid: int, value: float) -> float:  # 12: normalised -> plain, 13: plain -> normalised
        return call(raw.controller, slot, ctypes.c_double, (ctypes.c_uint32, ctypes.c_double), pid, value)

    assert [convert(12, 0, 0.5), convert(13, 0, 12.0), convert(13, 0, -6.0)] == [-6.0, 1.0, 0.5]
    assert [convert(12, 1, 0.7), convert(13, 1, 1.0), convert(13, 1, 0.0)] == [1.0, 1.0, 0.0]
    assert raw.normalised(0) == pytest.approx(2 / 3) and raw.normalised(1) == 0.0
    assert raw.set_normalised(1, 3.0) == 0 and raw.normalised(1) == 1.0
    assert raw.set_normalised(7, 0.5) != 0


def test_the_state_round_trips_and_anything_else_is_refused(raw: RawPlugin, bundle: Path) -> None:
    raw.start(MONO)
    raw.process(None, {0: [(0, 0.25)], 1: [(0, 1.0)]}, num_samples=0)
    state = raw.get_state()
    assert state == b"LBG1" + np.array([0.25, 1.0]).tobytes()
    other = RawPlugin(bundle)
    try:
        assert other.set_state(state) == 0 and other.get_state() == state
        assert other.set_state(state, controller=True) == 0
        assert (other.normalised(0), other.normalised(1)) == (0.25, 1.0)
        for bad in (b"", b"LBG1", b"XXXX" + state[4:], state[:-1]):
            assert other.set_state(bad) == 1 and other.set_state(bad, controller=True) == 1
        assert other.get_state() == state
    finally:
        assert other.close() == 0
