"""Pedalboard's built-in effects as chain stages, with parameter tables (pedalboard gives no ranges).

Audio is float32 mono [n] at the chain rate. Each block is processed with `reset=False`, so the effect's state
(reverb tails, delay lines, envelopes) carries across blocks and any block split equals one call on the
whole signal. Parameter changes are smoothed and applied once per block (the smoothed value at its end).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pedalboard

from export.core.errors import LatentbridgeError
from plugin_host.parameters import Parameter
from plugin_host.stage import Stage

P = Parameter
# One fixed buffer size for every call: pedalboard re-prepares (and so resets) a plugin whose buffer size
# changes, which would make the output depend on how the signal was split into blocks.
BUFFER_SIZE = 8192


def _table() -> dict[str, tuple[Callable[[], pedalboard.Plugin], list[Parameter]]]:
    return {
        "reverb": (pedalboard.Reverb, [
            P("room_size", 0.0, 1.0, 0.5), P("damping", 0.0, 1.0, 0.5), P("wet_level", 0.0, 1.0, 0.33),
            P("dry_level", 0.0, 1.0, 0.4), P("width", 0.0, 1.0, 1.0)]),
        "delay": (pedalboard.Delay, [
            P("delay_seconds", 0.01, 2.0, 0.25, unit="s", curve="log", smoothing_s=0.0),
            P("feedback", 0.0, 0.95, 0.3), P("mix", 0.0, 1.0, 0.3)]),
        "chorus": (pedalboard.Chorus, [
            P("rate_hz", 0.05, 10.0, 1.0, unit="Hz", curve="log"), P("depth", 0.0, 1.0, 0.25),
            P("centre_delay_ms", 1.0, 30.0, 7.0, unit="ms"), P("feedback", -0.95, 0.95, 0.0),
            P("mix", 0.0, 1.0, 0.5)]),
        "phaser": (pedalboard.Phaser, [
            P("rate_hz", 0.05, 10.0, 1.0, unit="Hz", curve="log"), P("depth", 0.0, 1.0, 0.5),
            P("centre_frequency_hz", 100.0, 5000.0, 1300.0, unit="Hz", curve="log"),
            P("feedback", -0.95, 0.95, 0.0), P("mix", 0.0, 1.0, 0.5)]),
        "distortion": (pedalboard.Distortion, [P("drive_db", 0.0, 60.0, 25.0, unit="dB")]),
        "compressor": (pedalboard.Compressor, [
            P("threshold_db", -60.0, 0.0, -20.0, unit="dB"), P("ratio", 1.0, 20.0, 4.0, curve="log"),
            P("attack_ms", 0.1, 100.0, 1.0, unit="ms", curve="log"),
            P("release_ms", 10.0, 1000.0, 100.0, unit="ms", curve="log")]),
        "limiter": (pedalboard.Limiter, [
            P("threshold_db", -30.0, 0.0, -1.0, unit="dB"), P("release_ms", 10.0, 1000.0, 100.0, unit="ms",
                                                              curve="log")]),
        "noisegate": (pedalboard.NoiseGate, [
            P("threshold_db", -80.0, 0.0, -50.0, unit="dB"), P("ratio", 1.0, 20.0, 10.0, curve="log"),
            P("attack_ms", 0.1, 100.0, 1.0, unit="ms", curve="log"),
            P("release_ms", 10.0, 1000.0, 100.0, unit="ms", curve="log")]),
        "highpass": (pedalboard.HighpassFilter, [
            P("cutoff_frequency_hz", 20.0, 2000.0, 80.0, unit="Hz", curve="log")]),
        "lowpass": (pedalboard.LowpassFilter, [
            P("cutoff_frequency_hz", 200.0, 20000.0, 8000.0, unit="Hz", curve="log")]),
        "ladder": (pedalboard.LadderFilter, [
            P("cutoff_hz", 20.0, 20000.0, 1000.0, unit="Hz", curve="log"), P("resonance", 0.0, 1.0, 0.0),
            P("drive", 1.0, 10.0, 1.0)]),
    }


EFFECTS = _table()


class EffectStage(Stage):
    """One pedalboard effect (`effect` names a row of EFFECTS)."""

    kind = "effect"

    def __init__(self, name: str, rate: int, effect: str) -> None:
        if effect not in EFFECTS:
            raise LatentbridgeError(f"unknown effect {effect!r} (known: {', '.join(sorted(EFFECTS))})")
        factory, parameters = EFFECTS[effect]
        super().__init__(name, rate, parameters)
        self.effect = effect
        self.plugin = factory()
        self.applied: dict[str, float] = {}
        self._apply()

    def _apply(self) -> None:
        """Hand changed values to the plugin (setting an unchanged one can restart its internal smoothing)."""
        for name, value in self.params.items():
            if self.applied.get(name) != value.current:
                setattr(self.plugin, name, value.current)
                self.applied[name] = value.current

    def render(self, block: np.ndarray) -> np.ndarray:
        for value in self.params.values():
            value.block(block.shape[0], self.rate)
        self._apply()
        out = self.plugin.process(block[None], self.rate, buffer_size=BUFFER_SIZE, reset=False)
        return np.ascontiguousarray(out[0], dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "effect": self.effect}
