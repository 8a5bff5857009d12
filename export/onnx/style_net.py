"""Running an exported feed-forward style network (`style_gains` graph of kind `style`) with ONNX Runtime only.

Audio mono float32 at 16 kHz. The STFT around the graph is numpy: frame j is the `n_fft` samples ending at
sample (j + 1) * hop, sqrt-Hann windowed; the graph maps |frames| [1, F, bins] and the GRU state [1, 1, hidden]
to bin gains and the next state; the gained frames are sqrt-Hann windowed again and overlap-added. A stream
takes blocks of any size and returns as many samples, delayed by `delay_samples` = n_fft - 1 (one window
behind, plus up to a hop waiting for a frame to complete); all its state (input tail, overlap-add tail, GRU
state, output queue) is explicit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.loader import OnnxModel, open_model

KIND, GRAPH = "style", "style_gains"


class StyleStream:
    """One stream through a style network (see the module docstring)."""

    def __init__(self, model: OnnxModel, n_fft: int, hop: int, hidden: int) -> None:
        self.model, self.n_fft, self.hop = model, n_fft, hop
        self.window = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
        self.scale = np.float32(2.0 * hop / n_fft)
        self.history = np.zeros(n_fft - hop, np.float32)  # the input a new frame reads before its last hop
        self.pending = np.zeros(0, np.float32)  # input not yet in a frame (< hop samples)
        self.tail = np.zeros(n_fft - hop, np.float32)  # overlap-add sums of output not final yet
        self.queue = np.zeros(hop - 1, np.float32)  # final output not yet returned
        self.state = np.zeros((1, 1, hidden), np.float32)

    def _frames(self, x: np.ndarray, count: int) -> np.ndarray:
        """`count` frames from x (the history first) -> `count * hop` final output samples."""
        n_fft, hop = self.n_fft, self.hop
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:count] * self.window
        spec = np.fft.rfft(frames, axis=1)
        out = self.model.run(magnitude=np.abs(spec).astype(np.float32)[None], state=self.state)
        self.state = out["state_out"]
        y = np.fft.irfft(spec * out["gains"][0], n=n_fft, axis=1).astype(np.float32) * (self.window * self.scale)
        buffer = np.zeros((count - 1) * hop + n_fft, np.float32)
        buffer[: n_fft - hop] = self.tail
        for i in range(count):
            buffer[i * hop: i * hop + n_fft] += y[i]
        self.tail = buffer[count * hop:]
        return buffer[: count * hop]

    def process(self, block: np.ndarray) -> np.ndarray:
        """float32 [n] -> float32 [n], the styled input `delay_samples` samples ago."""
        block = np.asarray(block, np.float32)
        fresh = np.concatenate([self.pending, block])
        count = fresh.shape[0] // self.hop
        if count:
            x = np.concatenate([self.history, fresh])
            self.queue = np.concatenate([self.queue, self._frames(x, count)])
            used = count * self.hop
            self.history = x[used: used + self.n_fft - self.hop]
            fresh = fresh[used:]
        self.pending = fresh
        out, self.queue = self.queue[: block.shape[0]], self.queue[block.shape[0]:]
        return out


class StyleNetwork:
    """An opened style graph: its config, model card, and streams or whole-file passes through it."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.model = open_model(path, kind=KIND, graph=GRAPH, threads=threads, allow_gpu=False)
        try:
            self.n_fft, self.hop = int(self.model.config["n_fft"]), int(self.model.config["hop"])
            self.hidden = int(self.model.config["hidden"])
            self.sample_rate = int(self.model.config["sample_rate"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentbridgeError(f"{path}: the style model's config lacks {exc}") from exc
        if self.n_fft % self.hop or self.hop < 1:
            raise LatentbridgeError(f"{path}: n_fft {self.n_fft} is not a multiple of hop {self.hop}")
        self.path = Path(path)

    @property
    def delay_samples(self) -> int:
        return self.n_fft - 1

    def stream(self) -> StyleStream:
        return StyleStream(self.model, self.n_fft, self.hop, self.hidden)

    def offline(self, audio: np.ndarray) -> np.ndarray:
        """The whole clip [T] styled, without delay: a fresh stream fed the clip and `delay_samples` zeros."""
        padded = np.concatenate([np.asarray(audio, np.float32), np.zeros(self.delay_samples, np.float32)])
        return self.stream().process(padded)[self.delay_samples:]
