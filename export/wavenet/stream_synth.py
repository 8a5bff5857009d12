"""The autoencoder's WaveNet decoder (native kernel) as the synth of an `AutoencoderStream`, in place of the
harmonic decoder: for the live resynth/morph stages (`decoder: wavenet`) and the offline `morph --decoder wavenet`;
`open_synth` picks it or the LPC WaveNet's synth (`export.wavenet.lpc_synth`, `decoder: lpc`) by name.

Audio is float32 mono at 16 kHz in whole control frames of 128 samples: `synth(audio [k * 128], z [k, Z],
controls)` returns the k frames' audio [k * 128] with no added delay (`audio` is not read), each frame conditioned
as `note_decoders.WaveNetNotes` conditions a note (z, MIDI, loudness, periodicity; the period from f0) and decoded
from 8-bit mu-law. State (layer queues, the waveform one period back, the last class, the seeded splitmix64
sampling stream) carries across calls, so frames pushed in any grouping give one call's samples bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.autoencoder.morphing import Decode
from export.autoencoder.runtime import Controls, OnnxAutoencoder
from export.core.errors import LatentbridgeError
from export.wavenet.block_decode import decode_in_blocks
from export.wavenet.kernel import NativeWaveNet, WaveNetWeights, read_weights
from export.wavenet.lpc_synth import LpcWaveNetSynth
from export.wavenet.note_decoders import DECODERS, check_note_wavenet, mu_law_decode, note_local, note_period


@dataclass(frozen=True)
class WaveNetSynthConfig:
    temperature: float = 0.7  # the temperature the model card's judges used
    seed: int = 0  # the sampling stream


def check_decoder(decoder: str, voices: str = "mono") -> str:
    """`decoder` if it is one of DECODERS and can play `voices` (the WaveNets play one voice); else a one-line
    error."""
    if decoder not in DECODERS:
        raise LatentbridgeError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    if decoder != "harmonic" and voices != "mono":
        raise LatentbridgeError(f"decoder {decoder} plays one voice: it cannot run with voices {voices} "
                                "(use voices mono, or decoder harmonic)")
    return decoder


@functools.lru_cache(maxsize=2)
def load_weights(path: str) -> WaveNetWeights:
    """The graph's config and weights, read once per file and shared by every synth (the kernel copies them)."""
    weights = read_weights(path)
    if weights.lpc is not None:
        raise LatentbridgeError(f"{path}: an LPC WaveNet (use decoder lpc)")
    return weights


class WaveNetSynth:
    """See the module docstring. `graph`: a `wavenet_step` graph (default: the bundled ae_wavenet)."""

    def __init__(self, ae: OnnxAutoencoder, config: WaveNetSynthConfig | None = None,
                 graph: str | Path | None = None) -> None:
        from export.onnx.bundled import bundled_graph

        self.config = config or WaveNetSynthConfig()
        if not np.isfinite(self.config.temperature) or self.config.temperature < 0:
            raise LatentbridgeError(f"WaveNet temperature must be >= 0, got {self.config.temperature}")
        self.path = Path(graph) if graph is not None else bundled_graph("wavenet", "wavenet_step", "ae_wavenet")
        weights = load_weights(str(self.path))
        check_note_wavenet(weights.config, ae, self.path)
        self.ae_cfg, self.cfg, self.hop = ae.config, weights.config, ae.frame_hop
        self.generator = NativeWaveNet(weights, batch=1, seed=self.config.seed)

    def reset(self) -> None:
        """Back to silence, the sampling stream restarted (a fresh synth's state)."""
        self.generator.reset()

    def __call__(self, audio: np.ndarray, z: np.ndarray, controls: Controls) -> np.ndarray:
        """audio [k * hop] (unused), z [k, Z], the k frames' controls -> their audio [k * hop] float32."""
        k = controls.frames
        if k == 0:
            return np.zeros(0, np.float32)
        f0 = np.asarray(controls.f0)[None]
        local = note_local(self.ae_cfg, np.asarray(z, np.float32).T[None], f0,
                           np.asarray(controls.periodicity)[None], np.asarray(controls.loudness)[None])
        classes, _ = self.generator.generate(k * self.hop, local=local, period=note_period(self.ae_cfg, self.cfg, f0),
                                             temperature=self.config.temperature)
        return mu_law_decode(classes[0])

    def decode(self, z: np.ndarray, controls: Controls, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """A whole file's frames (z [F, Z]) -> audio [F * hop], in blocks (the same samples as one call)."""
        return decode_in_blocks(self, z, controls, self.hop, progress)


def open_synth(ae: OnnxAutoencoder, decoder: str) -> WaveNetSynth | LpcWaveNetSynth:
    """The one-voice synth of a neural `decoder` (`wavenet` or `lpc`) on its bundled model."""
    if check_decoder(decoder) == "wavenet":
        return WaveNetSynth(ae)
    if decoder == "lpc":
        return LpcWaveNetSynth(ae)
    raise LatentbridgeError(f"decoder {decoder} has no WaveNet synth")


def wavenet_decoder(ae: OnnxAutoencoder, decoder: str = "wavenet") -> Callable[[], Decode]:
    """A factory for `morphing.morph(decode=...)` with the bundled `decoder` (`wavenet` or `lpc`): each call gives
    the decoder back at silence with its sampling stream restarted (one synth, opened here so a missing or corrupt
    model fails before any work)."""
    synth = open_synth(ae, decoder)

    def fresh() -> Decode:
        synth.reset()
        return lambda audio, z, controls, progress: synth.decode(z, controls, progress)
    return fresh
