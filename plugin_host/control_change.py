"""One control change: what an OSC message, an automation file row and a recorded `live --record-osc` session entry
all are, and how it is applied, the same way live (between two worker blocks) and in `render` (at its sample).

A change has a kind (param, bypass, command, preset, midi), a stage ("" for the whole chain, preset loads and MIDI),
the parameter or command, and its value (native units; a string for commands and presets; for MIDI the message's
bytes in hex, e.g. "903c64": a note-on played to the chain's MIDI stages). It takes effect at
`seconds`, or at exactly `sample` when its `rate` is the chain's (recorded sessions). Automation files: CSV
(`seconds,stage,parameter,value` with a header), JSON (a list of such objects) or an OSC session.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.presets import load_chain

SESSION_FORMAT = "latentbridge-osc-session"
SESSION_VERSION = 1
KINDS = ("param", "bypass", "command", "preset", "midi")


@dataclass(frozen=True)
class ControlChange:
    """See the module docstring."""

    seconds: float
    stage: str  # "" for the whole chain (bypass) and for preset loads
    parameter: str  # the parameter, or the command (target, corner/a, ...)
    value: float | str  # native units; a string for commands and presets; hex bytes for MIDI
    kind: str = "param"  # one of KINDS
    sample: int | None = None  # the exact sample at `rate` (recorded sessions)
    rate: int | None = None

    def position(self, rate: int) -> int:
        return self.sample if self.sample is not None and self.rate == rate else round(self.seconds * rate)

    def row(self) -> dict[str, Any]:
        """The change as a session-log row (without its sample)."""
        return {"kind": self.kind, "stage": self.stage, "parameter": self.parameter, "value": self.value}

    def apply(self, chain: Chain, prepared: Callable[[], None] | None = None) -> Chain:
        """Apply the change to `chain`; returns the chain to go on with (a new one after a preset load). A command
        resolved ahead of time (`Stage.prepare_command`, off the audio path) passes its `prepared` call."""
        if self.kind == "param":
            chain.parameter(self.stage, self.parameter).set(float(self.value))
        elif self.kind == "bypass":
            (chain.stage(self.stage) if self.stage else chain).bypassed = float(self.value) >= 0.5
        elif self.kind == "command":
            if prepared is not None:
                prepared()
            else:
                chain.stage(self.stage).command(self.parameter, str(self.value))
        elif self.kind == "midi":
            chain.midi([bytes.fromhex(str(self.value))])
        elif self.kind == "preset":
            return load_chain(str(self.value), chain.rate)
        return chain



def _session_points(path: Path, session: dict[str, Any]) -> list[ControlChange]:
    if session.get("version") != SESSION_VERSION:
        raise LatentbridgeError(f"{path}: OSC session version {session.get('version')} is not supported")
    points = []
    try:
        rate = int(session["samplerate"])
        for i, row in enumerate(session["changes"], start=1):
            kind = str(row["kind"])
            if kind not in KINDS:
                raise LatentbridgeError(f"{path}: change {i} has an unknown kind {kind!r}")
            value = float(row["value"]) if kind in ("param", "bypass") else str(row["value"])
            if kind == "midi":
                bytes.fromhex(str(value))  # not hex: a ValueError, reported below
            points.append(ControlChange(int(row["sample"]) / rate, str(row["stage"]), str(row["parameter"]), value,
                                     kind, int(row["sample"]), rate))
    except (KeyError, TypeError, ValueError) as exc:
        raise LatentbridgeError(f"{path}: not a readable OSC session ({exc})") from exc
    return points


def read_automation(path: str | Path) -> list[ControlChange]:
    """ControlChanges from CSV (`seconds,stage,parameter,value` with a header), JSON (a list of objects with
    those keys) or an OSC session from `live --record-osc`; one-line errors naming the row."""
    path = Path(path)
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such automation file")
    try:
        text = path.read_text(encoding="utf-8")
        rows = json.loads(text) if path.suffix.lower() == ".json" else list(csv.DictReader(text.splitlines()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise LatentbridgeError(f"{path}: not readable automation ({exc})") from exc
    if isinstance(rows, dict) and rows.get("format") == SESSION_FORMAT:
        return _session_points(path, rows)
    if not isinstance(rows, list):
        raise LatentbridgeError(f"{path}: automation must be a list of breakpoints")
    points = []
    for i, row in enumerate(rows, start=1):
        try:
            point = ControlChange(float(row["seconds"]), str(row["stage"]), str(row["parameter"]), float(row["value"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentbridgeError(f"{path}: row {i} needs seconds, stage, parameter and a number value") from exc
        if not (np.isfinite(point.seconds) and point.seconds >= 0 and np.isfinite(point.value)):
            raise LatentbridgeError(f"{path}: row {i}: time and value must be finite, time >= 0")
        points.append(point)
    return sorted(points, key=lambda p: p.seconds)


def check_automation(chain: Chain, points: list[ControlChange]) -> None:
    """One-line errors for unknown stages, parameters and commands (up to the first preset load: later
    changes belong to that preset's chain and are checked when they apply)."""
    for p in points:
        if p.kind == "preset":
            return
        if p.kind == "param":
            chain.parameter(p.stage, p.parameter)
        elif p.stage:
            stage = chain.stage(p.stage)
            if p.kind == "command" and p.parameter not in stage.commands:
                raise LatentbridgeError(f"stage {p.stage!r} has no control {p.parameter!r}")
