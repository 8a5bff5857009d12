"""N voices of the harmonic-plus-noise decoder in one batched ONNX call, sharing one latent, summed.

Everything is per control frame of `frame_hop` (128) samples at 16 kHz: z [k, Z] is shared by every voice;
f0 (Hz), periodicity, loudness (dB) and gain (0..1) are [k, N], one column per voice. Every voice slot is
decoded every frame (an idle one with gain 0), so each keeps continuous decoder state and a voice that starts
never begins from a cold state mid-note; the cost is fixed, which is what a real-time worker wants. A voice's
audio is multiplied by its gain ramped linearly across each frame from the previous frame's gain, so gains
that jump from frame to frame still give no click. The sum is float32 [k * frame_hop].

Voice 0 starts with exactly the monophonic decoder's state; voice v's noise generator starts `v *
NOISE_STRIDE` samples further along the decoder's noise table, so the voices' noise is not one signal
repeated N times. Blocks with the carried state equal one call.
"""

from __future__ import annotations

import numpy as np

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.errors import LatentbridgeError
from export.onnx.loader import filled_input

MAX_VOICES = 16
NOISE_STRIDE = 4099  # samples between the voices' starting points in the noise table (prime: no alignment)
PER_VOICE = ("f0", "periodicity", "loudness", "gain")


class VoiceDecoder:
    """See the module docstring."""

    def __init__(self, ae: OnnxAutoencoder, voices: int, start_gain: np.ndarray | None = None) -> None:
        if not 1 <= voices <= MAX_VOICES:
            raise LatentbridgeError(f"voices must be between 1 and {MAX_VOICES}, got {voices}")
        self.graph, self.voices, self.hop = ae.graphs["decoder"], voices, ae.frame_hop
        inputs = [i for i in self.graph.session.get_inputs() if i.name not in ("z", *PER_VOICE)]
        self.state = {i.name: filled_input(i, voices) for i in inputs}
        self.batch_axis = {i.name: list(i.shape).index("batch") for i in inputs}
        if "position" in self.state:
            self.state["position"] = (np.arange(voices) * NOISE_STRIDE).astype(self.state["position"].dtype)
        # the gain each voice ended the last frame with (`start_gain`, default 0: the first frame fades in)
        self.gain = np.zeros(voices, np.float32) if start_gain is None else np.asarray(start_gain, np.float32)
        self.ramp = (np.arange(1, self.hop + 1, dtype=np.float32) / self.hop)[None, :, None]  # [1, hop, 1]

    def push(self, z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray, loudness: np.ndarray,
             gain: np.ndarray) -> np.ndarray:
        """The summed voices [k * frame_hop] for k frames (see the module docstring)."""
        return self._run(z, f0, periodicity, loudness, gain, self.voices)

    def push_first(self, z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray, loudness: np.ndarray) -> np.ndarray:
        """Slot 0 alone at gain 1 (inputs [k]): the other slots keep their state and must have gain 0; the
        same graph call, state and inputs as the monophonic decoder's, so the same audio bit for bit."""
        if self.gain[1:].any():
            raise LatentbridgeError("VoiceDecoder.push_first: other voices still sound")
        one = (np.asarray(a, np.float32)[:, None] for a in (f0, periodicity, loudness))
        return self._run(z, *one, np.ones((z.shape[0], 1), np.float32), 1)

    def _run(self, z: np.ndarray, f0: np.ndarray, periodicity: np.ndarray, loudness: np.ndarray,
             gain: np.ndarray, n: int) -> np.ndarray:
        k = z.shape[0]
        for name, value in zip(PER_VOICE, (f0, periodicity, loudness, gain), strict=True):
            if value.shape != (k, n):
                raise LatentbridgeError(f"VoiceDecoder.push: {name} must be [{k}, {n}], got {list(value.shape)}")
        if k == 0:
            return np.zeros(0, np.float32)
        state = self.state if n == self.voices else {name: np.take(value, range(n), axis=self.batch_axis[name])
                                                     for name, value in self.state.items()}
        out = self.graph.run(z=np.broadcast_to(z[None].astype(np.float32), (n, k, z.shape[1])).copy(),
                             f0=np.ascontiguousarray(f0.T, np.float32),
                             periodicity=np.ascontiguousarray(periodicity.T, np.float32),
                             loudness=np.ascontiguousarray(loudness.T, np.float32), **state)
        for name, value in self.state.items():
            if n == self.voices:
                self.state[name] = out[f"{name}_out"]
            else:
                index = [slice(None)] * value.ndim
                index[self.batch_axis[name]] = slice(0, n)
                value[tuple(index)] = out[f"{name}_out"]
        audio = out["audio"].reshape(n, k, self.hop).transpose(1, 2, 0)  # [k, hop, n]
        if n == 1 and not self.gain[1:].any() and self.gain[0] == 1 and (gain == 1).all():
            return np.ascontiguousarray(audio[:, :, 0]).reshape(-1)
        gain = gain.astype(np.float32)
        start = np.concatenate([self.gain[None, :n], gain[:-1]])  # [k, n]: each frame's gain ramps from here
        ramped = start[:, None, :] + (gain - start)[:, None, :] * self.ramp  # [k, hop, n]
        self.gain[:n] = gain[-1]
        return (audio * ramped).sum(axis=2, dtype=np.float32).reshape(-1)
