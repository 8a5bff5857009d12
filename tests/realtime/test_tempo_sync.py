"""Tempo sync over real UDP on 127.0.0.1: a fake AbletonOSC (a python-osc server playing Live's part) feeds
`TempoSync`, whose callback is a real `OscControl` on the `delay-sync` preset; `/latentbridge/tempo` is sent to
the OSC receiver process like any controller would; presets with bad `tempo_sync` entries fail in one line."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import BlockingOSCUDPServer

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.parameters import tempo_value
from plugin_host.presets import load_chain
from realtime.osc_control import OscControl
from realtime.oscquery import tree
from realtime.tempo_sync import TEMPO, TempoSync

RATE = 48000
ECHO_BEATS, CHORUS_BEATS = 0.75, 4.0  # plugin_host/presets/delay-sync.yaml


def dgram(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def echo(chain: Chain) -> float:
    return chain.parameter("echo", "delay_seconds").target


def chorus(chain: Chain) -> float:
    return chain.parameter("chorus", "rate_hz").target


class FakeLive:
    """Plays AbletonOSC: answers get/tempo, honours start_listen (the value now, then on every change) and
    stop_listen, and replies from its own socket to the sender's host on `response_port` (11001 in Live; here
    the TempoSync's port). While `running` is false it hears nothing (Live not started yet)."""

    def __init__(self, tempo: float = 100.0, running: bool = True) -> None:
        self.tempo, self.running = tempo, running
        self.response_port = 0
        self.heard: list[str] = []
        self.ignored = 0
        self.listener: tuple[str, int] | None = None
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle, needs_reply_address=True)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        host, port = self.server.server_address[:2]
        self.address = (str(host), int(port))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def _send(self, to: tuple[str, int], address: str, *args: Any) -> None:
        self.server.socket.sendto(dgram(address, *args), to)

    def _handle(self, client: tuple[str, int], address: str, *args: Any) -> None:
        if not self.running:
            self.ignored += 1
            return
        self.heard.append(address)
        reply_to = (client[0], self.response_port)
        if address == "/live/song/get/tempo":
            self._send(reply_to, TEMPO, self.tempo)
        elif address == "/live/song/start_listen/tempo":
            self.listener = reply_to
            self._send(reply_to, TEMPO, self.tempo)
        elif address == "/live/song/stop_listen/tempo":
            self.listener = None

    def push(self, *args: Any) -> None:
        """A tempo change in Live (any arguments, to test what is dropped), sent to the listener if any."""
        self.tempo = args[0]
        if self.listener is not None:
            self._send(self.listener, TEMPO, *args)

    def restart(self, tempo: float) -> None:
        """AbletonOSC reloaded: listeners gone, `/live/startup` to the last client."""
        listener, self.listener, self.tempo = self.listener, None, tempo
        assert listener is not None
        self._send(listener, "/live/startup")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Rig:
    """The delay-sync chain under a real OscControl; changes applied as the engine does (deferred, logged)."""

    def __init__(self, live: FakeLive | None = None, retry_s: float = 0.2) -> None:
        self.chain = load_chain("delay-sync", RATE)
        self.rows: list[dict[str, Any]] = []
        self.control = OscControl(lambda: self.chain, self.load, "127.0.0.1", 0, defer=self.defer)
        self.control.start()
        self.sync: TempoSync | None = None
        if live is not None:
            self.sync = TempoSync(self.control.set_tempo, live.address, reply_port=0, retry_s=retry_s)
            live.response_port = self.sync.reply_port
            self.sync.start()

    def defer(self, change: Callable[[Chain], dict[str, Any] | None]) -> None:
        row = change(self.chain)
        if row is not None:
            self.rows.append(row)

    def load(self, name: str) -> None:
        self.chain = load_chain(name, RATE)

    def close(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.control.stop()


def tempo_is(rig: Rig, bpm: float) -> Callable[[], bool]:
    return lambda: rig.control.tempo_bpm == bpm


def preset_is(rig: Rig, name: str) -> Callable[[], bool]:
    return lambda: rig.chain.name == name


@pytest.fixture
def live() -> Iterator[FakeLive]:
    fake = FakeLive()
    yield fake
    fake.close()


def at(bpm: float) -> tuple[float, float]:
    return ECHO_BEATS * 60 / bpm, bpm / 60 / CHORUS_BEATS


def test_conversion_by_unit() -> None:
    assert tempo_value("s", 0.75, 120) == pytest.approx(0.375)
    assert tempo_value("ms", 0.5, 90) == pytest.approx(60000 * 0.5 / 90)
    assert tempo_value("Hz", 4, 120) == pytest.approx(0.5)
    with pytest.raises(LatentbridgeError, match="cannot follow a tempo"):
        tempo_value("dB", 1, 120)


def test_live_tempo_sets_synced_parameters_and_a_change_follows(live: FakeLive) -> None:
    fresh = load_chain("delay-sync", RATE)
    assert (echo(fresh), chorus(fresh)) == pytest.approx(at(120))  # the preset's own values, until a tempo comes
    rig = Rig(live)
    try:
        wait_for(lambda: rig.control.tempo_bpm == 100)
        assert (echo(rig.chain), chorus(rig.chain)) == pytest.approx(at(100))
        wait_for(lambda: {"/live/song/start_listen/tempo", "/live/song/get/tempo"} <= set(live.heard))
        assert rig.chain.parameter("echo", "feedback").target == 0.35  # unsynced parameters untouched
        live.push(140.0)
        wait_for(lambda: rig.control.tempo_bpm == 140)
        assert (echo(rig.chain), chorus(rig.chain)) == pytest.approx(at(140))
        assert {"kind": "param", "stage": "echo", "parameter": "delay_seconds",
                "value": pytest.approx(at(140)[0])} in rig.rows  # what --record-osc writes
    finally:
        rig.close()


def test_bad_tempos_and_strangers_are_dropped_and_logged_once(live: FakeLive, caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    rig = Rig(live)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    try:
        assert rig.sync is not None
        wait_for(lambda: rig.control.tempo_bpm == 100)
        wait_for(lambda: {"/live/song/start_listen/tempo", "/live/song/get/tempo"} <= set(live.heard))
        time.sleep(0.05)  # the answer to the last ask is out before Live's tempo goes bad
        with caplog.at_level(logging.WARNING, logger="latentbridge.tempo"):
            for args in ((float("nan"),), (5000.0,), (10.0,), (float("inf"),), ("fast",), (120.0, 1.0)):
                live.push(*args)
            wait_for(lambda: rig.sync is not None and rig.sync.dropped >= 6)
            stranger.sendto(dgram(TEMPO, 60.0), ("127.0.0.1", rig.sync.reply_port))  # not from Live's address
            live.push(90.0)  # still listening after all that
            wait_for(lambda: rig.control.tempo_bpm == 90)
        assert (echo(rig.chain), chorus(rig.chain)) == pytest.approx(at(90))
        assert pytest.approx(at(60)[0]) not in [r["value"] for r in rig.rows]  # the stranger's tempo never applied
        assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
    finally:
        stranger.close()
        rig.close()


def test_a_live_that_starts_late_is_asked_again() -> None:
    live = FakeLive(tempo=75.0, running=False)
    rig = Rig(live, retry_s=0.1)
    try:
        wait_for(lambda: live.ignored >= 4)  # asked (start_listen + get) at least twice while Live was away
        assert rig.control.tempo_bpm is None and echo(rig.chain) == pytest.approx(at(120)[0])
        live.running = True
        wait_for(lambda: rig.control.tempo_bpm == 75)
        assert (echo(rig.chain), chorus(rig.chain)) == pytest.approx(at(75))
        time.sleep(0.1)  # what was already on its way
        asked = len(live.heard)
        time.sleep(0.4)
        assert len(live.heard) == asked  # answered: no more asking
    finally:
        rig.close()
        live.close()


def test_an_abletonosc_restart_is_listened_to_again(live: FakeLive) -> None:
    rig = Rig(live)
    try:
        wait_for(lambda: rig.control.tempo_bpm == 100)
        live.restart(128.0)
        wait_for(lambda: rig.control.tempo_bpm == 128)
        assert live.listener is not None and live.heard.count("/live/song/start_listen/tempo") >= 2
    finally:
        rig.close()


def test_stop_sends_stop_listen_and_leaves_no_thread_or_socket(live: FakeLive) -> None:
    rig = Rig(live)
    sync = rig.sync
    assert sync is not None
    wait_for(lambda: rig.control.tempo_bpm == 100)
    rig.close()
    wait_for(lambda: "/live/song/stop_listen/tempo" in live.heard)
    assert live.listener is None and sync.sock.fileno() == -1
    assert not [t for t in threading.enumerate() if t.name == "ableton-tempo"]


def test_a_busy_reply_port_is_a_one_line_error(live: FakeLive) -> None:
    first = TempoSync(lambda bpm: None, live.address, reply_port=0)
    try:
        with pytest.raises(LatentbridgeError, match=f"cannot listen for AbletonOSC replies on 127.0.0.1:"
                                                    f"{first.reply_port}") as info:
            TempoSync(lambda bpm: None, live.address, reply_port=first.reply_port)
        assert "\n" not in str(info.value)
    finally:
        first.stop()


def test_latentbridge_tempo_over_udp_clamps_reports_and_survives_preset_loads(caplog: pytest.LogCaptureFixture
                                                                              ) -> None:
    rig = Rig()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    to = ("127.0.0.1", rig.control.port)
    try:
        sock.sendto(dgram("/latentbridge/tempo", 90.0), to)
        wait_for(lambda: rig.control.tempo_bpm == 90)
        assert (echo(rig.chain), chorus(rig.chain)) == pytest.approx(at(90))
        for bad in (float("nan"), 5.0, 1000.0, "slow"):
            sock.sendto(dgram("/latentbridge/tempo", bad), to)
        wait_for(lambda: rig.control.counts.get("bad_value", 0) == 4)
        assert rig.control.tempo_bpm == 90
        with caplog.at_level(logging.WARNING, logger="latentbridge.osc"):
            for bpm in (20.0, 21.0):  # 3/4 beat at 20-21 BPM is over 2 s, the delay's maximum
                sock.sendto(dgram("/latentbridge/tempo", bpm), to)
                wait_for(tempo_is(rig, bpm))
        assert echo(rig.chain) == 2.0 and chorus(rig.chain) == pytest.approx(21 / 60 / 4)
        assert len([r for r in caplog.records if "clamped" in r.getMessage()]) == 1
        sock.sendto(dgram("/latentbridge/tempo", 90), to)  # an int is a number too
        wait_for(lambda: rig.control.tempo_bpm == 90)
        sock.sendto(dgram("/latentbridge/query"), to)
        replies: dict[str, Any] = {}
        while "/latentbridge/query/done" not in replies:
            message = OscPacket(sock.recvfrom(65536)[0]).messages[0].message
            replies[message.address] = message.params[0]
        assert replies["/latentbridge/tempo/value"] == 90 and replies["/latentbridge/tempo/display"] == "90.0 BPM"
        assert replies["/latentbridge/echo/delay_seconds/value"] == pytest.approx(at(90)[0])
        for name in ("effects-only", "delay-sync"):  # the tempo stays; a synced preset takes it on loading
            sock.sendto(dgram("/latentbridge/preset/load", name), to)
            wait_for(preset_is(rig, name))
        wait_for(lambda: echo(rig.chain) == pytest.approx(at(90)[0]))
        node = tree(rig.chain, rig.control.tempo_bpm)["CONTENTS"]["latentbridge"]["CONTENTS"]["tempo"]
        assert node["VALUE"] == [90] and node["UNIT"] == ["BPM"] and node["RANGE"] == [{"MIN": 20.0, "MAX": 999.0}]
        assert "VALUE" not in tree(rig.chain)["CONTENTS"]["latentbridge"]["CONTENTS"]["tempo"]
    finally:
        sock.close()
        rig.close()


@pytest.mark.parametrize("sync, message", [
    ("{delay_seconds: -0.5}", "tempo_sync/delay_seconds: -0.5 is less than or equal to the minimum of 0"),
    ("{delay_seconds: 0}", "less than or equal to the minimum of 0"),
    ("{delay_seconds: fast}", "tempo_sync/delay_seconds: 'fast' is not of type 'number'"),
    ("{delay_seconds: .nan}", "stage echo: tempo_sync delay_seconds: beats must be a finite number > 0"),
    ("{delay_time: 1}", "stage echo: tempo_sync delay_time: no such parameter"),
    ("{feedback: 1}", "stage echo: tempo_sync feedback: unit 'none' cannot follow a tempo"),
])
def test_bad_tempo_sync_entries_get_one_line_errors(tmp_path: Path, sync: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"stages: [{{name: echo, kind: effect, effect: delay, tempo_sync: {sync}}}]")
    with pytest.raises(LatentbridgeError, match=message) as info:
        load_chain(path, RATE)
    assert "\n" not in str(info.value)


def test_units_that_cannot_sync_are_named(tmp_path: Path) -> None:
    path = tmp_path / "gain.yaml"
    path.write_text("stages: [{name: input, kind: gain, tempo_sync: {gain_db: 1}}]")
    with pytest.raises(LatentbridgeError, match="stage input: tempo_sync gain_db: unit 'dB' cannot follow"):
        load_chain(path, RATE)
    path.write_text("stages: [{name: comp, kind: effect, effect: compressor, tempo_sync: {release_ms: 0.25}}]")
    chain = load_chain(path, RATE)  # any parameter in ms follows
    assert chain.tempo_sync == {("comp", "release_ms"): 0.25}
