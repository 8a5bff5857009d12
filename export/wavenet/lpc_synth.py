"""The LPC WaveNet decoder at run time (issue 17): the harmonic decoder's ONNX graph supplies the guide and the
envelope, numpy turns the envelope into linear prediction, the native kernel samples the excitation. The synth of an
`AutoencoderStream` for the live resynth/morph stages (`decoder: lpc`) and the offline `morph`/`render`, and a note
decoder for sample banks.

Audio is float32 at 16 kHz in whole control frames of 128 samples, B voices ([B, ...]; the stages use one).
Per frame: the harmonic decoder (one graph call per frame, so its per-frame harmonic amplitudes and noise
magnitudes come out as its `amp_prev_out` / `noise_prev_out` state) gives h and the envelope; the envelope gives
LPC coefficients (`export.autoencoder.lpc_envelope`, as in training); h is pre-emphasised (h_s) and its own
excitation h_s - predict(h_s) sets the frame's excitation limit (`bound` x its RMS); the kernel then generates
the frame (`NativeWaveNet.generate_lpc`: prediction from its own past, excitation sampled at `temperature`,
de-emphasis), conditioned on z and the controls as the WaveNet note decoders are. Every state (decoder graph,
emphasis, prediction past, kernel queues, sampling stream) carries across calls, so frames pushed in any
grouping give one call's samples bit for bit; no delay is added. The same frames through torch
(`models.wavenet.lpc_decoder.harmonic_guide` + `generate`) give the same guide (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.autoencoder.lpc_envelope import LPCConfig, lpc_from_envelope, predict, preemphasis
from export.autoencoder.runtime import BLOCK_FRAMES, Controls, OnnxAutoencoder, decoder_state
from export.core.errors import LatentbridgeError
from export.core.pitch_units import hz_to_midi
from export.wavenet.block_decode import decode_in_blocks
from export.wavenet.kernel import NativeWaveNet, WaveNetWeights, read_weights
from export.wavenet.note_decoders import (
    NoteBatch,
    Progress,
    check_note_wavenet,
    clamped_f0,
    note_local,
    note_period,
    note_stream,
)


@dataclass(frozen=True)
class LpcSynthConfig:
    temperature: float = 0.7  # what the model card's judges used
    seed: int = 0  # the sampling stream
    bound: float = 4.0  # the excitation limit, x the RMS of the harmonic output's own excitation (0: none)

    def __post_init__(self) -> None:
        if not np.isfinite(self.temperature) or self.temperature < 0:
            raise LatentbridgeError(f"LPC WaveNet temperature must be >= 0, got {self.temperature}")
        if not np.isfinite(self.bound) or self.bound < 0:
            raise LatentbridgeError(f"the excitation bound must be >= 0, got {self.bound}")


@functools.lru_cache(maxsize=2)
def load_lpc_weights(path: str) -> WaveNetWeights:
    """An `lpc_step` graph's weights and config, read once per file (the kernel copies them)."""
    weights = read_weights(path)
    if weights.lpc is None:
        raise LatentbridgeError(f"{path}: a plain WaveNet step graph, not an LPC WaveNet (use decoder wavenet)")
    if not (weights.lpc.get("predict") and weights.lpc.get("guide")):
        raise LatentbridgeError(f"{path}: an LPC WaveNet without prediction and guide; the run time plays only "
                                "the full LPC decoder")
    return weights


