"""Tagger stage (analysis only): the audio passes unchanged; every `every_s` seconds the last `n_samples`
(3.7 s) at 16 kHz go to the exported tagger on a background thread, and `tags` holds the latest
probabilities {tag: p}. The ONNX call never runs in the audio path: the stage only copies audio into a
ring and hands over a snapshot; a snapshot still being tagged is not replaced (no pile-up).
"""

from __future__ import annotations

import threading

import numpy as np
from pedalboard.io import StreamResampler

from export.core.audio_io import MODEL_RATE
from export.onnx.bundled import bundled_graph
from export.onnx.loader import open_model
from plugin_host.model_rate import QUALITY
from plugin_host.stage import Stage


class TaggerStage(Stage):
    kind = "tagger"

    def __init__(self, name: str, rate: int, model: str | None = None, every_s: float = 0.5) -> None:
        super().__init__(name, rate, [])
        path = bundled_graph("tagger", "tagger") if model is None else f"{model}.tagger.onnx"
        self.graph = open_model(path, kind="tagger", graph="tagger")
        self.model = model
        self.names = list(self.graph.config["tag_names"])
        self.window = np.zeros(int(self.graph.config["n_samples"]), np.float32)
        self.every = max(1, int(every_s * MODEL_RATE))
        self.since = 0
        self.down = None if rate == MODEL_RATE else StreamResampler(rate, MODEL_RATE, 1, QUALITY)
        self.tags: dict[str, float] = {}
        self.analyses = 0
        self._pending: np.ndarray | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def render(self, block: np.ndarray) -> np.ndarray:
        mono16 = block if self.down is None else self.down.process(block[None])[0]
        n = min(mono16.shape[0], self.window.shape[0])
        if n:
            self.window = np.concatenate([self.window[n:], mono16[-n:]])
        self.since += mono16.shape[0]
        if self.since >= self.every and self._pending is None:
            self.since = 0
            self._pending = self.window.copy()
            if self._thread is None:
                self._thread = threading.Thread(target=self._analyse, name=f"tagger-{self.name}", daemon=True)
                self._thread.start()
            self._wake.set()
        return block

    def _analyse(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            snapshot = self._pending
            if snapshot is None:
                continue
            probs = self.graph.run(audio=snapshot[None])["probabilities"][0]
            self.tags = {name: float(p) for name, p in zip(self.names, probs, strict=True)}
            self.analyses += 1
            self._pending = None

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        return sorted(self.tags.items(), key=lambda item: -item[1])[:k]

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model": self.model, "tags": dict(self.top())}
