"""OSC control over real UDP on 127.0.0.1 (receiver process + pump thread) and OSCQuery over real HTTP, on a
chain without an audio device."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.presets import load_chain
from realtime.osc_control import OscControl, address_table
from realtime.oscquery import OscQueryServer

RATE = 48000


def dgram(address: str, *args: object) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class Rig:
    def __init__(self, allow: list[str] | None = None, reply: tuple[str, int] | None = None) -> None:
        self.chain = load_chain("morph-reed", RATE)
        self.loaded: list[str] = []
        self.control = OscControl(lambda: self.chain, self.load, "127.0.0.1", 0, allow, reply)
        self.control.start()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)

    def load(self, name: str) -> None:
        self.chain = load_chain(name, RATE)
        self.loaded.append(name)

    def send(self, data: bytes, sock: socket.socket | None = None) -> None:
        (sock or self.sock).sendto(data, ("127.0.0.1", self.control.port))

    def settle(self, accepted: int | None = None, timeout: float = 5.0) -> dict[str, int]:
        """Wait until the receiver has reported (and the pump applied) what was sent."""
        deadline = time.monotonic() + timeout
        time.sleep(0.05)
        while time.monotonic() < deadline:
            counts = self.control.counts
            if accepted is None or counts.get("accepted", 0) >= accepted:
                time.sleep(0.3)  # one more idle report: everything before it is applied
                return self.control.counts
            time.sleep(0.02)
        raise AssertionError(f"the receiver reported {self.control.counts}")

    def close(self) -> None:
        self.control.stop()
        self.sock.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def amount(chain: Chain) -> float:
    return chain.parameter("morph", "amount").target


def test_normalised_and_native_values_follow_the_parameter_curves(rig: Rig) -> None:
    rig.send(dgram("/latentbridge/morph/amount", 0.25))
    rig.send(dgram("/latentbridge/room/room_size/value", 0.9))
    rig.send(dgram("/latentbridge/input/gain_db", 0.5))  # normalised: halfway in dB between -60 and +24
    rig.send(dgram("/latentbridge/chain/wet/value", 0.4))
    rig.settle(4)
    assert amount(rig.chain) == pytest.approx(0.25)
    assert rig.chain.parameter("room", "room_size").target == pytest.approx(0.9)
    assert rig.chain.parameter("input", "gain_db").target == pytest.approx(-18.0)
    assert rig.chain.params["wet"].target == pytest.approx(0.4)


def test_out_of_range_is_clamped_and_nan_wrong_types_unknown_are_dropped_and_counted(rig: Rig) -> None:
    rig.send(dgram("/latentbridge/morph/amount", 0.5))
    rig.settle(1)
    for data in (dgram("/latentbridge/morph/amount", float("nan")), dgram("/latentbridge/morph/amount", "loud"),
                 dgram("/latentbridge/morph/amount", 1.0, 2.0), dgram("/latentbridge/nope/amount", 0.1),
                 dgram("/other/thing", 1), b"\x00\x01garbage", dgram("/latentbridge/morph/target", 3.0)):
        rig.send(data)
    counts = rig.settle(1)
    assert amount(rig.chain) == 0.5
    assert counts["malformed"] == 1 and counts["unknown"] == 2 and counts["bad_value"] == 4
    rig.send(dgram("/latentbridge/morph/amount/value", 7.0))
    rig.send(dgram("/latentbridge/room/room_size", -3.0))
    rig.settle(3)
    assert amount(rig.chain) == 1.0 and rig.chain.parameter("room", "room_size").target == 0.0


def test_targets_xy_bypass_and_a_bad_target_changes_nothing(rig: Rig) -> None:
    morph = rig.chain.stage("morph")
    rig.send(dgram("/latentbridge/morph/target", "flute:72"))
    rig.send(dgram("/latentbridge/morph/corner/b", "string"))
    rig.send(dgram("/latentbridge/morph/xy", 0.2, 0.9))
    rig.send(dgram("/latentbridge/room/bypass", 1))
    rig.settle(4)
    assert morph.texts["target"] == "flute:72" and morph.texts["corner/b"] == "string"
    assert morph.params["x"].target == pytest.approx(0.2) and morph.params["y"].target == pytest.approx(0.9)
    assert rig.chain.stage("room").bypassed
    rig.send(dgram("/latentbridge/morph/target", "kazoo"))
    rig.settle(5)
    assert morph.texts["target"] == "flute:72" and rig.control.counts["refused_here"] == 1


def test_bundles_with_future_timetags_apply_on_arrival(rig: Rig) -> None:
    bundle = OscBundleBuilder(time.time() + 3600)  # an hour ahead: must not be waited for
    msg = OscMessageBuilder("/latentbridge/morph/amount")
    msg.add_arg(0.125)
    bundle.add_content(msg.build())
    rig.send(bundle.build().dgram)
    now = OscBundleBuilder(IMMEDIATELY)
    msg = OscMessageBuilder("/latentbridge/room/damping/value")
    msg.add_arg(0.75)
    now.add_content(msg.build())
    rig.send(now.build().dgram)
    start = time.monotonic()
    rig.settle(2)
    assert time.monotonic() - start < 3
    assert amount(rig.chain) == 0.125 and rig.chain.parameter("room", "damping").target == 0.75


def test_query_replies_with_every_value_and_preset_load_swaps_the_table(rig: Rig) -> None:
    rig.send(dgram("/latentbridge/query"))
    values: dict[str, float] = {}
    while True:
        data, _ = rig.sock.recvfrom(65536)
        message = OscPacket(data).messages[0].message
        if message.address == "/latentbridge/query/done":
            break
        if message.address.endswith("/value"):
            values[message.address[: -len("/value")]] = message.params[0]
    expected = {f"/latentbridge/{s}/{p.spec.name}": p.target for s, p in rig.chain.parameters()}
    assert values.keys() == expected.keys()
    assert all(values[k] == pytest.approx(v) for k, v in expected.items())
    rig.send(dgram("/latentbridge/preset/load", "effects-only"))
    rig.settle(2)
    assert rig.loaded == ["effects-only"] and "echo" in [s.name for s in rig.chain.stages]
    rig.send(dgram("/latentbridge/echo/feedback/value", 0.5))  # an address only the new preset has
    rig.settle(3)
    assert rig.chain.parameter("echo", "feedback").target == 0.5


def test_replies_on_change_carry_value_and_display() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    rig = Rig(reply=("127.0.0.1", listener.getsockname()[1]))
    try:
        rig.send(dgram("/latentbridge/input/gain_db/value", -6.0))
        got = {}
        while len(got) < 2:
            message = OscPacket(listener.recvfrom(65536)[0]).messages[0].message
            got[message.address] = message.params[0]
        assert got == {"/latentbridge/input/gain_db/value": -6.0, "/latentbridge/input/gain_db/display": "-6.0 dB"}
    finally:
        rig.close()
        listener.close()


def test_packets_from_outside_the_allow_list_change_nothing() -> None:
    rig = Rig(allow=["127.0.0.2/32"])
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))
    try:
        rig.send(dgram("/latentbridge/morph/amount", 0.1))  # from 127.0.0.1: not allowed
        counts = rig.settle()
        assert amount(rig.chain) == 0.8 and counts["refused"] == 1 and counts.get("accepted", 0) == 0
        rig.send(dgram("/latentbridge/morph/amount", 0.1), other)
        rig.settle(1)
        assert amount(rig.chain) == pytest.approx(0.1)
    finally:
        other.close()
        rig.close()


def test_a_busy_port_is_a_one_line_error() -> None:
    rig = Rig()
    try:
        with pytest.raises(LatentbridgeError, match=f"cannot listen for OSC on 127.0.0.1:{rig.control.port}"):
            OscControl(lambda: rig.chain, rig.load, "127.0.0.1", rig.control.port)
    finally:
        rig.close()


def test_address_table_is_generated_from_the_parameter_tables() -> None:
    chain = load_chain("xy-pad", RATE)
    table = address_table(chain)
    assert table["/latentbridge/morph/amount"] == "normalised"
    assert table["/latentbridge/morph/amount/value"] == "value"
    assert table["/latentbridge/morph/corner/d"] == "command" and table["/latentbridge/morph/xy"] == "xy"
    assert table["/latentbridge/chain/wet"] == "normalised" and table["/latentbridge/bypass"] == "bypass"
    assert len([a for a, k in table.items() if k == "normalised"]) == len(chain.parameters())


def test_oscquery_tree_host_info_and_values_match_the_chain() -> None:
    chain = load_chain("morph-reed", RATE)
    chain.parameter("morph", "amount").set(0.3)
    server = OscQueryServer(lambda: chain, osc_port=9000, port=0, advertise=False)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        with urllib.request.urlopen(base + "/") as r:
            tree = json.loads(r.read())
        node = tree["CONTENTS"]["latentbridge"]["CONTENTS"]["morph"]["CONTENTS"]["amount"]
        assert node["FULL_PATH"] == "/latentbridge/morph/amount" and node["TYPE"] == "f"
        assert node["RANGE"] == [{"MIN": 0.0, "MAX": 1.0}] and node["VALUE"] == [pytest.approx(0.3)]
        assert node["CONTENTS"]["value"]["VALUE"] == [pytest.approx(0.3)] and node["DESCRIPTION"]
        gain = tree["CONTENTS"]["latentbridge"]["CONTENTS"]["input"]["CONTENTS"]["gain_db"]
        assert gain["CONTENTS"]["value"]["RANGE"] == [{"MIN": -60.0, "MAX": 24.0}]
        assert gain["CONTENTS"]["value"]["UNIT"] == ["dB"]
        with urllib.request.urlopen(base + "/latentbridge/morph/target") as r:
            assert json.loads(r.read())["VALUE"] == ["reed"]
        with urllib.request.urlopen(base + "/?HOST_INFO") as r:
            info = json.loads(r.read())
        assert info["OSC_PORT"] == 9000 and info["OSC_TRANSPORT"] == "UDP"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(base + "/latentbridge/nope")
    finally:
        server.stop()


def test_oscquery_is_advertised_over_zeroconf() -> None:
    from zeroconf import Zeroconf

    chain = load_chain("effects-only", RATE)
    server = OscQueryServer(lambda: chain, osc_port=9000, port=0, advertise=True)
    server.start()
    try:
        if server.zeroconf is None:
            pytest.skip("no multicast on this machine's loopback: zeroconf cannot advertise")
        browser = Zeroconf(interfaces=["127.0.0.1"])
        try:
            info = browser.get_service_info("_oscjson._tcp.local.", "latentbridge._oscjson._tcp.local.", timeout=5000)
        finally:
            browser.close()
        assert info is not None and info.port == server.port and "127.0.0.1" in info.parsed_addresses()
    finally:
        server.stop()
