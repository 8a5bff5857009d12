"""One ControlChange type for OSC (live), automation files and recorded sessions: what the worker logs is what
`render --automation` reads back, and a change that no longer applies after a preset load is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.core.errors import LatentbridgeError
from plugin_host.control_change import ControlChange, read_automation
from plugin_host.presets import load_chain
from realtime.control_log import ControlLog, bypass_change, command_change, parameter_change, preset_row

RATE = 48000


def test_a_logged_session_reads_back_as_the_same_changes(tmp_path: Path) -> None:
    chain = load_chain("xy-pad", RATE)
    pending = [(256, parameter_change("morph", "amount", 0.75)), (512, bypass_change("morph", True)),
               (768, bypass_change(None, False)), (1024, command_change(chain, "morph", "corner/b", "flute:72"))]
    log = ControlLog(tmp_path / "osc.json", RATE, 256, "xy-pad")
    for sample, change in pending:
        row = change(chain)
        assert row is not None
        log.add(sample, row)
    log.add(1280, preset_row("effects-only"))
    log.close(primed_samples=0)
    back = read_automation(tmp_path / "osc.json")
    assert [(c.kind, c.stage, c.parameter, c.value, c.sample, c.rate) for c in back] == [
        ("param", "morph", "amount", 0.75, 256, RATE), ("bypass", "morph", "", 1.0, 512, RATE),
        ("bypass", "", "", 0.0, 768, RATE), ("command", "morph", "corner/b", "flute:72", 1024, RATE),
        ("preset", "", "", "effects-only", 1280, RATE)]
    assert [c.position(RATE) for c in back] == [256, 512, 768, 1024, 1280]
    # applied live: the chain's state is what the rows say
    assert chain.parameter("morph", "amount").target == 0.75
    assert chain.stage("morph").texts["corner/b"] == "flute:72"
    assert chain.stage("morph").bypassed and not chain.bypassed


def test_replaying_the_changes_offline_sets_the_same_state() -> None:
    live, offline = load_chain("xy-pad", RATE), load_chain("xy-pad", RATE)
    changes = [parameter_change("morph", "x", 0.2), command_change(live, "morph", "target", "brass")]
    rows = [change(live) for change in changes]
    for row in rows:
        assert row is not None
        ControlChange(0.0, row["stage"], row["parameter"], row["value"], kind=row["kind"]).apply(offline)
    assert offline.parameter("morph", "x").target == live.parameter("morph", "x").target == 0.2
    assert offline.stage("morph").texts == live.stage("morph").texts


def test_changes_for_a_chain_that_was_replaced_are_dropped() -> None:
    old = load_chain("xy-pad", RATE)
    new = load_chain("effects-only", RATE)
    assert parameter_change("morph", "amount", 1.0)(new) is None  # no morph stage any more
    assert bypass_change("morph", True)(new) is None
    assert command_change(old, "morph", "target", "flute")(new) is None  # prepared on the old chain
    assert parameter_change("input", "gain_db", -6.0)(new) == {"kind": "param", "stage": "input",
                                                               "parameter": "gain_db", "value": -6.0}


def test_a_preset_change_returns_the_new_chain() -> None:
    chain = load_chain("effects-only", RATE)
    swapped = ControlChange(0.0, "", "", "xy-pad", kind="preset").apply(chain)
    assert swapped is not chain and "morph" in {s.name for s in swapped.stages}
    with pytest.raises(LatentbridgeError):
        ControlChange(0.0, "nope", "gain_db", 1.0).apply(chain)
