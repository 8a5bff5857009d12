"""MIDI CC -> chain parameters: the preset's `midi_map` and MIDI learn's additions, as an immutable map the live
engine swaps whole (the worker reads it, OSC learn/forget replace it).

    midi_map:
      - {cc: 1, target: pad/x}                         # CC 0..127 over the parameter's range along its curve
      - {cc: 74, channel: 1, target: pad/y, low: 0.2, high: 0.8}   # MIDI channel 1..16 only; native units

A CC value v (0..127) sets the target parameter to `low + v / 127 * (high - low)` when low/high are given
(native units, inside the parameter's range), else to the parameter's own normalised curve at v / 127. An entry
without a channel answers every channel. One CC may drive several parameters; learning a parameter replaces
the CCs it had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from export.core.errors import LatentbridgeError

if TYPE_CHECKING:
    from plugin_host.chain import Chain

ENTRY_KEYS = {"cc", "channel", "target", "low", "high"}


@dataclass(frozen=True)
class CcMapping:
    """One CC (on one channel 1..16, or any when None) driving `stage`/`parameter`."""

    cc: int
    stage: str
    parameter: str
    channel: int | None = None
    low: float | None = None
    high: float | None = None

    @property
    def target(self) -> str:
        return f"{self.stage}/{self.parameter}"

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"cc": self.cc, "target": self.target}
        row.update({k: v for k, v in (("channel", self.channel), ("low", self.low), ("high", self.high))
                    if v is not None})
        return row


@dataclass(frozen=True)
class MidiMap:
    """See the module docstring."""

    entries: tuple[CcMapping, ...] = ()

    def values(self, chain: Chain, channel: int, cc: int, value: int) -> list[tuple[str, str, float]]:
        """(stage, parameter, native value) for a CC message (channel 1..16); parameters the chain lacks (a map
        learnt on another preset) are left out."""
        out = []
        x = min(127, max(0, value)) / 127.0
        for m in self.entries:
            if m.cc != cc or (m.channel is not None and m.channel != channel):
                continue
            try:
                spec = chain.parameter(m.stage, m.parameter).spec
            except LatentbridgeError:
                continue
            native = spec.from_normalised(x) if m.low is None or m.high is None else m.low + x * (m.high - m.low)
            out.append((m.stage, m.parameter, spec.clamp(native)))
        return out

    def learnt(self, cc: int, channel: int, stage: str, parameter: str) -> MidiMap:
        """This map with `stage`/`parameter` driven by `cc` on `channel` only (its earlier CCs dropped)."""
        kept = tuple(m for m in self.entries if (m.stage, m.parameter) != (stage, parameter))
        return MidiMap((*kept, CcMapping(cc, stage, parameter, channel)))

    def forget(self, stage: str, parameter: str) -> MidiMap:
        return MidiMap(tuple(m for m in self.entries if (m.stage, m.parameter) != (stage, parameter)))

    def rows(self) -> list[dict[str, Any]]:
        return [m.row() for m in self.entries]


def split_target(chain: Chain, target: str) -> tuple[str, str]:
    """"stage/parameter" -> (stage, parameter), checked against the chain (one-line errors)."""
    stage, sep, parameter = target.partition("/")
    if not sep or not stage or not parameter or "/" in parameter:
        raise LatentbridgeError(f"MIDI target must be STAGE/PARAMETER, got {target!r}")
    chain.parameter(stage, parameter)
    return stage, parameter


def _integer(entry: dict[str, Any], key: str, low: int, high: int, where: str) -> int | None:
    value = entry.get(key)
    if value is None and key != "cc":  # cc is required
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LatentbridgeError(f"{where}: {key} must be an integer from {low} to {high}, got {value!r}")
    return value


def parse_midi_map(rows: Any, chain: Chain, preset: str) -> MidiMap:
    """A preset's `midi_map` list -> MidiMap, every entry checked against `chain`; one-line errors naming it."""
    if not isinstance(rows, list):
        raise LatentbridgeError(f"preset {preset}: midi_map must be a list of {{cc, target}} entries")
    entries = []
    for i, entry in enumerate(rows, start=1):
        where = f"preset {preset}: midi_map entry {i}"
        if not isinstance(entry, dict) or not {"cc", "target"} <= set(entry) or set(entry) - ENTRY_KEYS:
            raise LatentbridgeError(f"{where}: needs cc and target (and optionally channel, low, high), got "
                                    f"{entry!r}")
        _integer(entry, "cc", 0, 127, where)
        channel = _integer(entry, "channel", 1, 16, where)
        if not isinstance(entry["target"], str):
            raise LatentbridgeError(f"{where}: target must be a string STAGE/PARAMETER")
        try:
            stage, parameter = split_target(chain, entry["target"])
        except LatentbridgeError as exc:
            raise LatentbridgeError(f"{where}: {exc}") from exc
        spec = chain.parameter(stage, parameter).spec
        bounds = [entry.get("low"), entry.get("high")]
        if (bounds[0] is None) != (bounds[1] is None):
            raise LatentbridgeError(f"{where}: give both low and high, or neither")
        for b in bounds:
            if b is not None and (isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b)
                                  or not spec.low <= b <= spec.high):
                raise LatentbridgeError(f"{where}: low/high must be numbers in [{spec.low:g}, {spec.high:g}] "
                                        f"({entry['target']}), got {b!r}")
        low, high = (None, None) if bounds[0] is None or bounds[1] is None else (float(bounds[0]), float(bounds[1]))
        entries.append(CcMapping(int(entry["cc"]), stage, parameter, channel, low, high))
    return MidiMap(tuple(entries))
