"""Batch WaveNet generation through the exported `wavenet_step` graph on ONNX Runtime with I/O binding: the
offline GPU path (CUDA provider where a CUDA device is usable, the CPU provider otherwise, same code).

Every layer's queue (and the pitch-period history) stays on the device between steps: two preallocated state
sets are bound alternately as inputs and outputs, so no state crosses the bus; per step only x_prev and the
conditioning go in (a few bytes per voice) and the logits [B, 256] come out for sampling on the host.
Conditioning as for the native kernel: local [B, C, F] per `hop` samples, period [B, F] (or f0 in Hz),
global id [B] and/or vector [B, D]. Temperature 0 is argmax (the same sequence as the kernel and torch);
sampling draws with one numpy generator per voice seeded by (seed, voice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.loader import filled_input, open_model
from export.wavenet.kernel import SILENCE_CLASS, period_from_f0


class StepGenerator:
    """B voices of an exported WaveNet step graph, state resident on the session's device."""

    def __init__(self, path: str | Path, batch: int = 1, seed: int = 0, allow_gpu: bool = True,
                 threads: int = 1) -> None:
        import onnxruntime as ort

        if batch < 1:
            raise LatentbridgeError("batch must be >= 1")
        self.model = open_model(path, kind="wavenet", graph="wavenet_step", threads=threads, allow_gpu=allow_gpu)
        self.session = self.model.session
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        self.cfg, self.batch, self.seed = self.model.config, batch, seed
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.state_names = [n for n in self.inputs if n.startswith("queue_") or n == "history"]
        self._ort = ort
        self.reset()

    def _value(self, array: np.ndarray) -> Any:
        return self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, 0)

    def reset(self, streams: list[int] | None = None) -> None:
        """Every voice back to silence; sampling seeds restarted, voice v on stream `streams[v]` (default v)."""
        def initial(name: str) -> np.ndarray:  # zero queues, a history of silence
            return filled_input(self.inputs[name], self.batch, SILENCE_CLASS if name == "history" else 0)

        self._states = [{n: self._value(initial(n)) for n in self.state_names} for _ in range(2)]
        self._current = 0
        self._x_prev = np.full(self.batch, SILENCE_CLASS, np.int64)
        ids = list(range(self.batch)) if streams is None else list(streams)
        if len(ids) != self.batch:
            raise LatentbridgeError(f"reset needs {self.batch} sampling streams, got {len(ids)}")
        self._rngs = [np.random.default_rng([self.seed, v]) for v in ids]

    def generate(self, n: int, local: np.ndarray | None = None, period: np.ndarray | None = None,
                 f0: np.ndarray | None = None, global_id: np.ndarray | None = None,
                 global_vec: np.ndarray | None = None, temperature: float = 1.0) -> np.ndarray:
        """The next n classes of every voice [B, n] (generation resumes where the last call stopped)."""
        if n < 0 or temperature < 0:
            raise LatentbridgeError("n and temperature must be >= 0")
        hop, frames = int(self.cfg["hop"]), -(-n // int(self.cfg["hop"])) if n else 0
        per_frame: dict[str, np.ndarray] = {}
        if "local_frame" in self.inputs:
            if local is None or local.shape[0] != self.batch or local.shape[2] < frames:
                raise LatentbridgeError(f"this WaveNet needs local conditioning [{self.batch}, channels, >= {frames}]")
            per_frame["local_frame"] = np.ascontiguousarray(np.asarray(local, np.float32).transpose(2, 0, 1))
        if "period" in self.inputs:
            if f0 is not None:
                period = period_from_f0(f0, int(self.cfg["max_period"]))
            if period is None:
                raise LatentbridgeError("this WaveNet needs the period (or f0) per frame")
            per_frame["period"] = np.ascontiguousarray(np.asarray(period, np.int64).T)
        fixed = {}
        if "global_id" in self.inputs:
            if global_id is None:
                raise LatentbridgeError("this WaveNet needs a global id per voice")
            fixed["global_id"] = self._value(np.asarray(global_id, np.int64).reshape(self.batch))
        if "global_vec" in self.inputs:
            if global_vec is None:
                raise LatentbridgeError("this WaveNet needs a global vector per voice")
            fixed["global_vec"] = self._value(np.asarray(global_vec, np.float32).reshape(self.batch, -1))
        binding = self.session.io_binding()
        x_value = self._value(self._x_prev)
        frame_values = {name: self._value(values[0]) for name, values in per_frame.items()}
        logits = self._value(np.zeros((self.batch, int(self.cfg["classes"])), np.float32))
        for name, value in {"x_prev": x_value, **fixed, **frame_values}.items():
            binding.bind_ortvalue_input(name, value)
        binding.bind_ortvalue_output("logits", logits)
        out = np.zeros((self.batch, n), np.int32)
        for t in range(n):
            if t % hop == 0:
                for name, value in frame_values.items():
                    value.update_inplace(per_frame[name][t // hop])
            source, target = self._states[self._current], self._states[1 - self._current]
            for name in self.state_names:
                binding.bind_ortvalue_input(name, source[name])
                binding.bind_ortvalue_output(f"{name}_out", target[name])
            self.session.run_with_iobinding(binding)
            self._current = 1 - self._current
            out[:, t] = self._choose(logits.numpy(), temperature)
            self._x_prev = out[:, t].astype(np.int64)
            x_value.update_inplace(self._x_prev)
        return out

    def _choose(self, logits: np.ndarray, temperature: float) -> np.ndarray:
        if temperature == 0:
            return logits.argmax(axis=1)
        scaled = (logits - logits.max(axis=1, keepdims=True)) / temperature
        probs = np.exp(scaled.astype(np.float64))
        probs /= probs.sum(axis=1, keepdims=True)
        return np.array([rng.choice(probs.shape[1], p=p) for rng, p in zip(self._rngs, probs, strict=True)])
