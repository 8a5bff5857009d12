"""Batch decoders of synthesised notes for sample banks: the WaveNet (native kernel, or its ONNX step graph on a
CUDA device), the LPC WaveNet (`export.wavenet.lpc_synth.LpcNotes`) and the harmonic-plus-noise decoder, each
fed a constant latent and control curves per note.

A `NoteBatch` holds B notes: z [B, Z], and per control frame of 128 samples f0 (Hz), periodicity [0, 1] and
loudness (dB) [B, F]; decoders return float32 audio [B, F * 128] at 16 kHz. A note's audio depends only on its
own conditioning, the seed and its `key` (its sampling stream), never on the batch it was decoded in.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from export.autoencoder.runtime import BLOCK_FRAMES, OnnxAutoencoder, decoder_state
from export.core.errors import LatentbridgeError
from export.core.mu_law import decode_np
from export.core.pitch_units import hz_to_midi

DECODERS = ("wavenet", "harmonic", "lpc")
DEVICES = ("auto", "cpu", "cuda")
CHUNK_FRAMES = 32  # WaveNet frames per generate call (progress granularity)

Progress = Callable[[float], None]  # called with the fraction of one note's worth of work just done


@dataclass(frozen=True)
class NoteBatch:
    keys: list[str]  # one stable name per note (seeds its sampling stream)
    z: np.ndarray  # [B, Z]
    f0: np.ndarray  # [B, F] Hz
    periodicity: np.ndarray  # [B, F]
    loudness: np.ndarray  # [B, F] dB

    @property
    def size(self) -> int:
        return len(self.keys)


class NoteDecoder(Protocol):
    name: str
    device: str
    midi_range: tuple[int, int]  # the MIDI pitches it can render
    model: str  # the decoder's artifact (file name)

    def decode(self, batch: NoteBatch, progress: Progress | None = None) -> np.ndarray: ...


def mu_law_decode(classes: np.ndarray) -> np.ndarray:
    """8-bit mu-law classes 0..255 -> float32 audio (the shared table, export/core/mu_law.py)."""
    return decode_np(classes)


def note_stream(seed: int, key: str) -> int:
    """A note's sampling-stream id: CRC-32 of its key, so the stream follows the note, not its batch slot."""
    return zlib.crc32(f"{seed}:{key}".encode())


def check_note_wavenet(cfg: dict[str, Any], ae: OnnxAutoencoder, path: str | Path) -> None:
    """One-line error unless the WaveNet config `cfg` (of the graph at `path`) decodes this autoencoder's frames."""
    if cfg["local_channels"] != ae.z_dim + 3 or cfg["hop"] != ae.frame_hop:
        raise LatentbridgeError(f"{path}: not a note WaveNet of this autoencoder (needs {ae.z_dim + 3} "
                                f"local channels at hop {ae.frame_hop})")


def clamped_f0(ae_cfg: dict[str, Any], f0: np.ndarray) -> np.ndarray:
    """f0 (Hz) clamped to the autoencoder's pitch-tracker range, as its decoder clamps it."""
    return np.clip(f0, ae_cfg["pitch_fmin"], ae_cfg["pitch_fmax"])


def note_local(ae_cfg: dict[str, Any], z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray,
               loudness: np.ndarray) -> np.ndarray:
    """The note WaveNet's local conditioning [B, Z + 3, F] float32 from z [B, Z, F] and the controls [B, F]: z,
    then MIDI / 127, loudness in [0, 1], periodicity (`control_features`' layout, f0 clamped to the trackers' range)."""
    f0 = clamped_f0(ae_cfg, f0)
    floor = float(ae_cfg["loudness_floor_db"])
    features = np.stack([hz_to_midi(f0) / 127.0, (np.maximum(loudness, floor) - floor) / -floor,
                         np.clip(periodicity, 0.0, 1.0)], axis=1)
    return np.concatenate([z, features], axis=1).astype(np.float32)


def note_period(ae_cfg: dict[str, Any], cfg: dict[str, Any], f0: np.ndarray) -> np.ndarray:
    """The period input [B, F] int32 (samples) of the WaveNet with config `cfg` from f0 [B, F] Hz (clamped as above)."""
    from export.wavenet.kernel import period_from_f0

    f0 = clamped_f0(ae_cfg, f0)
    return period_from_f0(f0, int(cfg["max_period"]), int(cfg["sample_rate"]))


def cuda_usable() -> bool:
    import onnxruntime as ort

    from export.onnx.providers import cuda_device_count

    return "CUDAExecutionProvider" in ort.get_available_providers() and cuda_device_count() > 0


