"""The live engine on a real JACK server (`jackd -d dummy`, PortAudio's JACK host API): a JACK client plays
into the engine's input port and records its output port while the engine records both sides itself."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from jack_player import Player, plucks, read_status, start_engine
from live_checks import check_late_blocks_beside_stalls

from export.core.audio_io import read_audio
from plugin_host.presets import load_chain
from realtime.engine import EngineConfig

RATE, BLOCK = 48000, 256
FADE = EngineConfig.crossfade


def finish(proc, tmp: Path) -> dict:
    proc.send_signal(signal.SIGINT)  # Ctrl-C: stops cleanly, writes both recordings and the last status
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    status = read_status(tmp)
    assert status["state"] == "stopped"
    return status


def heard_wet(samples: int, late: list[int], skipped: int) -> np.ndarray:
    """Which output samples played the chain's own output: not a late block (played dry) nor its fade back in, and
    nothing from the first late block on when the worker skipped input after a stall (its chain then heard
    another signal than the offline one)."""
    wet = np.ones(samples, bool)
    for b in late:
        wet[b * BLOCK: (b + 1) * BLOCK + FADE] = False
    if skipped and late:
        wet[late[0] * BLOCK:] = False
    return wet


def recorded(tmp: Path, name: str) -> np.ndarray:
    audio, rate = read_audio(tmp / name)
    assert rate == RATE
    return audio[0]


def vst3_preset(bundle: Path, tmp: Path) -> str:
    """The effects-only chain with the test VST3 plugin (-6 dB, inverted, 64 samples of latency) inside it."""
    path = tmp / "with-vst3.yaml"
    path.write_text("stages:\n"
                    "  - {name: comp, kind: effect, effect: compressor, parameters: {threshold_db: -24, ratio: 3}}\n"
                    f"  - {{name: plug, kind: vst3, path: '{bundle}', parameters: {{gain_db: -6, invert: 1}}}}\n"
                    "  - {name: echo, kind: effect, effect: delay, parameters: {delay_seconds: 0.3, mix: 0.2}}\n")
    return str(path)


@pytest.mark.parametrize(("chain", "backend"), [("effects-only", None), ("effects-only", "sounddevice"),
                                                ("vst3", None)], ids=["default-native", "sounddevice", "vst3"])
def test_effects_chain_recording_equals_the_chain_offline(jack_server: str, tmp_path: Path, bundle: Path,
                                                          chain: str, backend: str | None) -> None:
    """With each audio backend (`live` without `--audio-backend` uses the native stream, a C callback), and
    with an external VST3 plugin (latency 64 samples) between pedalboard's effects."""
    preset = vst3_preset(bundle, tmp_path) if chain == "vst3" else chain
    signal_in = plucks(3.0) + 0.02 * np.random.default_rng(1).standard_normal(3 * RATE).astype(np.float32)
    proc = start_engine(jack_server, tmp_path, preset, 30, *(("--audio-backend", backend) if backend else ()))
    player = Player(jack_server, signal_in, 4.0)
    try:
        player.start()
        assert player.done.wait(20)
    finally:
        player.close()
    status = finish(proc, tmp_path)
    assert status["audio_backend"] == (backend or "native")
    # A stalled VM may make a block late (played dry); what it cannot do is make one late beside no device-clock
    # gap, so each late block is checked for that and left out of the comparisons below (xruns: not asserted).
    late = check_late_blocks_beside_stalls(status, 0, status["blocks"])
    prefill = status["added_latency_samples"] // BLOCK
    assert status["chain"]["delay_samples"] == (64 if chain == "vst3" else 0)
    assert prefill * BLOCK + status["chain"]["delay_samples"] == status["added_latency_samples"]
    got_in, got_out = recorded(tmp_path, "in.wav"), recorded(tmp_path, "out.wav")
    # the engine received exactly what the JACK client played, somewhere in its input
    start = int(np.argmax(np.abs(got_in) > 0.05)) - int(np.argmax(np.abs(signal_in) > 0.05))
    # an xrun the stream reports may drop a period of input or output (the machine's doing): the exact checks run
    # up to the block before the first one
    xrun = min(status["xrun_at_block"], default=None)
    intact = got_in.shape[0] if xrun is None else max(0, (xrun - 1) * BLOCK)
    if intact - start < RATE // 2:
        pytest.skip(f"the stream reported an xrun at block {xrun}, before half a second of the phrase had played")
    n_in = min(signal_in.shape[0], intact - start)
    np.testing.assert_array_equal(got_in[start: start + n_in], signal_in[:n_in])
    # what the JACK client heard is the engine's output, shifted by the device latency PortAudio reports
    # (one JACK period each way): the played -> heard round trip is that plus the engine's added latency
    device = round(status["device_latency_ms"] * RATE / 1000)
    end = min(2 * RATE, intact - start + device)
    # an xrun the server reports to the player (a client late in a cycle: the machine's doing, and the engine's
    # stream need not flag it) may replace a period of what it heard (a clean-clone run once differed in exactly one
    # 256-sample period, no late block, no xrun in the engine's list); the player notes how far it had recorded when
    # each was reported, and the comparison stops 0.1 s before the first
    print(f"xruns the server reported to the player: {player.xruns} at recorded frames {player.xrun_at}")
    first_xrun = min((at for at in player.xrun_at if at >= 0), default=None)
    if first_xrun is not None:
        end = min(end, first_xrun - RATE // 10)
    if end - 1000 < RATE // 2 or (player.xruns > len(player.xrun_at) and first_xrun is None):
        pytest.skip(f"the server reported {player.xruns} xrun(s) to the player, the first at frame {first_xrun}: "
                    "less than half a second to compare")
    heard, sent = player.recording[1000: end], got_out[start - device + 1000: start - device + end]
    if player.xruns and not np.array_equal(heard, sent):
        # the report reaches the player's notification thread after the cycle it concerns; on a stalling machine
        # later than 0.1 s: what differs is then the machine's doing too, and the test says where
        differs = np.flatnonzero(heard != sent)
        pytest.skip(f"the server reported {player.xruns} xrun(s) to the player (first at frame {first_xrun}) and "
                    f"what it heard differs in {differs.size} samples from frame {1000 + int(differs[0])}")
    np.testing.assert_array_equal(heard, sent)
    # the chain on the whole recorded input at once, after the silence the engine primed its chain with
    primed = np.zeros(status["primed_samples"], np.float32)
    offline = load_chain(preset, RATE).process(np.concatenate([primed, got_in]))[primed.shape[0]:]
    ahead = prefill * BLOCK  # the offline chain output carries the chain's own delay already
    wet = heard_wet(got_out.shape[0], late, status["skipped"])
    if wet[start + ahead: start + ahead + RATE].mean() < 0.9:  # the machine's doing (checked above), not the engine's
        pytest.skip(f"the machine held the worker at blocks {late} and it skipped {status['skipped']} input blocks "
                    "before the phrase had played: too little is left to compare with the chain offline")
    np.testing.assert_allclose(got_out[ahead:][wet[ahead:]], offline[: got_out.shape[0] - ahead][wet[ahead:]],
                               atol=1e-4, rtol=0)
    lag = ahead + status["chain"]["delay_samples"]
    assert np.abs(offline[start: start + RATE]).max() > 0.05  # the comparison covers real signal
    # `latentbridge render` of what the engine received gives what the engine played, bit for bit (after the
    # reported latency; the renderer primes and blocks its chain as the engine does and removes the chain delay)
    from plugin_host.presets import read_preset
    from plugin_host.render import RenderSettings, render_audio

    rendered = render_audio(read_preset(preset), got_in[None], RATE, RenderSettings(blocksize=BLOCK))[0]
    np.testing.assert_array_equal(rendered[: got_in.shape[0] - lag][wet[lag:]], got_out[lag:][wet[lag:]])
