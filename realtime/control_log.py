"""Control changes applied between two worker blocks, and their log for `live --record-osc FILE`.

A `Change` is a function of the current chain that applies one control change and returns its log row
(kind, stage, parameter, value) or None when it no longer applies. The engine's worker runs pending changes
just before processing a block and logs each at that block's first input sample, so an offline render of
the recorded input with the log (`render --automation FILE`) applies every change at the same sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.render import SESSION_FORMAT, SESSION_VERSION

Change = Callable[[Chain], dict[str, Any] | None]


def parameter_change(stage: str, name: str, value: float) -> Change:
    """Set a parameter's target (native units, already clamped)."""
    def change(chain: Chain) -> dict[str, Any] | None:
        try:
            param = chain.parameter(stage, name)
        except LatentbridgeError:  # a preset without it was loaded in between
            return None
        param.set(value)
        return {"kind": "param", "stage": stage, "parameter": name, "value": value}
    return change


def bypass_change(stage: str | None, on: bool) -> Change:
    """Bypass one stage, or the whole chain when `stage` is None."""
    def change(chain: Chain) -> dict[str, Any] | None:
        if stage is None:
            chain.bypassed = on
        elif stage in {s.name for s in chain.stages}:
            chain.stage(stage).bypassed = on
        else:
            return None
        return {"kind": "bypass", "stage": stage or "", "parameter": "", "value": float(on)}
    return change


def command_change(chain_then: Chain, stage: str, command: str, value: str) -> Change:
    """A string control, prepared now (files loaded, encoded) on the chain of the moment, applied later."""
    apply = chain_then.stage(stage).prepare_command(command, value)

    def change(chain: Chain) -> dict[str, Any] | None:
        if chain is not chain_then:
            return None  # a preset was loaded in between: the prepared target belongs to the old chain
        apply()
        return {"kind": "command", "stage": stage, "parameter": command, "value": value}
    return change


def preset_row(name: str) -> dict[str, Any]:
    return {"kind": "preset", "stage": "", "parameter": "", "value": name}


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
