"""An external VST3 (or AU on macOS) plugin as a chain stage, through `pedalboard.load_plugin`.

Audio is float32 mono [n] at the chain rate, processed with `reset=False` so the plugin's state carries across
blocks. Its automatable float parameters are exposed like ours: the plugin's own range becomes the native
range (normalised 0..1 maps linearly onto it); booleans are 0/1 parameters (on at >= 0.5); parameters with
text choices only are not exposed. `delay_samples` is the latency the plugin reports: pedalboard does not
compensate it when streaming, so the wet path lags by exactly that much, like our own stages.

Pedalboard re-prepares (and so resets) a plugin whenever a block is longer than any before it, and after a
reset drops the reported latency from the next output. The stage therefore prepares the plugin once for the
largest block (`BUFFER_SIZE`) when it is built, feeds longer blocks in pieces of that size, and pads any
shortened output at the front, so the timeline never moves.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pedalboard

from export.core.errors import LatentbridgeError
from plugin_host.effect_stage import BUFFER_SIZE
from plugin_host.parameters import Parameter
from plugin_host.stage import Stage


def _parameters(plugin: pedalboard.Plugin) -> tuple[dict[str, Parameter], set[str]]:
    """The exposed parameter table and the names of its booleans."""
    table, booleans = {}, set()
    for name, param in plugin.parameters.items():
        if param.type is bool:
            booleans.add(name)
            low, high, value = 0.0, 1.0, float(bool(getattr(plugin, name)))
        elif param.type is float and param.range and None not in param.range[:2]:
            low, high = (float(v) for v in param.range[:2])
            value = float(getattr(plugin, name))
        else:
            continue
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            continue
        table[name] = Parameter(name, low, high, min(high, max(low, value)), unit=param.label or "",
                                smoothing_s=0.0 if name in booleans else 0.02,
                                description=f"{param.name} (plugin parameter)")
    return table, booleans


class Vst3Stage(Stage):
    kind = "vst3"

    def __init__(self, name: str, rate: int, path: str) -> None:
        file = Path(path)
        if not file.exists():
            raise LatentbridgeError(f"{path}: no such plugin")
        try:
            self.plugin = pedalboard.load_plugin(str(file))
        except (ImportError, RuntimeError, ValueError) as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise LatentbridgeError(f"{path}: cannot load the plugin ({reason})") from exc
        self.path = path
        self.table, self.booleans = _parameters(self.plugin)
        super().__init__(name, rate, list(self.table.values()),
                         delay_samples=max(0, int(self.plugin.reported_latency_samples)))
        self.plugin.process(np.zeros((1, BUFFER_SIZE), np.float32), rate, buffer_size=BUFFER_SIZE, reset=False)

    def render(self, block: np.ndarray) -> np.ndarray:
        for name, value in self.params.items():
            value.block(block.shape[0], self.rate)
            setattr(self.plugin, name, value.current >= 0.5 if name in self.booleans else value.current)
        if block.shape[0] == 0:
            return block
        return np.concatenate([self._run(block[i: i + BUFFER_SIZE]) for i in range(0, block.shape[0], BUFFER_SIZE)])

    def _run(self, piece: np.ndarray) -> np.ndarray:
        out = self.plugin.process(piece[None], self.rate, buffer_size=BUFFER_SIZE, reset=False)[0]
        if out.shape[0] < piece.shape[0]:
            out = np.concatenate([np.zeros(piece.shape[0] - out.shape[0], np.float32), out])
        return np.ascontiguousarray(out, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "path": self.path}
