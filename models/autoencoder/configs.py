"""Autoencoder hyper-parameters (frozen dataclasses) and named configs: shipped default, NSynth sizes, tests.

Rate 16 kHz. Controls (f0, periodicity, loudness) and decoder frames come every `frame_hop` (128) samples;
one latent z every `encoder.hop` (512) samples. Configs round-trip through JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config

FRONTENDS = ("audio", "logmel")


@dataclass(frozen=True)
class EncoderConfig:
    """Residual stack (ReLU -> dilated conv -> ReLU -> 1x1, residual) -> 1x1 bottleneck -> average pool.

    frontend "audio" runs the stack on raw samples (NSynth); "logmel" on causal log-mel frames of
    `frame_hop` samples (n_fft window ending at each frame's end). Layer i has dilation 2 ** (i % cycle).
    """

    frontend: str = "logmel"
    layers: int = 10
    cycle: int = 5
    width: int = 32
    kernel_size: int = 3
    z_dim: int = 16
    hop: int = 512
    causal: bool = True
    variational: bool = False
    n_mels: int = 64
    n_fft: int = 1024

    def __post_init__(self) -> None:
        if self.frontend not in FRONTENDS:
            raise LatentbridgeError(f"EncoderConfig.frontend must be one of {FRONTENDS}, "
                                    f"got {self.frontend!r}")
        for name in ("layers", "cycle", "width", "z_dim", "hop", "n_mels", "n_fft"):
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"EncoderConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise LatentbridgeError(f"EncoderConfig.kernel_size must be odd, got {self.kernel_size}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** (i % self.cycle) for i in range(self.layers))


@dataclass(frozen=True)
class DecoderConfig:
    """Frame-rate network (MLP -> causal GRU -> MLP) -> amplitude, harmonic distribution, noise bands."""

    hidden: int = 128
    n_harmonics: int = 60
    n_noise: int = 65
    noise_bias: float = -5.0  # initial noise-band logit: start almost silent (DDSP)
    noise_table: int = 32768  # period in samples of the fixed band-limited noise tables
    noise_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden", "n_harmonics", "n_noise", "noise_table"):
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"DecoderConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_noise < 2:
            raise LatentbridgeError(f"DecoderConfig.n_noise must be >= 2, got {self.n_noise}")


@dataclass(frozen=True)
class AutoencoderConfig:
    """The whole model: controls (yin f0 + periodicity, A-weighted loudness), encoder, decoder, loss."""

    encoder: EncoderConfig = EncoderConfig()
    decoder: DecoderConfig = DecoderConfig()
    sample_rate: int = MODEL_RATE
    frame_hop: int = 128
    pitch_window: int = 1024
    pitch_fmin: float = 40.0
    pitch_fmax: float = 1600.0
    pitch_threshold: float = 0.15
    loudness_n_fft: int = 1024
    loudness_floor_db: float = -100.0
    # per-frame level correction of the decoder's output toward the loudness control (level.py), at inference
    # (eval mode) only: bound in dB (0 turns it off), no boost for targets at or below the gate, full boost
    # `level_gate_width_db` above it; the measured level ratio is predicted `level_predict_frames` ahead
    level_max_db: float = 12.0
    level_gate_db: float = -80.0
    level_gate_width_db: float = 10.0
    level_predict_frames: float = 2.0
    kl_weight: float = 0.0  # used only with encoder.variational
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
    log_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.frame_hop < 1 or self.encoder.hop % self.frame_hop:
            raise LatentbridgeError(f"encoder.hop ({self.encoder.hop}) must be a multiple of frame_hop "
                                    f"({self.frame_hop})")
        if self.encoder.frontend == "logmel" and self.encoder.n_fft < self.frame_hop:
            raise LatentbridgeError("encoder.n_fft must be >= frame_hop")
        if (self.level_max_db < 0 or self.level_gate_width_db <= 0 or self.level_gate_db < self.loudness_floor_db
                or self.level_predict_frames < 0):
            raise LatentbridgeError(f"need level_max_db >= 0, level_gate_width_db > 0, level_gate_db >= "
                                    f"loudness_floor_db and level_predict_frames >= 0, got {self.level_max_db}, "
                                    f"{self.level_gate_width_db}, {self.level_gate_db}, {self.level_predict_frames}")
        if not 0 < self.pitch_fmin < self.pitch_fmax <= self.sample_rate / 2:
            raise LatentbridgeError(f"need 0 < pitch_fmin < pitch_fmax <= Nyquist, got "
                                    f"{self.pitch_fmin}, {self.pitch_fmax}")

    @property
    def frames_per_z(self) -> int:
        return self.encoder.hop // self.frame_hop

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AutoencoderConfig:
        return config_from_dict(cls, values)



# Shipped default, trained on one CPU core: causal log-mel encoder (10 layers of width 32 at the 128-sample
# frame rate, dilations 1..16 twice: 1 s receptive field) -> z16 per 512 samples; GRU 128, 60 harmonics,
# 65 noise bands. The same weights stream exactly.
AE_SMALL = AutoencoderConfig()

# NSynth raw-audio encoder of the same size (10 layers width 32, dilations 1..512), causal: about 3x slower
# per training step on a CPU than the log-mel front end.
NSYNTH_SMALL = AutoencoderConfig(encoder=EncoderConfig(frontend="audio", layers=10, cycle=10, width=32))

# Published NSynth encoder sizes (h512_bo16: 30 layers in 3 stacks of 10, encoder width 128 -- the 512 in
# the name is the WaveNet decoder's width -- z16 per 512 samples, non-causal as published). For GPU users.
NSYNTH_H512_BO16 = AutoencoderConfig(encoder=EncoderConfig(frontend="audio", layers=30, cycle=10, width=128,
                                                           causal=False))

CONFIGS: dict[str, AutoencoderConfig] = {
    "ae_small": AE_SMALL,
    "nsynth_small": NSYNTH_SMALL,
    "nsynth_h512_bo16": NSYNTH_H512_BO16,
}
DEFAULT_CONFIG = "ae_small"

_TINY_DEC = DecoderConfig(hidden=16, n_harmonics=8, n_noise=9, noise_table=4096)
_TINY = AutoencoderConfig(encoder=EncoderConfig(layers=3, cycle=2, width=8, z_dim=4, n_mels=16, n_fft=256),
                          decoder=_TINY_DEC, fft_sizes=(256, 64))
TEST_CONFIGS: dict[str, AutoencoderConfig] = {
    "tiny": _TINY,
    "tiny_audio": replace(_TINY, encoder=replace(_TINY.encoder, frontend="audio")),
    "tiny_vae": replace(_TINY, encoder=replace(_TINY.encoder, variational=True), kl_weight=0.01),
    "tiny_noncausal": replace(_TINY, encoder=replace(_TINY.encoder, frontend="audio", causal=False)),
}


def get_config(name: str) -> AutoencoderConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "autoencoder", CONFIGS, TEST_CONFIGS)
