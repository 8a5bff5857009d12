"""The processing chain: an ordered list of stages run block by block, plus a wet/dry mix and a bypass.

Audio is float32 mono [n] at the chain's `rate` (the device or file rate). `delay_samples` is the sum of the
stages' delays; the dry signal of the mix and of `bypass` is delayed by the same amount, so turning either
never shifts the timing. The chain's own parameters live under the stage name `chain` (`wet`, 0..1).
`tempo_sync` maps (stage, parameter) to a length in beats for the parameters that follow the tempo.
Every stage carries its state, so blocks of one fixed size (the engine's) give exactly what one call on the
whole signal gives, which is what lets the live engine and the offline renderer agree sample for sample.
The neural stages are invariant to any split; pedalboard's effects are not when the block size changes
from call to call (JUCE updates some internals per block), so offline work uses the live block size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from plugin_host.midi_map import MidiMap
from plugin_host.parameters import Parameter, ParameterValue
from plugin_host.stage import DelayLine, Stage

CHAIN = "chain"
PRIME_BLOCKS = 16  # blocks of silence a chain runs before its first real block, live and offline alike
WET = Parameter("wet", 0.0, 1.0, 1.0, smoothing_s=0.02, description="wet/dry mix of the whole chain")


class Chain:
    """See the module docstring."""

    def __init__(self, stages: list[Stage], rate: int, name: str = "chain", wet: float = 1.0,
                 tempo_sync: dict[tuple[str, str], float] | None = None) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names) or CHAIN in names:
            raise LatentbridgeError(f"chain {name!r}: stage names must be unique and not {CHAIN!r}: {names}")
        self.stages, self.rate, self.name = stages, rate, name
        self.params = {"wet": ParameterValue(WET)}
        self.params["wet"].set(wet)
        self.params["wet"].current = self.params["wet"].target
        self.delay_samples = sum(s.delay_samples for s in stages)
        self.bypassed = False
        self.tempo_sync = dict(tempo_sync or {})
        self.midi_map = MidiMap()  # MIDI CC -> parameters (the preset's `midi_map`, plus MIDI learn's)
        self._dry = DelayLine(self.delay_samples)

    def process(self, block: np.ndarray) -> np.ndarray:
        """float32 [n] -> float32 [n] (see the module docstring)."""
        x = np.ascontiguousarray(block, dtype=np.float32)
        dry = self._dry.process(x)
        wet = x
        for stage in self.stages:
            wet = stage.process(wet)
        mix = self.params["wet"].block(x.shape[0], self.rate)
        out = dry + mix * (wet - dry)
        if self.bypassed:
            out = dry
        return np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32, copy=False)

    def midi(self, messages: list[bytes]) -> None:
        """Raw MIDI messages to every stage, taking effect from the next block on."""
        for stage in self.stages:
            stage.midi(messages)

    def prime(self, blocksize: int, blocks: int = PRIME_BLOCKS) -> int:
        """Run `blocks` blocks of silence (the first calls of a fresh chain are slow; live and offline prime the
        same way, so they stay sample-identical); returns the samples run."""
        silence = np.zeros(blocksize, np.float32)
        for _ in range(blocks):
            self.process(silence)
        return blocks * blocksize

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise LatentbridgeError(f"no stage {name!r} in chain {self.name!r} "
                                f"(stages: {', '.join(s.name for s in self.stages)})")

    def parameter(self, stage: str, name: str) -> ParameterValue:
        """The live value of `stage`/`name` (`chain`/`wet` for the mix); one-line error if unknown."""
        params = self.params if stage == CHAIN else self.stage(stage).params
        if name not in params:
            raise LatentbridgeError(f"{stage} has no parameter {name!r} (has: {', '.join(params)})")
        return params[name]

    def parameters(self) -> list[tuple[str, ParameterValue]]:
        """Every (stage, value) pair, the chain's own first."""
        return [(CHAIN, v) for v in self.params.values()] + [(s.name, v) for s in self.stages
                                                                for v in s.params.values()]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "rate": self.rate, "delay_samples": self.delay_samples,
                "bypass": self.bypassed, "wet": self.params["wet"].target, "midi_map": self.midi_map.rows(),
                "stages": {s.name: s.describe() for s in self.stages}}
