"""Gain stage: a smoothed gain in dB (input trim or output level). Float32 mono blocks at the chain rate."""

from __future__ import annotations

import numpy as np

from plugin_host.parameters import Parameter
from plugin_host.stage import Stage

GAIN = Parameter("gain_db", -60.0, 24.0, 0.0, unit="dB", smoothing_s=0.02, description="gain in dB")


class GainStage(Stage):
    kind = "gain"

    def __init__(self, name: str, rate: int) -> None:
        super().__init__(name, rate, [GAIN])

    def render(self, block: np.ndarray) -> np.ndarray:
        db = self.params["gain_db"].block(block.shape[0], self.rate)
        return (block * np.power(np.float32(10.0), db / np.float32(20.0))).astype(np.float32)