class WaveNetNotes:
    """The autoencoder's WaveNet decoder: local conditioning [z, MIDI / 127, loudness in [0, 1], periodicity]
    per frame (the layout of `control_features`, the f0 clamped to the pitch trackers' range), period from f0."""

    name = "wavenet"

    def __init__(self, ae: OnnxAutoencoder, temperature: float = 0.7, seed: int = 0, threads: int = 1,
                 device: str = "auto", graph: str | None = None) -> None:
        from export.onnx.bundled import bundled_graph

        if device not in DEVICES:
            raise LatentbridgeError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
        if not np.isfinite(temperature) or temperature < 0:
            raise LatentbridgeError(f"--temperature must be >= 0, got {temperature}")
        gpu = cuda_usable() if device != "cpu" else False
        if device == "cuda" and not gpu:
            raise LatentbridgeError("--device cuda: no usable CUDA device (ONNX Runtime CUDA provider and driver)")
        self.path = graph or bundled_graph("wavenet", "wavenet_step", "ae_wavenet")
        self.device = "cuda" if gpu else "cpu"
        self.model = Path(self.path).name
        self.ae_cfg = ae.config
        self.temperature, self.seed, self.threads = temperature, seed, threads
        self._weights: Any = None
        self._generators: dict[int, Any] = {}
        if not gpu:
            from export.wavenet.kernel import read_weights

            self._weights = read_weights(self.path)
            self.cfg = self._weights.config
        else:
            from export.onnx.loader import open_model

            self.cfg = open_model(self.path, kind="wavenet", graph="wavenet_step", allow_gpu=False).config
        check_note_wavenet(self.cfg, ae, self.path)
        self.max_period = int(self.cfg["max_period"])
        lowest = max(float(ae.config["pitch_fmin"]), int(self.cfg["sample_rate"]) / self.max_period)
        self.midi_range = (math.ceil(hz_to_midi(lowest)), math.floor(hz_to_midi(ae.config["pitch_fmax"])))

    def _generator(self, size: int, streams: list[int]) -> Any:
        """A generator of `size` voices back at silence, voice i drawing from sampling stream streams[i]."""
        gen: Any = self._generators.get(size)
        if gen is None:
            if self.device == "cuda":
                from export.wavenet.step_generator import StepGenerator

                gen = StepGenerator(self.path, batch=size, seed=self.seed, allow_gpu=True, threads=self.threads)
            else:
                from export.wavenet.kernel import NativeWaveNet

                gen = NativeWaveNet(self._weights, batch=size, seed=self.seed)
            self._generators[size] = gen
        gen.reset(streams)
        return gen

    def local(self, batch: NoteBatch) -> np.ndarray:
        """[B, Z + 3, F] float32."""
        z = np.repeat(batch.z[:, :, None], batch.f0.shape[1], axis=2)
        return note_local(self.ae_cfg, z, batch.f0, batch.periodicity, batch.loudness)

    def decode(self, batch: NoteBatch, progress: Progress | None = None) -> np.ndarray:
        local = self.local(batch)
        period = note_period(self.ae_cfg, self.cfg, batch.f0)
        gen = self._generator(batch.size, [note_stream(self.seed, k) for k in batch.keys])
        hop, frames = int(self.cfg["hop"]), batch.f0.shape[1]
        parts = []
        for first in range(0, frames, CHUNK_FRAMES):
            last = min(frames, first + CHUNK_FRAMES)
            kwargs = {"local": local[:, :, first:last], "period": period[:, first:last],
                      "temperature": self.temperature}
            if self.device == "cuda":
                classes = gen.generate((last - first) * hop, **kwargs)
            else:
                classes, _ = gen.generate((last - first) * hop, threads=self.threads, **kwargs)
            parts.append(classes)
            if progress is not None:
                progress(batch.size * (last - first) / frames)
        return mu_law_decode(np.concatenate(parts, axis=1))


class HarmonicNotes:
    """The autoencoder's harmonic-plus-noise decoder (its ONNX graph, the whole batch per call, in blocks of
    frames with the carried state; deterministic, pitch-exact by construction)."""

    name = "harmonic"

    def __init__(self, ae: OnnxAutoencoder, threads: int = 1, device: str = "auto") -> None:
        from export.onnx.loader import open_model

        if device == "cuda" and not cuda_usable():
            raise LatentbridgeError("--device cuda: no usable CUDA device (ONNX Runtime CUDA provider and driver)")
        self.graph = open_model(ae.graphs["decoder"].path, kind="autoencoder", graph="decoder", threads=threads,
                                allow_gpu=device != "cpu")
        self.device = "cuda" if "CUDAExecutionProvider" in self.graph.session.get_providers() else "cpu"
        self.model = self.graph.path.name
        self.midi_range = (math.ceil(hz_to_midi(ae.config["pitch_fmin"])),
                           math.floor(hz_to_midi(ae.config["pitch_fmax"])))

    def decode(self, batch: NoteBatch, progress: Progress | None = None) -> np.ndarray:
        state = decoder_state(self.graph, batch.size)
        frames = batch.f0.shape[1]
        z = np.repeat(batch.z[:, None, :], frames, axis=1).astype(np.float32)
        parts = []
        for first in range(0, frames, BLOCK_FRAMES):
            last = min(frames, first + BLOCK_FRAMES)
            out = self.graph.run(z=z[:, first:last], f0=batch.f0[:, first:last].astype(np.float32),
                                 periodicity=batch.periodicity[:, first:last].astype(np.float32),
                                 loudness=batch.loudness[:, first:last].astype(np.float32), **state)
            state = {name: out[f"{name}_out"] for name in state}
            parts.append(out["audio"])
            if progress is not None:
                progress(batch.size * (last - first) / frames)
        return np.concatenate(parts, axis=1).astype(np.float32)


def open_decoder(name: str, ae: OnnxAutoencoder, temperature: float, seed: int, threads: int,
                 device: str) -> NoteDecoder:
    if name == "wavenet":
        return WaveNetNotes(ae, temperature, seed, threads, device)
    if name == "harmonic":
        return HarmonicNotes(ae, threads, device)
    if name == "lpc":
        if device == "cuda":
            raise LatentbridgeError("--decoder lpc runs on the native kernel (CPU): leave --device out")
        from export.wavenet.lpc_synth import LpcNotes

        return LpcNotes(ae, temperature, seed, threads)
    raise LatentbridgeError(f"--decoder must be one of {', '.join(DECODERS)}, got {name!r}")
