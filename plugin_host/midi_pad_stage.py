"""The `midi_pad` stage: MIDI notes played by N voices of the autoencoder's harmonic decoder on a shared latent
(the morph target or the four-corner XY pad, as NSynth Super's pad), on top of the stage's input.

Audio is float32 mono [n] at the chain rate; voices are synthesised at 16 kHz per control frame of 128 samples
(`plugin_host.midi_voices` turns MIDI into per-voice f0 / loudness / gain, `export.poly.voice_decoder` decodes
them in one batched call) inside a `ModelRateStream`, so the delay is a morph stage's: the resamplers' plus 127
samples at 16 kHz. Output = the input delayed by that delay + the voices (times `level`). The shared latent per
frame: goal = (1 - pad) * single + pad * bilinear(corners; x, y), each family target taken at the newest note's
pitch, and z' = (1 - amount) * z_input + amount * goal, where z_input is the stage input's own latent (the
streaming encoder): amount 0 gives the voices the timbre of what is played into the stage. MIDI arrives through
`midi(messages)` between blocks and takes effect at the first control frame not yet synthesised, so the same
messages at the same input samples give the same output whatever the block sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from export.autoencoder.morphing import blend, mix_corners, xy_weights
from export.autoencoder.runtime import EncoderStream
from export.core.errors import LatentbridgeError
from export.poly.poly_synth import check_voices
from export.poly.voice_decoder import VoiceDecoder
from plugin_host.midi_voices import Envelope, MidiEvent, VoiceAllocator
from plugin_host.model_rate import ModelRateStream
from plugin_host.neural_stage import CORNER_KEYS, MORPH_PARAMETERS, MorphTargets, load_autoencoder
from plugin_host.parameters import Parameter
from plugin_host.stage import DelayLine, Stage

DEFAULT_PAD_VOICES = 8
PAD_PARAMETERS = [
    Parameter("attack", 0.001, 5.0, 0.01, "s", "log", 0.0, "time from note-on to full level"),
    Parameter("decay", 0.001, 10.0, 0.2, "s", "log", 0.0, "time from full level down to the sustain level"),
    Parameter("sustain", 0.0, 1.0, 0.7, "", "linear", 0.0, "level held while the key is down (linear)"),
    Parameter("release", 0.001, 10.0, 0.3, "s", "log", 0.0, "time from note-off to silence"),
    Parameter("level", -60.0, 12.0, 0.0, "dB", "db", 0.05, "gain of the summed voices"),
    Parameter("bend_range", 0.0, 24.0, 2.0, "st", "linear", 0.0, "semitones at full pitch bend"),
    *MORPH_PARAMETERS,
]


class MidiPadStage(MorphTargets, Stage):
    """See the module docstring."""

    kind = "midi_pad"
    commands = ("target", *CORNER_KEYS)

    def __init__(self, name: str, rate: int, target: str, corners: list[str] | None = None,
                 model: str | None = None, bank: str | None = None, voices: int = DEFAULT_PAD_VOICES) -> None:
        try:
            voices = check_voices(voices)
        except LatentbridgeError as exc:
            raise LatentbridgeError(f"stage {name!r}: {exc}") from exc
        self.ae = load_autoencoder(model)
        self.model = model
        self.hop = self.ae.frame_hop
        self.frame_rate = self.ae.sample_rate / self.hop
        self.allocator = VoiceAllocator(voices)
        self.decoder = VoiceDecoder(self.ae, voices)
        self.encoder = EncoderStream(self.ae.graphs["encoder_stream"], self.ae.frames_per_z, self.hop)
        self.z_last = np.zeros((1, self.ae.z_dim), np.float32)  # the latest complete input z (zeros first)
        self.z_count = 0
        self.pending = np.zeros(0, np.float32)  # 16 kHz input of the control frame in progress
        self.queue = np.zeros(self.hop - 1, np.float32)  # a frame is heard once its last input sample is in
        self._init_targets(name, target, corners, bank)
        self.model_rate = ModelRateStream(rate, self._process16, self.hop - 1)
        super().__init__(name, rate, PAD_PARAMETERS, self.model_rate.delay_samples)
        self._through = DelayLine(self.delay_samples)

    # -- string controls (the morph stage's, from `MorphTargets`) ------------------------------------------
    def prepare_command(self, name: str, value: str) -> Callable[[], None]:
        if name not in self.commands:
            return super().prepare_command(name, value)
        return self._prepare_target(name, value)

    # -- MIDI and audio ------------------------------------------------------------------------------------
    def midi(self, messages: list[bytes]) -> None:
        """Raw MIDI messages, effective from the first control frame not yet synthesised."""
        for message in messages:
            self.allocator.push(MidiEvent(self.allocator.frame, tuple(message)))

    def render(self, block: np.ndarray) -> np.ndarray:
        return self._through.process(block) + self.model_rate.process(block)

    def _process16(self, audio: np.ndarray) -> np.ndarray:
        """16 kHz input [n] -> the voices [n], delayed by hop - 1 samples."""
        self.pending = np.concatenate([self.pending, audio.astype(np.float32, copy=False)])
        k = self.pending.shape[0] // self.hop
        if k:
            whole, self.pending = self.pending[: k * self.hop], self.pending[k * self.hop:]
            self.queue = np.concatenate([self.queue, self._frames(whole, k)])
        out, self.queue = self.queue[: audio.shape[0]], self.queue[audio.shape[0]:]
        return out

    def _frames(self, whole: np.ndarray, k: int) -> np.ndarray:
        """The voices of the k control frames `whole` (k hops of input) completes."""
        p = {name: value.target for name, value in self.params.items()}
        self.allocator.envelope = Envelope(p["attack"], p["decay"], p["sustain"], p["release"])
        self.allocator.bend_range = p["bend_range"]
        first = self.allocator.frame
        voices = self.allocator.render(k)
        z_new = self.encoder.push(whole)
        zs = np.concatenate([self.z_last, z_new])
        z_in = zs[(np.arange(first, first + k) + 1) // self.ae.frames_per_z - self.z_count]
        if z_new.shape[0]:
            self.z_last, self.z_count = z_new[-1:], self.z_count + z_new.shape[0]
        amount, x, y, pad = (self.params[n].block(k, self.frame_rate)[:, None] for n in ("amount", "x", "y", "pad"))
        targets = self.targets
        goals = np.asarray([[targets[key].latent_at(float(midi), self._lookup) for key in ("target", *CORNER_KEYS)]
                            for midi in voices.pitch])  # [k, 5, Z]
        xy = mix_corners(goals[:, 1:], xy_weights(x[:, 0], y[:, 0]))
        z = blend(z_in, blend(goals[:, 0], xy, pad), amount)
        audio = self.decoder.push(z, voices.f0, voices.periodicity, voices.loudness, voices.gain)
        level = 10.0 ** (self.params["level"].block(audio.shape[0], self.ae.sample_rate) / 20.0)
        return (audio * level).astype(np.float32)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model": self.model, "targets": dict(self.texts),
                "voices": self.allocator.voices, "sounding": self.allocator.sounding}
