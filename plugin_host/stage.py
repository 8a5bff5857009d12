"""One stage of a processing chain: a name, a typed parameter table, a fixed delay and block processing.

Audio is float32 mono [n] at the chain's rate (the device or file rate; neural stages resample to 16 kHz
inside). `process` is called from the audio worker and must not raise for any parameter value: values come
through `ParameterValue`, which clamps. `delay_samples` is the stage's fixed latency at the chain rate;
bypassing a stage keeps it (the dry signal is delayed by the same amount), so the chain's timing never jumps.
String-valued controls (morph targets) go through `command`, which raises `LatentbridgeError` for bad values
and is called outside the audio path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from plugin_host.parameters import Parameter, ParameterValue


class DelayLine:
    """A fixed delay of `samples` samples for blocks of any size (zeros first)."""

    def __init__(self, samples: int) -> None:
        self.buffer = np.zeros(samples, np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.buffer.shape[0] == 0:
            return block
        joined = np.concatenate([self.buffer, block])
        out, self.buffer = joined[: block.shape[0]], joined[block.shape[0]:]
        return out


class Stage:
    """Base class: subclasses set `kind`, declare `parameters`, implement `render` (the wet path)."""

    kind = "stage"
    commands: tuple[str, ...] = ()  # names of string-valued controls accepted by `command`

    def __init__(self, name: str, rate: int, parameters: list[Parameter], delay_samples: int = 0) -> None:
        if not name or "/" in name or not name.replace("_", "").replace("-", "").isalnum():
            raise LatentbridgeError(f"stage name {name!r}: use letters, digits, '-' and '_' only")
        self.name, self.rate = name, rate
        self.params = {p.name: ParameterValue(p) for p in parameters}
        self.delay_samples = delay_samples
        self.bypassed = False
        self._dry = DelayLine(delay_samples)

    def process(self, block: np.ndarray) -> np.ndarray:
        """float32 [n] -> float32 [n], delayed by `delay_samples` (wet, or the dry input when bypassed)."""
        dry = self._dry.process(block)
        wet = self.render(block)
        return dry if self.bypassed else wet

    def render(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def command(self, name: str, value: str) -> None:
        self.prepare_command(name, value)()

    def midi(self, messages: list[bytes]) -> None:
        """Raw MIDI messages (status and data bytes), applied between two blocks; ignored unless a stage plays."""

    def prepare_command(self, name: str, value: str) -> Callable[[], None]:
        """Do the slow part of a string control (loading, encoding) now; the returned call applies it at once
        (the live engine calls it between two blocks)."""
        raise LatentbridgeError(f"stage {self.name!r} has no control {name!r}")

    def values(self) -> dict[str, float]:
        return {name: value.target for name, value in self.params.items()}

    def describe(self) -> dict[str, Any]:
        """What presets and status reports show: kind, parameter values and string controls."""
        return {"kind": self.kind, "bypass": self.bypassed, "parameters": self.values()}
