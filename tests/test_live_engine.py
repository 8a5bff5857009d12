"""The live engine on a real JACK server (`jackd -d dummy`, PortAudio's JACK host API): a JACK client plays
into the engine's input port and records its output port while the engine records both sides itself."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from jack_player import Player, plucks, read_status, start_engine

from export.audio_io import read_audio
from plugin_host.presets import load_chain

RATE, BLOCK = 48000, 256


def finish(proc, tmp: Path) -> dict:
    proc.send_signal(signal.SIGINT)  # Ctrl-C: stops cleanly, writes both recordings and the last status
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    status = read_status(tmp)
    assert status["state"] == "stopped"
    return status


def recorded(tmp: Path, name: str) -> np.ndarray:
    audio, rate = read_audio(tmp / name)
    assert rate == RATE
    return audio[0]


@pytest.mark.parametrize("backend", [None, "sounddevice"], ids=["default-native", "sounddevice"])
def test_effects_chain_recording_equals_the_chain_offline(jack_server: str, tmp_path: Path,
                                                          backend: str | None) -> None:
    """With each audio backend; `live` without `--audio-backend` uses the native stream (C callback)."""
    signal_in = plucks(3.0) + 0.02 * np.random.default_rng(1).standard_normal(3 * RATE).astype(np.float32)
    proc = start_engine(jack_server, tmp_path, "effects-only", 30, *(("--audio-backend", backend) if backend else ()))
    player = Player(jack_server, signal_in, 4.0)
    try:
        player.start()
        assert player.done.wait(20)
    finally:
        player.close()
    status = finish(proc, tmp_path)
    assert status["audio_backend"] == (backend or "native")
    assert status["late_blocks"] == 0 and status["xruns"] == 0
    prefill = status["added_latency_samples"] // BLOCK
    assert status["chain"]["delay_samples"] == 0 and prefill * BLOCK == status["added_latency_samples"]
    got_in, got_out = recorded(tmp_path, "in.wav"), recorded(tmp_path, "out.wav")
    # the engine received exactly what the JACK client played, somewhere in its input
    start = int(np.argmax(np.abs(got_in) > 0.05)) - int(np.argmax(np.abs(signal_in) > 0.05))
    np.testing.assert_array_equal(got_in[start: start + signal_in.shape[0]], signal_in)
    # the chain on the whole recorded input at once, after the silence the engine primed its chain with
    primed = np.zeros(status["primed_samples"], np.float32)
    offline = load_chain("effects-only", RATE).process(np.concatenate([primed, got_in]))[primed.shape[0]:]
    lag = prefill * BLOCK + status["chain"]["delay_samples"]
    n = got_out.shape[0] - lag
    np.testing.assert_allclose(got_out[lag:], offline[:n], atol=1e-4, rtol=0)
    assert np.abs(offline[start: start + RATE]).max() > 0.1  # the comparison covers real signal
    # `latentbridge render` of what the engine received gives what the engine played, bit for bit (after the
    # reported latency; the renderer primes and blocks its chain as the engine does and removes the chain delay)
    from plugin_host.presets import read_preset
    from plugin_host.render import RenderSettings, render_audio

    rendered = render_audio(read_preset("effects-only"), got_in[None], RATE, RenderSettings(blocksize=BLOCK))[0]
    np.testing.assert_array_equal(rendered[: got_in.shape[0] - lag], got_out[lag:])
    # what the JACK client heard is the engine's output, shifted by the device latency PortAudio reports
    # (one JACK period each way): the played -> heard round trip is that plus the engine's added latency
    device = round(status["device_latency_ms"] * RATE / 1000)
    heard = player.recording[1000: 2 * RATE]
    np.testing.assert_array_equal(heard, got_out[start - device + 1000: start - device + 2 * RATE])
