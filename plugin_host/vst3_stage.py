"""An external VST3 (or AU on macOS) plugin as a chain stage, through `pedalboard.load_plugin`.

Audio is float32 mono [n] at the chain rate, processed with `reset=False` so the plugin's state carries across
blocks. Its automatable float parameters are exposed like ours: the plugin's own range becomes the native
range (normalised 0..1 maps linearly onto it); booleans and choices keep pedalboard's mapping of 0..1.
`delay_samples` is the latency the plugin reports (pedalboard compensates it inside `process`, so it is 0
unless the plugin reports none).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pedalboard

from export.errors import LatentbridgeError
from plugin_host.effect_stage import BUFFER_SIZE
from plugin_host.parameters import Parameter
from plugin_host.stage import Stage


def _parameters(plugin: pedalboard.Plugin) -> dict[str, Parameter]:
    table = {}
    for name, param in plugin.parameters.items():
        low, high = (float(v) for v in param.range[:2]) if param.range else (0.0, 1.0)
        value = float(getattr(plugin, name)) if isinstance(getattr(plugin, name), int | float) else low
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            continue
        table[name] = Parameter(name, low, high, min(high, max(low, value)), unit=param.label or "",
                                smoothing_s=0.02, description=f"{param.name} (plugin parameter)")
    return table


class Vst3Stage(Stage):
    kind = "vst3"

    def __init__(self, name: str, rate: int, path: str) -> None:
        file = Path(path)
        if not file.exists():
            raise LatentbridgeError(f"{path}: no such plugin")
        try:
            self.plugin = pedalboard.load_plugin(str(file))
        except (ImportError, RuntimeError, ValueError) as exc:
            raise LatentbridgeError(f"{path}: cannot load the plugin ({str(exc).splitlines()[0]})") from exc
        self.path = path
        self.table = _parameters(self.plugin)
        super().__init__(name, rate, list(self.table.values()))

    def render(self, block: np.ndarray) -> np.ndarray:
        for name, value in self.params.items():
            value.block(block.shape[0], self.rate)
            setattr(self.plugin, name, value.current)
        out = self.plugin.process(block[None], self.rate, buffer_size=BUFFER_SIZE, reset=False)
        return np.ascontiguousarray(out[0], dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "path": self.path}
