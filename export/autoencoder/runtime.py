"""The exported autoencoder at run time (ONNX Runtime only, no torch): controls, latents, harmonic decoding.

Audio is float32 mono [T] at 16 kHz. Controls come per control frame of `frame_hop` (128) samples: f0 (Hz),
periodicity and A-weighted loudness (dB), each [F] with F = T // frame_hop, frame i ending at sample
(i + 1) * frame_hop. Latents z are [J, Z] with J = T // hop (512) for the offline encoder. Every step runs in
bounded blocks with explicit state (the trackers' finite history, the streaming encoder's caches, the
decoder's GRU / phase / noise state and its level correction's state), so a long file costs no more memory
than a short one and the result equals one call on the whole file.

The decoder graph of newer exports ends in a causal per-frame level correction toward the loudness control
(models/autoencoder/level.py: the decoder's own output measured with the A-weighted loudness tracker, a
bounded gain interpolated within each frame, never a boost of silence; no look-ahead). Its state (previous
gain, previous level ratio, the last 896 uncorrected samples) is ordinary decoder state here, zeros at the
start; `OnnxAutoencoder.level_correction` holds its settings (None for an export without one).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.bundled import bundled_graph
from export.onnx.loader import OnnxModel, filled_input, open_model

GRAPHS = ("controls", "controls_stream", "encoder", "encoder_stream", "decoder")
OPTIONAL = ("controls_stream", "encoder_stream")  # streaming graphs: causal models only, newer exports
BLOCK_FRAMES = 512  # control frames per block (4.1 s at 16 kHz)

Progress = Callable[[int], None]  # called with the number of samples just finished


@dataclass(frozen=True)
class Controls:
    """Per control frame: f0 (Hz), periodicity in [0, 1], loudness (dB); each [F] float32."""

    f0: np.ndarray
    periodicity: np.ndarray
    loudness: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.f0.shape[0])


class EncoderStream:
    """The causal encoder, block by block: `push(audio [n])` -> the z columns completed so far [j, Z].
    Blocks must be multiples of the control hop; output equals the offline encoder's z."""

    def __init__(self, graph: OnnxModel, pool: int, frame_hop: int) -> None:
        self.graph, self.pool, self.frame_hop = graph, pool, frame_hop
        self.state = {i.name: filled_input(i, 1) for i in graph.session.get_inputs() if i.name != "audio"}
        self.pending = np.zeros((0, 0), dtype=np.float32)

    def push(self, audio: np.ndarray) -> np.ndarray:
        if audio.shape[0] % self.frame_hop:
            raise LatentbridgeError(f"encoder blocks must be multiples of {self.frame_hop} samples, "
                                    f"got {audio.shape[0]}")
        out = self.graph.run(audio=audio[None].astype(np.float32), **self.state)
        self.state = {name: out[f"{name}_out"] for name in self.state}
        steps = out["steps"][0].T  # [steps, Z]
        if self.pending.size:
            steps = np.concatenate([self.pending, steps])
        whole = steps.shape[0] // self.pool * self.pool
        self.pending = steps[whole:]
        return steps[:whole].reshape(-1, self.pool, steps.shape[1]).mean(axis=1, dtype=np.float64).astype(
            np.float32)


DECODER_INPUTS = ("z", "f0", "periodicity", "loudness")  # the decoder graph's per-frame inputs; the rest is state


def decoder_state(graph: OnnxModel, batch: int) -> dict[str, np.ndarray]:
    """The decoder graph's state inputs for `batch` voices, at their start (silence)."""
    return {i.name: filled_input(i, batch) for i in graph.session.get_inputs() if i.name not in DECODER_INPUTS}


class DecoderStream:
    """The harmonic-plus-noise decoder, block by block: `push(z_frames [F, Z], controls)` -> audio
    [F * frame_hop]; blocks with the carried state equal one call."""

    def __init__(self, graph: OnnxModel) -> None:
        self.graph = graph
        self.state = decoder_state(graph, 1)

    def push(self, z_frames: np.ndarray, controls: Controls) -> np.ndarray:
        out = self.graph.run(z=z_frames[None].astype(np.float32), f0=controls.f0[None],
                             periodicity=controls.periodicity[None], loudness=controls.loudness[None],
                             **self.state)
        self.state = {name: out[f"{name}_out"] for name in self.state}
        return out["audio"][0]


class ControlsStream:
    """The streaming trackers: `push(audio [k * frame_hop])` -> the Controls of the k frames it completes,
    computing only those (the `controls_stream` graph keeps the trackers' audio context and hold state);
    equal to `OnnxAutoencoder.controls` on the whole signal."""

    def __init__(self, graph: OnnxModel, frame_hop: int) -> None:
        self.graph, self.frame_hop = graph, frame_hop
        self.context = np.zeros(int(graph.metadata["context"]), np.float32)
        self.state = {i.name: filled_input(i, 1) for i in graph.session.get_inputs() if i.name != "audio"}

    def push(self, audio: np.ndarray) -> Controls:
        if audio.shape[0] % self.frame_hop:
            raise LatentbridgeError(f"control blocks must be multiples of {self.frame_hop} samples, "
                                    f"got {audio.shape[0]}")
        window = np.concatenate([self.context, audio.astype(np.float32)])
        out = self.graph.run(audio=window[None], **self.state)
        self.state = {name: out[f"{name}_out"] for name in self.state}
        self.context = window[window.shape[0] - self.context.shape[0]:]
        return Controls(out["f0"][0], out["periodicity"][0], out["loudness"][0])


