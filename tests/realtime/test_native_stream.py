"""The native audio callback (C) against the Python one, without an audio server: the same input blocks, xrun
flags and worker deliveries (some late) give the same output sample for sample, the same counts and the same
recorded blocks; its rings behave like `BlockRing`s (copies out, overwritten slots are gone)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from realtime import native_stream
from realtime.block_ring import BlockRing
from realtime.callback import PythonCallback
from realtime.engine import SLOTS, Engine, EngineConfig

try:
    from realtime import _audio_native
except ImportError:
    pytest.skip("the native audio stream is not built (pip install -e .)", allow_module_level=True)

RATE, BLOCK, PREFILL = 48000, 256, 4
TAP_SLOTS = 512
INPUT_OVERFLOW, PRIMING_OUTPUT = 0x2, 0x10  # PortAudio's status flags: an xrun, and one that is not


def detached(channels: int, fade_in: np.ndarray) -> object:
    """A native stream without devices: `run_callback` plays the device; priority 0 leaves this thread alone."""
    return _audio_native.Stream(-1, -1, float(RATE), BLOCK, channels, PREFILL, SLOTS, fade_in, 0.0, 0.0, TAP_SLOTS,
                                TAP_SLOTS, 0)


def worker(source, sink, seq: int) -> None:
    """The chain's stand-in: block seq, halved and negated (so wet, dry and the crossfades all differ)."""
    block = source.get(seq)
    assert block is not None
    sink.put(seq, -0.5 * block[:, 0])


@pytest.mark.parametrize("channels", [1, 2])
def test_native_callback_plays_and_counts_what_the_python_callback_does(channels: int) -> None:
    fade_in = Engine(Chain([], RATE), EngineConfig(RATE, BLOCK, channels, prefill=PREFILL)).fade_in
    rings = BlockRing(SLOTS, BLOCK), BlockRing(SLOTS, BLOCK)
    taps = SimpleNamespace(ring=BlockRing(TAP_SLOTS, BLOCK, channels)), SimpleNamespace(
        ring=BlockRing(TAP_SLOTS, BLOCK, channels))
    python = PythonCallback(BLOCK, RATE, PREFILL, fade_in, rings[0], rings[1], taps[0], taps[1], 0)
    python.callback_realtime = False  # keep this test's thread out of SCHED_FIFO
    native = detached(channels, fade_in)
    n_in = native_stream.NativeRing(native, native_stream.INPUT, BLOCK)
    n_out = native_stream.NativeRing(native, native_stream.OUTPUT, BLOCK)
    rng = np.random.default_rng(3)
    blocks = 300
    late = {20, 21, 22, 60, 100, 101, 180}  # the worker misses these: played dry, with crossfades around them
    flags = {7: INPUT_OVERFLOW, 8: PRIMING_OUTPUT, 150: INPUT_OVERFLOW}
    for k in range(blocks):
        indata = (0.3 * rng.standard_normal((BLOCK, channels))).astype(np.float32)
        out_py = np.zeros((BLOCK, channels), np.float32)
        out_c = np.full((BLOCK, channels), np.nan, np.float32)
        status = SimpleNamespace(input_overflow=flags.get(k) == INPUT_OVERFLOW, input_underflow=False,
                                 output_underflow=False, output_overflow=False)
        python(indata, out_py, BLOCK, None, status if k in flags else None)
        native.run_callback(indata, out_c, flags.get(k, 0))
        np.testing.assert_array_equal(out_c, out_py, err_msg=f"block {k}")
        if k not in late:
            worker(rings[0], rings[1], k)
            worker(n_in, n_out, k)
        if k == 200:  # a short callback (PortAudio keeps the size fixed; both are safe anyway)
            short_py, short_c = np.zeros((64, channels), np.float32), np.zeros((64, channels), np.float32)
            python(indata[:64], short_py, 64, None, None)
            native.run_callback(np.ascontiguousarray(indata[:64]), short_c, 0)
            np.testing.assert_array_equal(short_c, short_py)
            np.testing.assert_array_equal(short_c[:, 0], indata[:64, 0])
    assert native.seq == python.seq == blocks
    expected_late = sorted(b + PREFILL for b in late)
    assert python.late_at == native.late_at == expected_late
    assert native.late == python.late == len(late) + 1  # and the short callback
    assert native.xrun_at == python.xrun_at == [7, 150] and native.xruns == 2
    assert native.callback_realtime is False and native.callback_overruns == []
    assert native.take_peak() == python.take_peak() > 0.5
    assert native.take_peak() == 0.0  # taken: reset
    for which, tap in ((native_stream.RECORDED_OUTPUT, taps[0]), (native_stream.RECORDED_INPUT, taps[1])):
        view = native_stream.NativeRing(native, which, BLOCK, channels)
        assert view.newest == tap.ring.newest == blocks - 1
        for k in range(blocks):
            np.testing.assert_array_equal(view.get(k), tap.ring.get(k))


def test_native_rings_copy_out_and_lose_overwritten_blocks() -> None:
    native = detached(1, np.ones(BLOCK, np.float32))
    out = native_stream.NativeRing(native, native_stream.OUTPUT, BLOCK)
    assert out.newest == -1 and out.get(0) is None
    block = np.arange(BLOCK, dtype=np.float64)  # cast to float32 as a BlockRing's assignment does
    out.put(5, block)
    got = out.get(5)
    assert got is not None and got.dtype == np.float32 and got.shape == (BLOCK, 1) and out.newest == 5
    np.testing.assert_array_equal(got[:, 0], block.astype(np.float32))
    got[:] = 0.0  # a copy: the ring keeps its block
    np.testing.assert_array_equal(out.get(5)[:, 0], block.astype(np.float32))
    out.put(5 + SLOTS, block + 1)  # the same slot
    assert out.get(5) is None and out.get(5 + SLOTS) is not None
    with pytest.raises(ValueError, match="float32"):
        out.put(6, np.zeros(BLOCK + 1))
    with pytest.raises(LatentbridgeError, match="only the output ring"):
        native_stream.NativeRing(native, native_stream.INPUT, BLOCK).put(0, block)
    native.stop()
    native.close()  # nothing to stop or close without devices; the rings stay readable
    assert out.get(5 + SLOTS) is not None


def test_live_uses_the_native_stream_by_default_and_falls_back_with_a_notice(monkeypatch, capsys) -> None:
    from realtime import live_cli

    assert native_stream.unavailable() is None  # built here, and libportaudio2 is installed
    assert live_cli._audio_backend(None) == "native" and live_cli._audio_backend("sounddevice") == "sounddevice"
    monkeypatch.setattr(native_stream, "unavailable", lambda: "PortAudio cannot be loaded (test)")
    assert live_cli._audio_backend(None) == "sounddevice"
    notice = capsys.readouterr().err.splitlines()
    assert len(notice) == 1 and "sounddevice" in notice[0] and "(test)" in notice[0]
    with pytest.raises(LatentbridgeError, match="--audio-backend native: PortAudio cannot be loaded"):
        live_cli._audio_backend("native")
