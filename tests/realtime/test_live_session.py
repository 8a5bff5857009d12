"""One 60-second live session of the default morph preset on a real JACK server: plucked notes in, OSC changes
during the stream (target, amount), an OSC flood, then queries over OSC and OSCQuery. Each test checks one
acceptance point on the recordings and reports of that session."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from jack_player import (
    Player,
    ServerXruns,
    fresh_status,
    jackd_log,
    onsets,
    plucks,
    read_status,
    server_xruns,
    start_engine,
)
from live_checks import (
    check_engine_kept_up,
    check_every_block_played,
    check_late_blocks_beside_stalls,
    late_blocks_in,
    wet_mask,
    window_totals,
)
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from export.core.audio_io import read_audio, resample
from export.onnx.bundled import BUNDLED_DIR
from models.data.gm_programs import FAMILIES
from models.training.checkpoint import load_model

RATE, BLOCK, SECONDS = 48000, 256, 60.0
TIMELINE = {"amount0": 20.0, "amount1": 30.0, "flood": 42.0, "query": 50.0, "bypass": 53.0, "target": 55.0}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Session:
    status: dict[str, Any]
    played: np.ndarray
    heard: np.ndarray
    got_in: np.ndarray
    got_out: np.ndarray
    start: int  # where the played signal begins in the engine's input recording
    flood: dict[str, Any]
    status_during_flood: dict[str, Any]
    status_before_flood: dict[str, Any]
    osc_values: dict[str, float]
    oscquery: dict[str, Any]
    osc_session: Path
    server: ServerXruns  # what the JACK server logged while the player played
    first: dict[str, Any]  # the engine's status just before the player started
    last: dict[str, Any]  # and just after it was done


def query_over_osc(port: int) -> dict[str, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    sock.sendto(OscMessageBuilder("/latentbridge/query").build().dgram, ("127.0.0.1", port))
    values: dict[str, float] = {}
    while True:
        data, _ = sock.recvfrom(65536)
        for timed in OscPacket(data).messages:
            address = timed.message.address
            if address == "/latentbridge/query/done":
                sock.close()
                return values
            if address.endswith("/value"):
                values[address[: -len("/value")]] = float(timed.message.params[0])


def leaves(node: dict[str, Any], out: dict[str, float]) -> dict[str, float]:
    for child in node.get("CONTENTS", {}).values():
        if child.get("TYPE") == "f" and "value" in child.get("CONTENTS", {}):
            out[child["FULL_PATH"]] = float(child["CONTENTS"]["value"]["VALUE"][0])
        leaves(child, out)
    return out


@pytest.fixture(scope="module")
def session(jack_server: str, tmp_path_factory: pytest.TempPathFactory) -> Session:
    tmp = tmp_path_factory.mktemp("live_session")
    port = free_port()
    played = plucks(SECONDS + 2, every=1.0)
    proc = start_engine(jack_server, tmp, "morph-reed", SECONDS + 60, "--osc-port", str(port),
                        "--record-osc", str(tmp / "osc.json"))
    client = SimpleUDPClient("127.0.0.1", port)
    player = Player(jack_server, played, SECONDS)
    flood: dict[str, Any] = {}
    log_start = jackd_log(jack_server).stat().st_size
    try:
        first = fresh_status(tmp, time.time())  # the player is connected
        player.start()
        t0 = time.monotonic()

        def at(t: float) -> None:
            time.sleep(max(0.0, t0 + t - time.monotonic()))

        at(TIMELINE["amount0"])
        client.send_message("/latentbridge/morph/amount", 0.0)
        at(TIMELINE["amount1"])
        client.send_message("/latentbridge/morph/amount", 1.0)
        at(TIMELINE["flood"])
        before = read_status(tmp)
        # the flood comes from a background process (nice 19), as a controller's would from elsewhere: on two
        # cores a sender at full priority would take the CPU the engine needs, whatever the engine does
        flood = Path(__file__).resolve().parents[1] / "osc_flood.py"
        sender = subprocess.run(["nice", "-n", "19", sys.executable, str(flood), str(port), "10000", "5"],
                                capture_output=True, text=True, timeout=60)
        assert sender.returncode == 0, sender.stderr
        flood = json.loads(sender.stdout)
        time.sleep(1.0)
        during = read_status(tmp)
        at(TIMELINE["query"])
        osc_values = query_over_osc(port)
        query_port = read_status(tmp)["oscquery_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{query_port}/", timeout=5) as r:
            tree = json.loads(r.read())
        at(TIMELINE["bypass"])
        client.send_message("/latentbridge/room/bypass", 1)
        at(TIMELINE["target"])
        client.send_message("/latentbridge/morph/target", "brass")
        assert player.done.wait(SECONDS + 10)
        server = server_xruns(jack_server, log_start)  # before the player leaves (a graph change may be one)
        last = fresh_status(tmp, time.time())
    finally:
        player.close()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    status = read_status(tmp)
    got_in, rate = read_audio(tmp / "in.wav")
    got_out, _ = read_audio(tmp / "out.wav")
    start = int(np.argmax(np.abs(got_in[0]) > 0.05)) - int(np.argmax(np.abs(played) > 0.05))
    return Session(status, played, player.recording, got_in[0], got_out[0], start, flood, during, before,
                   osc_values, tree, tmp / "osc.json", server, first, last)


def played_blocks(session: Session) -> tuple[int, int]:
    """The blocks [first, end) of the engine's run in which the test player played."""
    return session.start // BLOCK, (session.start + int(SECONDS * RATE)) // BLOCK


