"""A preset's `midi_map`: CC values onto parameters, learning and forgetting, and one-line errors (exit 2 from the
CLI) for unknown stages or parameters, CCs outside 0-127 and malformed entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from export.core.errors import LatentbridgeError
from plugin_host.midi_map import MidiMap
from plugin_host.presets import build_chain, load_chain, read_preset

STAGES = [{"name": "input", "kind": "gain"}, {"name": "echo", "kind": "effect", "effect": "delay"}]


def chain_with(midi_map: Any) -> Any:
    return build_chain({"name": "t", "stages": STAGES, "midi_map": midi_map}, 48000)


def test_cc_values_follow_the_parameters_curve_or_the_given_bounds() -> None:
    chain = chain_with([{"cc": 7, "target": "input/gain_db"},
                        {"cc": 7, "target": "echo/mix", "channel": 2, "low": 0.2, "high": 0.6}])
    spec = chain.parameter("input", "gain_db").spec
    assert chain.midi_map.values(chain, 1, 7, 0) == [("input", "gain_db", spec.low)]
    assert chain.midi_map.values(chain, 1, 7, 127) == [("input", "gain_db", spec.high)]
    assert chain.midi_map.values(chain, 1, 7, 64)[0][2] == pytest.approx(spec.from_normalised(64 / 127))
    both = chain.midi_map.values(chain, 2, 7, 127)
    assert both == [("input", "gain_db", spec.high), ("echo", "mix", pytest.approx(0.6))]
    assert chain.midi_map.values(chain, 2, 7, 0)[1][2] == pytest.approx(0.2)
    assert chain.midi_map.values(chain, 1, 8, 64) == []
    assert chain.describe()["midi_map"][1] == {"cc": 7, "target": "echo/mix", "channel": 2, "low": 0.2, "high": 0.6}


def test_learning_replaces_a_parameters_ccs_and_forgetting_drops_them() -> None:
    chain = chain_with([{"cc": 7, "target": "input/gain_db"}, {"cc": 1, "target": "echo/mix"}])
    learnt = chain.midi_map.learnt(74, 3, "input", "gain_db")
    assert learnt.rows() == [{"cc": 1, "target": "echo/mix"}, {"cc": 74, "target": "input/gain_db", "channel": 3}]
    assert learnt.values(chain, 3, 7, 64) == [] and learnt.values(chain, 1, 74, 64) == []
    assert learnt.values(chain, 3, 74, 127)[0][:2] == ("input", "gain_db")
    assert learnt.forget("input", "gain_db").rows() == [{"cc": 1, "target": "echo/mix"}]
    assert MidiMap().values(chain, 1, 7, 1) == []


@pytest.mark.parametrize(("entry", "says"), [
    ({"cc": 7, "target": "nostage/gain_db"}, "no stage 'nostage'"),
    ({"cc": 7, "target": "input/nothing"}, "input has no parameter 'nothing'"),
    ({"cc": 128, "target": "input/gain_db"}, "cc must be an integer from 0 to 127, got 128"),
    ({"cc": -1, "target": "input/gain_db"}, "cc must be an integer from 0 to 127"),
    ({"cc": 1.5, "target": "input/gain_db"}, "cc must be an integer"),
    ({"cc": 7, "channel": 17, "target": "input/gain_db"}, "channel must be an integer from 1 to 16"),
    ({"cc": 7}, "needs cc and target"),
    ({"cc": 7, "target": "input/gain_db", "curve": "log"}, "needs cc and target"),
    ("cc7", "needs cc and target"),
    ({"cc": 7, "target": "gain_db"}, "must be STAGE/PARAMETER"),
    ({"cc": 7, "target": "input/gain_db", "low": 0}, "give both low and high"),
    ({"cc": 7, "target": "echo/mix", "low": 0, "high": 3}, "low/high must be numbers in [0, 1]"),
])
def test_bad_entries_are_refused_with_a_line_naming_the_entry(entry: Any, says: str) -> None:
    with pytest.raises(LatentbridgeError) as err:
        chain_with([{"cc": 1, "target": "echo/mix"}, entry])
    message = str(err.value)
    assert "midi_map entry 2" in message and says in message and "\n" not in message, message


def test_a_bad_midi_map_stops_the_cli_with_exit_2_and_one_line(tmp_path: Path) -> None:
    preset = tmp_path / "bad.yaml"
    preset.write_text(yaml.safe_dump({"stages": STAGES, "midi_map": [{"cc": 300, "target": "input/gain_db"}]}))
    done = subprocess.run([sys.executable, "-m", "export.app.cli", "live", "--preset", str(preset), "--duration",
                           "0.1", "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "midi_map entry 1: cc must be an integer from 0 to 127, got 300" in lines[0], lines
    not_a_list = tmp_path / "list.yaml"
    not_a_list.write_text(yaml.safe_dump({"stages": STAGES, "midi_map": {"cc": 1}}))
    with pytest.raises(LatentbridgeError, match="midi_map: .* is not of type 'array'"):
        read_preset(not_a_list)


def test_the_bundled_midi_pad_preset_maps_cc1_and_cc74_to_the_pad() -> None:
    chain = load_chain("midi-pad", 48000)
    assert chain.describe()["midi_map"] == [{"cc": 1, "target": "pad/x"}, {"cc": 74, "target": "pad/y"}]
    assert chain.midi_map.values(chain, 5, 74, 127) == [("pad", "y", 1.0)]
    assert chain.stage("pad").describe()["voices"] == 8
