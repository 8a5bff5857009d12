"""MIDI learn over real UDP OSC on 127.0.0.1: /latentbridge/midi/learn maps the next CC that moves to the
parameter (the CC then sets it, as a logged parameter change), /latentbridge/midi/forget drops it; unknown
targets are refused without touching the map."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pythonosc.udp_client import SimpleUDPClient

from plugin_host.chain import Chain
from plugin_host.presets import build_chain
from realtime.midi_input import MidiRouter
from realtime.osc_control import OscControl

STAGES = [{"name": "input", "kind": "gain"}, {"name": "echo", "kind": "effect", "effect": "delay"}]


@pytest.fixture
def rig() -> Iterator[tuple[Chain, MidiRouter, OscControl, SimpleUDPClient]]:
    chain = build_chain({"name": "learn", "stages": STAGES, "midi_map": [{"cc": 1, "target": "echo/mix"}]}, 48000)
    router = MidiRouter(None)
    osc = OscControl(lambda: chain, lambda name: None, "127.0.0.1", 0, midi=router.request)
    osc.start()
    yield chain, router, osc, SimpleUDPClient("127.0.0.1", osc.port)
    osc.stop()


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def apply(chain: Chain, router: MidiRouter, messages: list[bytes]) -> list[dict[str, object]]:
    """What the engine's worker does at a block's start: the routed changes applied, their log rows."""
    return [row for change in router.changes(chain, messages) if (row := change(chain)) is not None]


def test_learn_maps_the_next_cc_that_moves_and_forget_drops_it(rig: tuple) -> None:
    chain, router, osc, client = rig
    assert apply(chain, router, [b"\xb0\x4a\x7f"]) == [{"kind": "midi", "stage": "", "parameter": "",
                                                        "value": "b04a7f"}]  # CC74 unmapped: to the stages
    client.send_message("/latentbridge/midi/learn", "input/gain_db")
    wait_for(lambda: not router.requests.empty(), "the learn request never arrived")
    assert apply(chain, router, []) == [] and router.status(chain)["learning"] == "input/gain_db"
    rows = apply(chain, router, [b"\xb2\x4a\x7f", b"\xb2\x4a\x00"])  # CC74 on channel 3 moves: learnt
    spec = chain.parameter("input", "gain_db").spec
    assert rows == [{"kind": "param", "stage": "input", "parameter": "gain_db", "value": spec.high},
                    {"kind": "param", "stage": "input", "parameter": "gain_db", "value": spec.low}]
    assert chain.parameter("input", "gain_db").target == spec.low
    status = router.status(chain)
    assert status["learning"] is None
    assert status["map"] == [{"cc": 1, "target": "echo/mix"}, {"cc": 74, "target": "input/gain_db", "channel": 3}]
    assert chain.describe()["midi_map"] == status["map"]
    assert apply(chain, router, [b"\xb0\x4a\x40"])[0]["kind"] == "midi"  # channel 1: not the learnt one
    client.send_message("/latentbridge/midi/forget", "input/gain_db")
    wait_for(lambda: not router.requests.empty(), "the forget request never arrived")
    assert apply(chain, router, [b"\xb2\x4a\x40"])[0]["kind"] == "midi"
    assert router.status(chain)["map"] == [{"cc": 1, "target": "echo/mix"}]


def test_unknown_targets_are_refused_and_leave_the_map_alone(rig: tuple) -> None:
    chain, router, osc, client = rig
    client.send_message("/latentbridge/midi/learn", "nostage/gain")
    client.send_message("/latentbridge/midi/learn", "input/nothing")
    client.send_message("/latentbridge/midi/learn", 3.0)  # not a string: refused by the receiver
    wait_for(lambda: osc.counts.get("refused_here", 0) == 2 and osc.counts.get("bad_value", 0) == 1,
             f"the bad requests were not all refused: {osc.counts}")
    assert router.requests.empty()
    assert apply(chain, router, [b"\xb0\x01\x7f"]) == [{"kind": "param", "stage": "echo", "parameter": "mix",
                                                        "value": 1.0}]