@pytest.mark.soak
def test_sixty_seconds_without_a_late_block_or_a_callback_overrun(session: Session) -> None:
    """The strict line on the real server, behind `-m soak`: no late block and no callback overrun (the engine's
    totals) from just before the player started to just after it was done, the flood included. On a VM whose
    hypervisor holds the CPUs for 4-20 ms it fails about 2 runs in 7 whatever the engine does (see
    `latentbridge bench stalls`), so the default suite runs this line on the simulated device clock, which pauses
    with the machine (test_engine_clock), and checks here what a stalling machine still guarantees (below)."""
    first, last = played_blocks(session)
    assert session.first["blocks"] <= first and session.last["blocks"] >= last  # the readings cover the stretch
    check_engine_kept_up(session.first, session.last, session.server)


def test_sixty_seconds_play_every_block_and_late_ones_only_beside_device_stalls(session: Session) -> None:
    """What a stalling machine still guarantees, over the stretch the player played: every input block was
    recorded and played, the chain's output or, when late, the dry input with a crossfade (the blocks played dry
    are exactly the late ones: none lost, none silent), and each late block lies next to a device-clock gap the
    callback measured (a late block with none is the engine's own). Xruns and callback overruns are printed."""
    s = session.status
    assert s["state"] == "stopped" and s["blocks"] * BLOCK >= SECONDS * RATE
    first, last = played_blocks(session)
    late = check_every_block_played(s, session.got_in, session.got_out, first, last)
    assert check_late_blocks_beside_stalls(s, first, last) == late
    print(f"late blocks {late} beside device-clock gaps {s['callback_gaps_ms']}; between the readings around the "
          f"stretch {window_totals(session.first, session.last)}, xruns at {s['xrun_at_block']}, callback "
          f"overruns at {s['callback_overruns']}, worker {s['worker_fraction']}, server {session.server}")
    assert s["added_latency_ms"] <= 40.0