class OnnxAutoencoder:
    """The four autoencoder graphs of one export (`NAME.controls.onnx`, ...), opened and checked together."""

    def __init__(self, graphs: dict[str, OnnxModel]) -> None:
        self.graphs = graphs
        cfg = graphs["decoder"].config
        self.config = cfg
        self.sample_rate, self.frame_hop = int(cfg["sample_rate"]), int(cfg["frame_hop"])
        self.hop, self.z_dim = int(cfg["encoder"]["hop"]), int(cfg["encoder"]["z_dim"])
        self.causal = bool(cfg["encoder"]["causal"])
        self.frames_per_z = self.hop // self.frame_hop
        self.level_correction = json.loads(graphs["decoder"].metadata.get("level_correction", "null"))
        controls = graphs["controls"]
        if "history" not in controls.metadata:
            raise LatentbridgeError(f"{controls.path}: no `history` metadata (re-export it with `latentbridge "
                                    "export`)")
        history = int(controls.metadata["history"])  # past samples that determine a control frame
        self.control_context = -(-history // self.frame_hop) * self.frame_hop

    @classmethod
    def open(cls, prefix: str | Path | None = None, threads: int = 1) -> OnnxAutoencoder:
        """Open `PREFIX.{controls,controls_stream,encoder,encoder_stream,decoder}.onnx` (default: the bundled
        autoencoder); the streaming graphs are optional (non-causal encoders have none)."""
        graphs = {}
        for graph in GRAPHS:
            path = bundled_graph("autoencoder", graph) if prefix is None else Path(f"{prefix}.{graph}.onnx")
            if graph in OPTIONAL and not path.is_file():
                continue
            graphs[graph] = open_model(path, kind="autoencoder", graph=graph, threads=threads)
        configs = {json.dumps(m.config, sort_keys=True) for m in graphs.values()}
        if len(configs) != 1:
            raise LatentbridgeError(f"{prefix}: the autoencoder graphs come from different models")
        return cls(graphs)

    # -- analysis --------------------------------------------------------------------------------------------
    def controls(self, audio: np.ndarray, progress: Progress | None = None) -> Controls:
        """f0, periodicity, loudness per control frame of mono 16 kHz audio [T], in blocks."""
        hop, ctx = self.frame_hop, self.control_context
        frames = audio.shape[0] // hop
        parts: list[list[np.ndarray]] = [[], [], []]
        for first in range(0, frames, BLOCK_FRAMES):
            last = min(frames, first + BLOCK_FRAMES)
            start = max(0, first * hop - ctx)
            out = self.graphs["controls"].run(audio=audio[None, start: last * hop].astype(np.float32))
            skip = (first * hop - start) // hop
            for part, name in zip(parts, ("f0", "periodicity", "loudness"), strict=True):
                part.append(out[name][0, skip:])
            if progress is not None:
                progress((last - first) * hop)
        if not frames:
            return Controls(*(np.zeros(0, np.float32) for _ in range(3)))
        return Controls(*(np.concatenate(p).astype(np.float32) for p in parts))

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """z [T // hop, Z] of mono 16 kHz audio [T] (streaming graph in blocks when there is one)."""
        usable = audio.shape[0] // self.hop * self.hop
        if "encoder_stream" not in self.graphs:
            return self.graphs["encoder"].run(audio=audio[None, :usable].astype(np.float32))["z"][0].T
        stream = EncoderStream(self.graphs["encoder_stream"], self.frames_per_z, self.frame_hop)
        block = BLOCK_FRAMES * self.frame_hop
        parts = [stream.push(audio[s: min(usable, s + block)]) for s in range(0, usable, block)]
        return np.concatenate(parts) if parts else np.zeros((0, self.z_dim), np.float32)

    def align(self, z: np.ndarray, frames: int) -> np.ndarray:
        """z [J, Z] -> one z per control frame [F, Z]: a causal model's frame i takes the latest z complete at
        its end, z[(i + 1) // per - 1] (zeros before the first); a non-causal one z[i // per]. The last z is
        repeated past the end."""
        steps = np.arange(frames)
        if self.causal:
            table, index = np.concatenate([np.zeros((1, z.shape[1]), np.float32), z]), (steps + 1) // self.frames_per_z
        else:
            table, index = z, steps // self.frames_per_z
        if table.shape[0] == 0:
            return np.zeros((frames, self.z_dim), np.float32)
        return table[np.minimum(index, table.shape[0] - 1)]

    # -- synthesis -------------------------------------------------------------------------------------------
    def decode(self, z_frames: np.ndarray, controls: Controls, progress: Progress | None = None) -> np.ndarray:
        """Audio [F * frame_hop] from z per control frame [F, Z] and the controls, in blocks."""
        stream = DecoderStream(self.graphs["decoder"])
        parts = []
        for first in range(0, controls.frames, BLOCK_FRAMES):
            last = min(controls.frames, first + BLOCK_FRAMES)
            block = Controls(controls.f0[first:last], controls.periodicity[first:last],
                             controls.loudness[first:last])
            parts.append(stream.push(z_frames[first:last], block))
            if progress is not None:
                progress((last - first) * self.frame_hop)
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

