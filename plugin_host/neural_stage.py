"""Neural chain stages on the exported autoencoder (ONNX Runtime only): `resynth` (encode -> decode) and
`morph` (the live latent moved toward a target, or across a four-corner XY pad as on NSynth Super).

Audio is float32 mono [n] at the chain rate; the autoencoder streams at 16 kHz inside a `ModelRateStream`,
so the stage's delay is the resamplers' plus the stream's 127 samples at 16 kHz. Both take `voices`: `mono`
(one decoder on the detected pitch) or `poly` (a decoder voice per note the multi-pitch tracker hears, up to
`max_voices`, sharing the latent: export.poly.poly_synth), switchable live through the `voices` command
without a click and without changing the delay; and `decoder`: `harmonic` (the default), `wavenet` (the
autoencoder's WaveNet on the native kernel, export.wavenet.stream_synth) or `lpc` (the LPC WaveNet,
export.wavenet.lpc_synth): the WaveNets play one voice, so `voices: mono` only; fixed for the stage's life, with
the same delay. Per control frame (8 ms):
goal = (1 - pad) * single + pad * bilinear(corners a (x=0, y=0), b (1, 0), c (0, 1), d (1, 1); x, y), and
z' = (1 - amount) * z + amount * goal, with amount, x, y and pad smoothed at the frame rate. Family targets
are pitch-aware: their latent is the bank entry nearest the live input's detected pitch (per control frame,
with 0.6 semitones of hysteresis, held through unvoiced frames). Targets change through `command` (a family,
FAMILY:MIDI or an audio file, resolved outside the audio path, then swapped in whole). Targets and the mixing
functions are `export.autoencoder.morphing`'s, shared with the offline morph and sample banks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from export.autoencoder.latent_bank import LatentBank
from export.autoencoder.morphing import (
    VOICED,
    Target,
    blend,
    check_align_attacks,
    mix_corners,
    parse_target,
    xy_weights,
)
from export.autoencoder.runtime import Controls, OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.core.errors import LatentbridgeError
from export.core.pitch_units import hz_to_midi
from export.onnx.bundled import BUNDLED_DIR
from export.poly.poly_synth import DEFAULT_VOICES, PolyConfig, PolySynth, check_mode, check_voices
from export.wavenet.stream_synth import check_decoder, open_synth
from plugin_host.model_rate import ModelRateStream
from plugin_host.parameters import Parameter
from plugin_host.stage import Stage

DEFAULT_BANK = BUNDLED_DIR / "ae_default.bank.npz"
CORNERS = ("a", "b", "c", "d")
CORNER_KEYS = tuple(f"corner/{c}" for c in CORNERS)
HYSTERESIS = 0.6  # semitones the detected pitch must move before a pitch-aware target follows it
MORPH_PARAMETERS = [
    Parameter("amount", 0.0, 1.0, 0.0, smoothing_s=0.05, description="0: resynthesis, 1: the target's timbre"),
    Parameter("x", 0.0, 1.0, 0.5, smoothing_s=0.05, description="XY pad, corners a/c (0) to b/d (1)"),
    Parameter("y", 0.0, 1.0, 0.5, smoothing_s=0.05, description="XY pad, corners a/b (0) to c/d (1)"),
    Parameter("pad", 0.0, 1.0, 0.0, smoothing_s=0.05, description="0: the single target, 1: the XY pad"),
]


@functools.lru_cache(maxsize=4)
def load_autoencoder(prefix: str | None) -> OnnxAutoencoder:
    """One set of ONNX sessions per model, shared by every stage and chain (sessions are thread-safe)."""
    return OnnxAutoencoder.open(prefix)


@functools.lru_cache(maxsize=4)
def load_bank(path: str) -> LatentBank:
    return LatentBank.load(path)


class MorphTargets:
    """The string controls a timbre stage shares with the morph stage (`target`, `corner/a..d`): the latent bank,
    the targets resolved from their texts, a swap prepared outside the audio path, and the cached bank lookup.
    Mixed into stages that also derive from `Stage` (for `name` and the fallback `prepare_command`)."""

    name: str
    ae: OnnxAutoencoder

    def _init_targets(self, name: str, target: str, corners: list[str] | None, bank: str | None) -> None:
        self.bank_path = str(bank or DEFAULT_BANK)
        self.bank = load_bank(self.bank_path) if Path(self.bank_path).is_file() or bank else None
        self.texts = {"target": target}
        self.targets = {"target": self._resolve(target)}
        corners = corners or [target] * 4
        if len(corners) != 4:
            raise LatentbridgeError(f"stage {name!r}: corners needs four targets (a, b, c, d), got {len(corners)}")
        for corner, text in zip(CORNERS, corners, strict=True):
            self.texts[f"corner/{corner}"] = text
            self.targets[f"corner/{corner}"] = self._resolve(text)

    def _resolve(self, text: str) -> Target:
        return parse_target(text, self.bank, self.ae)

    def _prepare_target(self, name: str, value: str) -> Callable[[], None]:
        """Resolve the single target or a corner (FAMILY, FAMILY:MIDI or an audio file); the returned call sets it."""
        target = self._resolve(value)  # raises before anything changes

        def apply() -> None:
            self.targets = {**self.targets, name: target}  # one reference swap: the worker sees old or new
            self.texts = {**self.texts, name: value}
        return apply

    @functools.lru_cache(maxsize=512)  # noqa: B019 (the stage lives as long as the chain)
    def _lookup(self, family: str, midi: float | None) -> np.ndarray:
        if self.bank is None:
            raise LatentbridgeError(f"stage {self.name!r}: the target {family!r} needs a latent bank")
        return self.bank.lookup(family, midi)


class ResynthStage(Stage):
    """encode -> decode through the autoencoder, block by block."""

    kind = "resynth"
    commands: tuple[str, ...] = ("voices",)

    def __init__(self, name: str, rate: int, model: str | None = None,
                 parameters: list[Parameter] | None = None, voices: str = "mono",
                 max_voices: int = DEFAULT_VOICES, decoder: str = "harmonic", align_attacks_ms: float = 0.0) -> None:
        check_align_attacks(align_attacks_ms, f"stage {name!r}: align_attacks_ms")
        self.ae = load_autoencoder(model)
        self.model = model
        try:
            self.poly = PolySynth(self.ae, check_mode(voices), PolyConfig(voices=check_voices(max_voices)))
            self.decoder = check_decoder(decoder, voices)
            self.wavenet = open_synth(self.ae, decoder) if decoder != "harmonic" else None
        except LatentbridgeError as exc:
            raise LatentbridgeError(f"stage {name!r}: {exc}") from exc
        if voices == "poly":
            _ = self.poly.tracker  # load it now, not in the audio worker
        self.stream = AutoencoderStream(self.ae, latent_map=self._latent_map, synth=self.wavenet or self.poly.push,
                                        prefetch=None if self.wavenet else self.poly.prefetch)
        self.model_rate = ModelRateStream(rate, self.stream.process, self.stream.delay_samples)
        self.align_attacks_ms = float(align_attacks_ms)
        # reported, not applied to the wet path: the chain delays its dry path (and render crops) that much more,
        # so the decoder's late attacks line up with the input's
        super().__init__(name, rate, parameters or [],
                         self.model_rate.delay_samples + round(align_attacks_ms * rate / 1000.0))

    def _latent_map(self, z: np.ndarray, controls: Controls) -> np.ndarray:
        return z

    def render(self, block: np.ndarray) -> np.ndarray:
        return self.model_rate.process(block)

    def prepare_command(self, name: str, value: str) -> Callable[[], None]:
        """`voices`: `mono` or `poly` (the tracker is loaded here, outside the audio path; a WaveNet stage
        refuses `poly`)."""
        if name != "voices":
            return super().prepare_command(name, value)
        mode = check_mode(value)
        check_decoder(self.decoder, mode)
        if mode == "poly":
            _ = self.poly.tracker
        return lambda: self.poly.set_mode(mode)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model": self.model, "decoder": self.decoder, "voices": self.poly.mode,
                "max_voices": self.poly.config.voices, "align_attacks_ms": self.align_attacks_ms}


class MorphStage(MorphTargets, ResynthStage):
    """See the module docstring."""

    kind = "morph"
    commands = ("target", *CORNER_KEYS, "voices")

    def __init__(self, name: str, rate: int, target: str, corners: list[str] | None = None,
                 model: str | None = None, bank: str | None = None, voices: str = "mono",
                 max_voices: int = DEFAULT_VOICES, decoder: str = "harmonic", align_attacks_ms: float = 0.0) -> None:
        super().__init__(name, rate, model, MORPH_PARAMETERS, voices, max_voices, decoder, align_attacks_ms)
        self.frame_rate = self.ae.sample_rate / self.ae.frame_hop
        self.midi = 60.0  # the live input's pitch, held through unvoiced frames
        self._init_targets(name, target, corners, bank)

    def prepare_command(self, name: str, value: str) -> Callable[[], None]:
        """A target or corner (see `MorphTargets`), or `voices` (the resynth stage's)."""
        if name not in self.commands or name == "voices":
            return super().prepare_command(name, value)
        return self._prepare_target(name, value)

    def _pitches(self, controls: Controls) -> np.ndarray:
        """The held MIDI pitch per frame: a voiced frame moves it when it is more than `HYSTERESIS` semitones
        away (no flicker between neighbouring bank entries); unvoiced frames keep it. Frame by frame, so the
        result does not depend on how frames were grouped into calls."""
        out = np.empty(controls.frames)
        for i, (f0, periodicity) in enumerate(zip(controls.f0, controls.periodicity, strict=True)):
            if periodicity > VOICED and f0 > 0:
                midi = hz_to_midi(f0)
                if abs(midi - self.midi) > HYSTERESIS:
                    self.midi = float(round(midi))
            out[i] = self.midi
        return out

    def _latent_map(self, z: np.ndarray, controls: Controls) -> np.ndarray:
        k = z.shape[0]
        amount, x, y, pad = (self.params[n].block(k, self.frame_rate)[:, None] for n in ("amount", "x", "y", "pad"))
        targets = self.targets
        goals = []
        for midi in self._pitches(controls):
            goals.append([targets[key].latent_at(midi, self._lookup) for key in ("target", *CORNER_KEYS)])
        latents = np.asarray(goals)  # [frames, 5, Z]: the single target, then corners a..d
        xy = mix_corners(latents[:, 1:], xy_weights(x[:, 0], y[:, 0]))
        return blend(z, blend(latents[:, 0], xy, pad), amount)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "targets": dict(self.texts), "midi": round(self.midi, 1)}