def onset_delays(inp: np.ndarray, out: np.ndarray) -> list[int]:
    """For each onset of the input, samples until the output rises 10 dB above its level just before."""
    hop = 32
    frames = out[: out.shape[0] // hop * hop].reshape(-1, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    delays = []
    for at in onsets(inp, hop=hop):
        k = at // hop
        before = db[max(0, k - 40): k + 1].max()
        rise = np.flatnonzero(db[k: k + int(0.15 * RATE / hop)] > before + 10.0)
        if rise.size:
            delays.append(int(rise[0] * hop))
    return delays


def test_output_sounds_and_onsets_come_after_the_reported_latency(session: Session) -> None:
    lag = session.status["added_latency_samples"]
    inp, out = session.got_in[session.start:], session.got_out[session.start:]
    assert np.sqrt(np.mean(out[: 10 * RATE] ** 2)) > 0.01  # not silent
    delays = onset_delays(inp[: 19 * RATE], out[: 19 * RATE])
    assert len(delays) >= 15
    measured = float(np.median(delays))
    assert abs(measured - lag) <= BLOCK, (measured, lag)
    # through JACK (played by the test client, heard back) the device latency adds on top
    round_trip = float(np.median(onset_delays(session.played[: 19 * RATE], session.heard[: 19 * RATE])))
    device = session.status["device_latency_ms"] * RATE / 1000
    assert abs(round_trip - (lag + device)) <= BLOCK, (round_trip, lag, device)
    print(f"onset delay {measured / RATE * 1000:.1f} ms in the engine, {round_trip / RATE * 1000:.1f} ms round trip;"
          f" reported {lag / RATE * 1000:.1f} + device {device / RATE * 1000:.1f} ms")


def family_probabilities(audio48: np.ndarray, family: str, wet: np.ndarray | None = None) -> np.ndarray:
    """The note classifier's probability of `family` on each half-overlapping window of `audio48`; with `wet` (a mask
    per 48-kHz sample) only on windows wholly wet (none may be)."""
    model, _ = load_model(BUNDLED_DIR / "classifier_default.pt", "classifier")
    audio = resample(audio48, RATE, 16000)
    n, step = model.cfg.n_samples, model.cfg.n_samples // 2
    starts = [i for i in range(0, audio.shape[0] - n + 1, step)
              if wet is None or wet[i * RATE // 16000: (i + n) * RATE // 16000].all()]
    if not starts:
        return np.zeros(0)
    windows = np.stack([audio[i: i + n] for i in starts])
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(windows))[0].double(), -1).numpy()
    return probs[:, FAMILIES.index(family)]


def mean_log_odds(p: np.ndarray) -> float:
    return float(np.mean(np.log(p) - np.log1p(-p)))


def test_osc_amount_moves_the_family_probability_toward_the_target(session: Session) -> None:
    """Judged on the windows the chain played (a late block is the dry input, whatever the amount): what a stalling
    machine still guarantees."""
    wet = wet_mask(session.status, session.got_out.shape[0])
    if wet is None:
        pytest.skip(f"{session.status['late_blocks']} late blocks, more than the engine lists: the wet audio is not "
                    "known")
    out, wet = session.got_out[session.start:], wet[session.start:]
    lag = session.status["added_latency_samples"]
    settle = RATE  # a second after each change (smoothing, the decays of notes in flight)

    def span(a: float, b: float) -> slice:
        return slice(int(a * RATE) + lag + settle, int(b * RATE) + lag)

    spans = [span(TIMELINE["amount0"], TIMELINE["amount1"]), span(TIMELINE["amount1"], TIMELINE["flood"])]
    at0, at1 = (family_probabilities(out[s], "reed", wet[s]) for s in spans)
    if not at0.size or not at1.size:
        pytest.skip("late blocks left no wholly wet window in a span")
    rise = mean_log_odds(at1) - mean_log_odds(at0)
    print(f"P(reed) over {at0.size} and {at1.size} wet windows: amount 0 -> {at0.mean():.3f}, amount 1 -> "
          f"{at1.mean():.3f}; mean log-odds rise {rise:.2f}; late blocks {session.status['late_at_block']}")
    # The spans hold other notes, and where the plucks fall on the engine's 32-ms frames moves the morph's pull:
    # offline renders of this input shifted by 0-3001 samples gave means 0.013-0.022 -> 0.066-0.140 (log-odds rise
    # 1.60-1.86); live runs 0.006-0.018 -> 0.045-0.132. The log-odds rise (the judge's own scale) is the steady line.
    assert at1.mean() > 2 * at0.mean() and rise > 1.0


def test_an_osc_flood_makes_no_late_block_of_the_engines_and_leaves_every_value_in_range(session: Session) -> None:
    """Late blocks while the flood came, if any, lie beside device-clock gaps: the machine's doing (the soak's
    strict line allows none); the flood leaves every parameter finite and in range."""
    assert session.flood["sent"] == 50_000 and session.flood["seconds"] < 7.0
    before, during = session.status_before_flood, session.status_during_flood
    check_late_blocks_beside_stalls(session.status, before["blocks"], during["blocks"])
    counts = during["osc"]
    assert counts.get("malformed", 0) > 10_000 and counts.get("unknown", 0) + counts.get("bad_value", 0) > 5_000
    assert counts.get("accepted", 0) > 10_000
    for stage in session.status["chain"]["stages"].values():
        for name, value in stage["parameters"].items():
            assert np.isfinite(value), (name, value)
    amount = session.status["chain"]["stages"]["morph"]["parameters"]["amount"]
    assert 0.0 <= amount <= 1.0


def test_osc_query_and_oscquery_report_the_engines_values(session: Session) -> None:
    from_osc = session.osc_values
    from_http = leaves(session.oscquery, {})
    assert from_osc.keys() == from_http.keys() and len(from_osc) >= 10
    for address, value in from_osc.items():
        assert value == pytest.approx(from_http[address], abs=1e-6), address
    engine = session.status["chain"]["stages"]
    for address, value in from_osc.items():
        stage, name = address.split("/")[2:4]
        if stage != "chain":
            assert value == pytest.approx(engine[stage]["parameters"][name], abs=1e-6), address


def test_render_replays_the_recorded_osc_session_sample_for_sample(session: Session) -> None:
    """`render --automation osc.json` on the recorded input equals what was played, OSC changes (amount, the
    flood's xy/gain/reverb values, a bypass and a target change) included, up to the first late block."""
    from plugin_host.control_change import read_automation
    from plugin_host.presets import read_preset
    from plugin_host.render import RenderSettings, render_audio

    points = read_automation(session.osc_session)
    kinds = {p.kind for p in points}
    assert {"param", "bypass", "command"} <= kinds
    amount = [p for p in points if p.parameter == "amount"]
    assert amount and all(p.sample is not None and p.sample % BLOCK == 0 for p in points)
    lag, status = session.status["added_latency_samples"], session.status
    rendered = render_audio(read_preset("morph-reed"), session.got_in[None, :], RATE,
                            RenderSettings(blocksize=BLOCK, automation=points))[0]
    n = min(rendered.size - status["chain"]["delay_samples"], session.got_out.size - lag)
    late = late_blocks_in(status, 0, status["blocks"])
    if status["skipped"]:  # the worker skipped input after a stall: its chain heard another signal from there
        n = min(n, late[0] * BLOCK - lag)
    else:
        assert n > amount[-1].sample, "the comparison must cover every OSC change"
    n = max(n, 0)  # a skip in the first blocks leaves nothing of the chain's own to compare (printed, not failed)
    print(f"render == live compared over {n / RATE:.1f} s (late blocks {late}, skipped {status['skipped']})")
    wet = wet_mask(status, session.got_out.size)
    assert wet is not None  # late_blocks_in above failed otherwise
    keep = wet[lag: lag + n]  # played dry (and faded back in): the chain's own output went unheard
    assert n == 0 or keep.mean() > 0.95
    np.testing.assert_array_equal(rendered[:n][keep], session.got_out[lag: lag + n][keep])
    if not status["skipped"]:
        assert np.sqrt(np.mean(rendered[session.start: n] ** 2)) > 0.01  # the comparison covers the played phrase
