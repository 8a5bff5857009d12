"""Control changes applied between two worker blocks, and their log for `live --record-osc FILE`.

What changes is a `plugin_host.control_change.ControlChange` (the type automation files and recorded sessions use
too); a `PendingChange` is one on its way to the worker: applied to the chain of the moment just before a block,
it returns its log row, or None when it no longer applies (a preset without its stage was loaded in between). The
worker logs each at that block's first input sample, so an offline render of the recorded input with the log
(`render --automation FILE`) applies every change at the same sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.control_change import SESSION_FORMAT, SESSION_VERSION, ControlChange


@dataclass(frozen=True)
class PendingChange:
    """A change for the worker; a command carries the call its stage prepared on the chain of that moment."""

    change: ControlChange
    prepared_on: Chain | None = None
    prepared: Callable[[], None] | None = None

    def __call__(self, chain: Chain) -> dict[str, Any] | None:
        change = self.change
        if change.kind == "command" and chain is not self.prepared_on:
            return None  # a preset was loaded in between: the prepared target belongs to the old chain
        if change.kind == "param":
            try:
                chain.parameter(change.stage, change.parameter)
            except LatentbridgeError:
                return None
        if change.kind == "bypass" and change.stage and change.stage not in {s.name for s in chain.stages}:
            return None
        change.apply(chain, self.prepared)
        return change.row()


def parameter_change(stage: str, name: str, value: float) -> PendingChange:
    """Set a parameter's target (native units, already clamped)."""
    return PendingChange(ControlChange(0.0, stage, name, value))


def bypass_change(stage: str | None, on: bool) -> PendingChange:
    """Bypass one stage, or the whole chain when `stage` is None."""
    return PendingChange(ControlChange(0.0, stage or "", "", float(on), kind="bypass"))


def command_change(chain_then: Chain, stage: str, command: str, value: str) -> PendingChange:
    """A string control, prepared now (files loaded, encoded) on the chain of the moment, applied later."""
    prepared = chain_then.stage(stage).prepare_command(command, value)
    return PendingChange(ControlChange(0.0, stage, command, value, kind="command"), chain_then, prepared)


def midi_change(message: bytes) -> PendingChange:
    """A raw MIDI message for the chain's MIDI stages (logged as hex bytes)."""
    return PendingChange(ControlChange(0.0, "", "", message.hex(), kind="midi"))


def preset_row(name: str) -> dict[str, Any]:
    return ControlChange(0.0, "", "", name, kind="preset").row()


class ControlLog:
    """Rows appended by the worker (a list append, nothing else on the audio side); written at `close`."""

    def __init__(self, path: str | Path, samplerate: int, blocksize: int, preset: str, force: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not force:
            raise LatentbridgeError(f"{self.path}: already exists (use --force to overwrite)")
        self.header = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "samplerate": samplerate,
                       "blocksize": blocksize, "preset": preset}
        self.rows: list[dict[str, Any]] = []

    def add(self, sample: int, row: dict[str, Any]) -> None:
        self.rows.append({"sample": sample, **row})

    def close(self, primed_samples: int) -> None:
        rate = self.header["samplerate"]
        changes = [{**r, "seconds": r["sample"] / rate} for r in list(self.rows)]
        session = {**self.header, "primed_samples": primed_samples, "changes": changes}
        with atomic_output(self.path, force=True) as tmp:
            tmp.write_text(json.dumps(session, indent=0), encoding="utf-8")