class LpcWaveNetSynth:
    """See the module docstring. `graph`: an `lpc_step` graph (default: the bundled lpcwavenet model)."""

    def __init__(self, ae: OnnxAutoencoder, config: LpcSynthConfig | None = None, graph: str | Path | None = None,
                 batch: int = 1) -> None:
        from export.onnx.bundled import bundled_graph

        self.config = config or LpcSynthConfig()
        self.path = Path(graph) if graph is not None else bundled_graph("lpcwavenet", "lpc_step")
        weights = load_lpc_weights(str(self.path))
        check_note_wavenet(weights.config, ae, self.path)
        self.ae_cfg, self.cfg, self.hop, self.batch = ae.config, weights.config, ae.frame_hop, batch
        self.sample_rate = ae.sample_rate
        self.lpc = LPCConfig(**(weights.lpc or {})["lpc"])
        self.decoder = ae.graphs["decoder"]
        self.kernel = NativeWaveNet(weights, batch=batch, seed=self.config.seed)
        self.reset()

    def reset(self, streams: list[int] | None = None) -> None:
        """Back to silence; voice v draws from sampling stream `streams[v]` (default v)."""
        self.kernel.reset(streams)
        self.state = decoder_state(self.decoder, self.batch)
        self.h_last = np.zeros(self.batch, np.float32)  # the harmonic output's last sample (for the emphasis)
        self.hs_past = np.zeros((self.batch, self.lpc.order), np.float32)  # the last `order` samples of h_s

    def guide(self, z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray,
              loudness: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k frames (z [B, k, Z], controls [B, k]) -> (h_s [B, k * hop], coefficients [B, k, order + 1],
        limit [B, k]), the decoder's, emphasis and prediction state moved on by k frames."""
        audio, amplitudes, noise = [], [], []
        for i in range(f0.shape[1]):
            out = self.decoder.run(z=z[:, i: i + 1].astype(np.float32), f0=f0[:, i: i + 1].astype(np.float32),
                                   periodicity=periodicity[:, i: i + 1].astype(np.float32),
                                   loudness=loudness[:, i: i + 1].astype(np.float32), **self.state)
            self.state = {name: out[f"{name}_out"] for name in self.state}
            audio.append(out["audio"])
            amplitudes.append(out["amp_prev_out"])
            noise.append(out["noise_prev_out"])
        h = np.concatenate(audio, axis=1)
        coefficients = lpc_from_envelope(clamped_f0(self.ae_cfg, f0), np.stack(amplitudes, axis=2),
                                         np.stack(noise, axis=2), self.lpc, self.sample_rate)
        h_s = preemphasis(h, self.lpc.preemphasis, self.h_last)
        excitation = h_s - predict(h_s, coefficients, self.hop, self.hs_past)
        self.h_last = h[:, -1].copy()
        self.hs_past = np.concatenate([self.hs_past, h_s], axis=1)[:, -self.lpc.order:]
        rms = np.sqrt(np.square(excitation.reshape(self.batch, -1, self.hop)).mean(axis=2))
        limit = self.config.bound * rms + 1e-4 if self.config.bound > 0 else np.zeros_like(rms)
        return h_s, coefficients, limit.astype(np.float32)

    def frames(self, z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray, loudness: np.ndarray,
               threads: int = 1) -> np.ndarray:
        """k frames of every voice (z [B, k, Z], controls [B, k]) -> audio [B, k * hop] float32."""
        k = f0.shape[1]
        if k == 0:
            return np.zeros((self.batch, 0), np.float32)
        h_s, coefficients, limit = self.guide(z, f0, periodicity, loudness)
        local = note_local(self.ae_cfg, np.asarray(z, np.float32).transpose(0, 2, 1), f0, periodicity, loudness)
        _, audio = self.kernel.generate_lpc(k * self.hop, local, note_period(self.ae_cfg, self.cfg, f0), h_s,
                                            coefficients, limit, self.lpc.preemphasis, self.config.temperature,
                                            threads=threads)
        return audio

    def __call__(self, audio: np.ndarray, z: np.ndarray, controls: Controls) -> np.ndarray:
        """One voice: audio [k * hop] (unused), z [k, Z], the k frames' controls -> their audio [k * hop]."""
        if self.batch != 1:
            raise LatentbridgeError("a stage's LPC synth plays one voice")
        return self.frames(np.asarray(z)[None], np.asarray(controls.f0)[None],
                           np.asarray(controls.periodicity)[None], np.asarray(controls.loudness)[None])[0]

    def decode(self, z: np.ndarray, controls: Controls, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """A whole file's frames (z [F, Z]) -> audio [F * hop], in blocks (the same samples as one call)."""
        return decode_in_blocks(self, z, controls, self.hop, progress)


class LpcNotes:
    """The LPC WaveNet as a sample-bank note decoder (`note_decoders.NoteDecoder`): each note from its own
    sampling stream, a constant latent and its control curves."""

    name = "lpc"
    device = "cpu"

    def __init__(self, ae: OnnxAutoencoder, temperature: float = 0.7, seed: int = 0, threads: int = 1,
                 graph: str | Path | None = None) -> None:
        self.ae, self.config, self.threads, self.graph = ae, LpcSynthConfig(temperature, seed), threads, graph
        self._synths: dict[int, LpcWaveNetSynth] = {}
        first = self._synth(1)
        self.model = first.path.name
        lowest = max(float(ae.config["pitch_fmin"]), int(first.cfg["sample_rate"]) / int(first.cfg["max_period"]))
        self.midi_range = (int(np.ceil(hz_to_midi(lowest))), int(np.floor(hz_to_midi(ae.config["pitch_fmax"]))))

    def _synth(self, size: int) -> LpcWaveNetSynth:
        if size not in self._synths:
            self._synths[size] = LpcWaveNetSynth(self.ae, self.config, self.graph, batch=size)
        return self._synths[size]

    def decode(self, batch: NoteBatch, progress: Progress | None = None) -> np.ndarray:
        synth = self._synth(batch.size)
        synth.reset([note_stream(self.config.seed, k) for k in batch.keys])
        frames = batch.f0.shape[1]
        parts = []
        for first in range(0, frames, BLOCK_FRAMES):
            last = min(frames, first + BLOCK_FRAMES)
            z = np.repeat(batch.z[:, None, :], last - first, axis=1)
            parts.append(synth.frames(z, batch.f0[:, first:last], batch.periodicity[:, first:last],
                                      batch.loudness[:, first:last], self.threads))
            if progress is not None:
                progress(batch.size * (last - first) / frames)
        return np.concatenate(parts, axis=1)
