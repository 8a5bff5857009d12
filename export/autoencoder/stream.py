"""Block streaming of the exported causal autoencoder (ONNX Runtime only): any block size in, the same number
of samples out, equal to the offline chain (`OnnxAutoencoder`: controls, encoder, decoder) delayed by
`delay_samples` = frame_hop - 1 (127 samples, 7.9 ms at 16 kHz): a control frame is synthesised as soon as its
last input sample has arrived.

Audio is float32 mono at 16 kHz. State: the samples of an incomplete hop, the streaming trackers' audio
context and hold state (`controls_stream`: they compute only the new frames), the streaming encoder's caches,
the latest complete z, the decoder's state (with its level correction's, see runtime.py: no look-ahead, so the
delay stays frame_hop - 1) and the output queue. `latent_map(z [k, Z], controls) -> [k, Z]`
(default: identity) is applied to the z of each new control frame, given those frames' controls, before
decoding: the morph stage moves it toward a target (at the detected pitch) there. `synth(audio [k * hop],
z [k, Z], controls) -> audio [k * hop]` decodes those frames (default: the monophonic decoder; the
polyphonic voices of export.poly plug in here, with the frames' input audio for their tracker). `prefetch(audio
[k * hop])`, where given, is called with the same audio before the encoder and the controls run, so the synth
can start its own analysis of it on another thread meanwhile (the voices' tracker does: `PolySynth.prefetch`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from export.autoencoder.runtime import Controls, ControlsStream, DecoderStream, EncoderStream, OnnxAutoencoder
from export.core.errors import LatentbridgeError

LatentMap = Callable[[np.ndarray, Controls], np.ndarray]
Synth = Callable[[np.ndarray, np.ndarray, Controls], np.ndarray]


class AutoencoderStream:
    """See the module docstring."""

    def __init__(self, ae: OnnxAutoencoder, latent_map: LatentMap | None = None, synth: Synth | None = None,
                 prefetch: Callable[[np.ndarray], None] | None = None) -> None:
        if not ae.causal or "encoder_stream" not in ae.graphs:
            raise LatentbridgeError("this autoencoder cannot stream (it has no causal encoder_stream graph)")
        if "controls_stream" not in ae.graphs:
            raise LatentbridgeError("this autoencoder export has no controls_stream graph (re-export it with "
                                    "`latentbridge export`)")
        self.ae, self.latent_map = ae, latent_map
        self.hop = ae.frame_hop
        self.delay_samples = self.hop - 1
        self.encoder = EncoderStream(ae.graphs["encoder_stream"], ae.frames_per_z, ae.frame_hop)
        if synth is None:
            decoder = DecoderStream(ae.graphs["decoder"])
            synth = lambda audio, z, controls: decoder.push(z, controls)  # noqa: E731
        self.synth, self.prefetch = synth, prefetch
        self.pending = np.zeros(0, np.float32)
        self.controls = ControlsStream(ae.graphs["controls_stream"], self.hop)
        self.z_last = np.zeros((1, ae.z_dim), np.float32)  # z number z_count - 1 (zeros before the first)
        self.z_count = 0
        self.frames = 0
        self.queue = np.zeros(self.delay_samples, np.float32)
        self.last_controls: Controls | None = None

    def process(self, audio: np.ndarray) -> np.ndarray:
        """audio [n] -> audio [n] (see the module docstring)."""
        block = np.asarray(audio, np.float32)
        if block.ndim != 1:
            raise LatentbridgeError(f"AutoencoderStream.process expects mono audio [samples], got {block.shape}")
        self.pending = np.concatenate([self.pending, block])
        k = self.pending.shape[0] // self.hop
        if k:
            whole, self.pending = self.pending[: k * self.hop], self.pending[k * self.hop:]
            self.queue = np.concatenate([self.queue, self._frames(whole, k)])
        out, self.queue = self.queue[: block.shape[0]], self.queue[block.shape[0]:]
        return out

    def _frames(self, whole: np.ndarray, k: int) -> np.ndarray:
        """Decode the k control frames that `whole` (k hops) completes."""
        if self.prefetch is not None:
            self.prefetch(whole)
        z_new = self.encoder.push(whole)
        controls = self.controls.push(whole)
        zs = np.concatenate([self.z_last, z_new])
        index = (np.arange(self.frames, self.frames + k) + 1) // self.ae.frames_per_z - self.z_count
        z = zs[index]
        if self.latent_map is not None:
            z = self.latent_map(z, controls).astype(np.float32)
        audio = self.synth(whole, z, controls)
        if z_new.shape[0]:
            self.z_last, self.z_count = z_new[-1:], self.z_count + z_new.shape[0]
        self.frames += k
        self.last_controls = controls
        return audio

