"""The `style` stage in live mode: a feed-forward style network (`latentbridge style train`) streaming in the chain.

Audio float32 mono [n] at the chain's rate; the network runs at 16 kHz inside a `ModelRateStream` (ONNX Runtime,
no torch), delayed by its window (n_fft - 1 samples at 16 kHz) plus the resamplers: `delay_samples` at the chain
rate. `amount` crossfades the equally delayed input and the styled signal (smoothed, no click). `model` is a path
to a `.style_gains.onnx` or the name of a bundled style (`export/bundled/NAME.json`, kind style).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.bundled import default_model
from export.onnx.style_net import StyleNetwork
from plugin_host.model_rate import ModelRateStream
from plugin_host.parameters import Parameter
from plugin_host.stage import DelayLine, Stage

AMOUNT = Parameter("amount", 0.0, 1.0, 1.0, smoothing_s=0.05, description="unstyled (0) to styled (1)")


def style_model_path(name: str, model: str) -> Path:
    """A style model by path, else by bundled name; one line naming the stage when neither exists."""
    path = Path(model)
    if path.is_file():
        return path
    if path.suffix or "/" in model:
        raise LatentbridgeError(f"style stage {name!r}: {model}: no such style model")
    try:
        return default_model("style", model).path
    except LatentbridgeError as exc:
        raise LatentbridgeError(f"style stage {name!r}: {model}: no such style model file or bundled style") \
            from exc


class LiveStyleStage(Stage):
    """See the module docstring."""

    kind = "style"

    def __init__(self, name: str, rate: int, model: str) -> None:
        self.model_path = style_model_path(name, model)
        self.network = StyleNetwork(self.model_path)
        self.stream = self.network.stream()
        self.model_rate = ModelRateStream(rate, self.stream.process, self.network.delay_samples)
        super().__init__(name, rate, [AMOUNT], self.model_rate.delay_samples)
        self._mix_dry = DelayLine(self.delay_samples)

    def render(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[0]
        wet = self.model_rate.process(block)
        dry = self._mix_dry.process(block)
        amount = self.params["amount"].block(n, self.rate)
        return (dry + amount * (wet - dry)).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": "live", "model": str(self.model_path),
                "delay_samples": self.delay_samples}
