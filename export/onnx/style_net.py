"""Running an exported feed-forward style network (`style_gains` graph of kind `style`) with ONNX Runtime only.

Audio mono float32 at 16 kHz. The STFTs around the graph are numpy (`models.style.feedforward` has the maths):
analysis frame j is the `n_fft` samples ending at sample (j + 1) * hop; the graph maps their magnitudes
[1, F, bins] and the GRU state [1, 1, hidden] to synthesis-bin gains and the next state; synthesis frame k is the
`synth_fft` samples ending at (k + 1) * synth_hop, gained by the newest analysis frame ending at or before it,
sqrt-Hann windowed twice and overlap-added. A stream takes blocks of any size and returns as many samples,
delayed by `delay_samples` = synth_fft - 1 (one synthesis window behind, plus up to a synthesis hop waiting for
a frame to complete); all its state (input history, position, held gains, overlap-add tail, GRU state, output
queue) is explicit. A model without synthesis fields in its config synthesises on its analysis frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.loader import open_model

KIND, GRAPH = "style", "style_gains"


def frames_problem(n_fft: int, hop: int, synth_fft: int, synth_hop: int) -> str | None:
    """Why these analysis and synthesis frames cannot stream together, or None (shared with the torch config)."""
    if min(hop, synth_hop) < 1 or n_fft % hop or hop % synth_hop or synth_fft % synth_hop \
            or not 2 * synth_hop <= synth_fft <= n_fft:
        return (f"needs hop ({hop}) and synth_fft ({synth_fft}) multiples of synth_hop ({synth_hop}), n_fft ({n_fft}) "
                "a multiple of hop, and 2 synth_hop <= synth_fft <= n_fft")
    return None


def sqrt_hann(size: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)).astype(np.float32)


class StyleStream:
    """One stream through a style network (see the module docstring)."""

    def __init__(self, network: StyleNetwork) -> None:
        self.model = network.model
        self.n_fft, self.hop = network.n_fft, network.hop
        self.size, self.step = network.synth_fft, network.synth_hop
        self.window, self.synth_window = sqrt_hann(self.n_fft), sqrt_hann(self.size)
        self.scale = np.float32(2.0 * self.step / self.size)
        self.history = np.zeros(self.n_fft - self.step, np.float32)  # the input before the newest synthesis hop
        self.position = 0  # input samples consumed into synthesis hops
        self.pending = np.zeros(0, np.float32)  # input not yet in a synthesis hop (< synth_hop samples)
        self.gains = np.ones(self.size // 2 + 1, np.float32)  # the newest analysis frame's gains (unity at first)
        self.tail = np.zeros(self.size - self.step, np.float32)  # overlap-add sums of output not final yet
        self.queue = np.zeros(self.step - 1, np.float32)  # final output not yet returned
        self.state = np.zeros((1, 1, network.hidden), np.float32)

    def _hops(self, x: np.ndarray, count: int) -> np.ndarray:
        """`count` synthesis hops from x (the history first) -> `count * synth_hop` final output samples."""
        n_fft, hop, size, step = self.n_fft, self.hop, self.size, self.step
        ends = len(self.history) + step * np.arange(1, count + 1)  # each hop's end in x
        analysed = (self.position + step * np.arange(1, count + 1)) % hop == 0
        held = np.repeat(self.gains[None], count, axis=0)
        if analysed.any():
            frames = np.stack([x[e - n_fft: e] for e in ends[analysed]]) * self.window
            out = self.model.run(magnitude=np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32)[None],
                                 state=self.state)
            self.state = out["state_out"]
            fresh = out["gains"][0]
            newest = np.cumsum(analysed) - 1  # the newest analysis frame of this call at each hop (-1: none yet)
            held[newest >= 0] = fresh[newest[newest >= 0]]
            self.gains = fresh[-1]
        spec = np.fft.rfft(np.stack([x[e - size: e] for e in ends]) * self.synth_window, axis=1)
        y = np.fft.irfft(spec * held, n=size, axis=1).astype(np.float32) * (self.synth_window * self.scale)
        buffer = np.zeros((count - 1) * step + size, np.float32)
        buffer[: size - step] = self.tail
        for i in range(count):
            buffer[i * step: i * step + size] += y[i]
        self.tail = buffer[count * step:]
        self.position += count * step
        return buffer[: count * step]

    def process(self, block: np.ndarray) -> np.ndarray:
        """float32 [n] -> float32 [n], the styled input `delay_samples` samples ago."""
        block = np.asarray(block, np.float32)
        fresh = np.concatenate([self.pending, block])
        count = fresh.shape[0] // self.step
        if count:
            x = np.concatenate([self.history, fresh[: count * self.step]])
            self.queue = np.concatenate([self.queue, self._hops(x, count)])
            self.history = x[x.shape[0] - self.history.shape[0]:]
            fresh = fresh[count * self.step:]
        self.pending = fresh
        out, self.queue = self.queue[: block.shape[0]], self.queue[block.shape[0]:]
        return out


class StyleNetwork:
    """An opened style graph: its config, model card, and streams or whole-file passes through it."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.model = open_model(path, kind=KIND, graph=GRAPH, threads=threads, allow_gpu=False)
        config = self.model.config
        try:
            self.n_fft, self.hop = int(config["n_fft"]), int(config["hop"])
            self.hidden = int(config["hidden"])
            self.sample_rate = int(config["sample_rate"])
            self.synth_fft = int(config.get("synth_fft", self.n_fft))
            self.synth_hop = int(config.get("synth_hop", self.hop))
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentbridgeError(f"{path}: the style model's config lacks {exc}") from exc
        problem = frames_problem(self.n_fft, self.hop, self.synth_fft, self.synth_hop)
        if problem:
            raise LatentbridgeError(f"{path}: inconsistent style-network frames: {problem}")
        self.path = Path(path)

    @property
    def delay_samples(self) -> int:
        return self.synth_fft - 1

    def stream(self) -> StyleStream:
        return StyleStream(self)

    def offline(self, audio: np.ndarray) -> np.ndarray:
        """The whole clip [T] styled, without delay: a fresh stream fed the clip and `delay_samples` zeros."""
        padded = np.concatenate([np.asarray(audio, np.float32), np.zeros(self.delay_samples, np.float32)])
        return self.stream().process(padded)[self.delay_samples:]
