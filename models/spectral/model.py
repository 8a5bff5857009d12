"""Spectral autoencoder baseline of the NSynth paper: log-magnitude STFT -> 2-D conv AE -> Griffin-Lim.

Model input / output: log-magnitude [B, n_fft // 2, frames] in [0, 1] (see `features`; the Nyquist bin is
dropped, frames zero-padded (= silence) to a multiple of 2 ** len(channels)); z [B, z_channels, n_fft // 2 /
2 ** L, frames / 2 ** L]. Each of the L encoder layers is a 4x4 conv with stride 2x2, leaky ReLU (0.1) and
batch norm; the decoder mirrors it with transposed convs and ends in a sigmoid. Loss: MSE weighted per bin,
10 at 0 Hz falling linearly to 1 at 4 kHz, 1 above. Audio 16 kHz mono [B, T].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config
from models.spectral.features import SpectrogramConfig, log_magnitude, logmag_to_magnitude
from models.spectral.griffin_lim import griffin_lim

KERNEL, STRIDE, PADDING = 4, 2, 1  # every layer exactly halves (encoder) or doubles (decoder) both axes


@dataclass(frozen=True)
class SpectralAEConfig:
    """Spectral autoencoder: STFT settings, encoder widths (decoder mirrors them), bottleneck, loss, phase."""

    spectrogram: SpectrogramConfig = SpectrogramConfig()
    channels: tuple[int, ...] = (16, 32, 32, 64)
    z_channels: int = 4
    leaky_slope: float = 0.1
    low_weight: float = 10.0  # loss weight of the 0 Hz bin
    weight_knee_hz: float = 4000.0  # the weight falls linearly to 1 here and stays 1 above
    griffin_lim_iters: int = 100
    griffin_lim_momentum: float = 0.99
    n_samples: int = 64000  # training clip length (4-s NSynth notes); any length works at inference

    def __post_init__(self) -> None:
        if not self.channels or min(self.channels) < 1 or self.z_channels < 1:
            raise LatentbridgeError("SpectralAEConfig needs >= 1 layer and positive channel counts")
        if self.n_freq % self.time_multiple:
            raise LatentbridgeError(f"n_fft / 2 = {self.n_freq} must be divisible by "
                                    f"2 ** {len(self.channels)}")
        if self.low_weight < 1.0 or self.weight_knee_hz <= 0.0:
            raise LatentbridgeError("SpectralAEConfig needs low_weight >= 1 and weight_knee_hz > 0")

    @property
    def n_freq(self) -> int:
        """Frequency bins the network sees: n_fft // 2 (0 Hz up to one bin below Nyquist)."""
        return self.spectrogram.n_fft // 2

    @property
    def time_multiple(self) -> int:
        return 2 ** len(self.channels)

    def padded_frames(self, n_samples: int) -> int:
        frames = self.spectrogram.n_frames(n_samples)
        return -(-frames // self.time_multiple) * self.time_multiple

    def z_shape(self, n_samples: int) -> tuple[int, int, int]:
        """(channels, freq, time) of z for a clip of n_samples."""
        return (self.z_channels, self.n_freq // self.time_multiple,
                self.padded_frames(n_samples) // self.time_multiple)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpectralAEConfig:
        return config_from_dict(cls, values)


def frequency_weights(n_bins: int, n_fft: int, sample_rate: int = MODEL_RATE, low_weight: float = 10.0,
                      knee_hz: float = 4000.0) -> Tensor:
    """Loss weight of bins 0..n_bins-1 (bin k at k * sample_rate / n_fft Hz): low_weight at 0 Hz, falling
    linearly to 1 at knee_hz, 1 at and above it."""
    freqs = torch.arange(n_bins, dtype=torch.float64) * sample_rate / n_fft
    return (1.0 + (low_weight - 1.0) * torch.clamp(1.0 - freqs / knee_hz, min=0.0)).float()


class SpectralAutoencoder(nn.Module):
    """encode(logmag) -> z, decode(z) -> logmag, forward = decode(encode(.)), reconstruct(audio) -> audio."""

    weights: Tensor

    def __init__(self, cfg: SpectralAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        slope = cfg.leaky_slope
        widths = (1, *cfg.channels)
        encoder: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [nn.Conv2d(c_in, c_out, KERNEL, STRIDE, PADDING), nn.LeakyReLU(slope),
                        nn.BatchNorm2d(c_out)]
        encoder.append(nn.Conv2d(cfg.channels[-1], cfg.z_channels, 1))
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [nn.Conv2d(cfg.z_channels, cfg.channels[-1], 1), nn.LeakyReLU(slope),
                                    nn.BatchNorm2d(cfg.channels[-1])]
        backwards = widths[::-1]
        for i, (c_in, c_out) in enumerate(zip(backwards[:-1], backwards[1:], strict=True)):
            decoder.append(nn.ConvTranspose2d(c_in, c_out, KERNEL, STRIDE, PADDING))
            if i < len(cfg.channels) - 1:
                decoder += [nn.LeakyReLU(slope), nn.BatchNorm2d(c_out)]
        decoder.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*decoder)
        spec = cfg.spectrogram
        weights = frequency_weights(cfg.n_freq, spec.n_fft, spec.sample_rate, cfg.low_weight,
                                    cfg.weight_knee_hz)
        self.register_buffer("weights", weights, persistent=False)

    def encode(self, logmag: Tensor) -> Tensor:
        """[B, n_freq, frames] (frames a multiple of 2^L) -> z [B, z_channels, n_freq / 2^L, frames / 2^L]."""
        return self.encoder(logmag.unsqueeze(1))

    def decode(self, z: Tensor) -> Tensor:
        """z [B, z_channels, f, t] -> log-magnitude [B, f * 2^L, t * 2^L] in (0, 1)."""
        return self.decoder(z).squeeze(1)

    def forward(self, logmag: Tensor) -> Tensor:
        return self.decode(self.encode(logmag))

    def loss(self, predicted: Tensor, target: Tensor) -> Tensor:
        """mean over batch, bins and frames of weight[bin] * (predicted - target) ** 2."""
        return torch.mean(self.weights[:, None] * (predicted - target).square())

    def prepare(self, audio: Tensor) -> Tensor:
        """Audio [B, T] -> model input [B, n_freq, padded_frames(T)]: Nyquist bin dropped, silence padded."""
        if audio.dim() != 2:
            raise LatentbridgeError(f"audio must be [batch, samples], got shape {tuple(audio.shape)}")
        logmag = log_magnitude(audio, self.cfg.spectrogram)[:, : self.cfg.n_freq]
        extra = self.cfg.padded_frames(audio.shape[-1]) - logmag.shape[-1]
        return F.pad(logmag, (0, extra))

    @torch.no_grad()
    def reconstruct(self, audio: Tensor, n_iter: int | None = None, seed: int = 0) -> Tensor:
        """Audio [B, T] -> autoencoded audio [B, T]: eval-mode AE on the log-magnitude, Griffin-Lim phase."""
        spec = self.cfg.spectrogram
        was_training = self.training
        self.eval()
        try:
            decoded = self(self.prepare(audio))
        finally:
            self.train(was_training)
        frames = spec.n_frames(audio.shape[-1])
        logmag = F.pad(decoded[..., :frames], (0, 0, 0, 1))  # Nyquist bin back as silence
        iters = self.cfg.griffin_lim_iters if n_iter is None else n_iter
        return griffin_lim(logmag_to_magnitude(logmag, spec), spec.n_fft, spec.hop, audio.shape[-1],
                           n_iter=iters, momentum=self.cfg.griffin_lim_momentum, seed=seed)


# CPU-trainable: 4 layers, z = 4 x 32 x 16 = 2048 values per 4-s note (close to the paper's 1984).
SMALL = SpectralAEConfig()
# Sized per the NSynth paper: 10 conv layers (5 down, 5 up) of 4x4 kernels with 2x2 strides, leaky ReLU 0.1
# and batch norm; z = 16 x 16 x 8 = 2048 values per 4-s note (paper: 1984). The widths are our choice.
NSYNTH_SPECTRAL = SpectralAEConfig(channels=(64, 128, 256, 256, 512), z_channels=16)

CONFIGS: dict[str, SpectralAEConfig] = {"small": SMALL, "nsynth_spectral": NSYNTH_SPECTRAL}
TEST_CONFIGS: dict[str, SpectralAEConfig] = {
    "tiny": SpectralAEConfig(spectrogram=SpectrogramConfig(n_fft=64, hop=16), channels=(4, 8), z_channels=2,
                             griffin_lim_iters=8, n_samples=1024),
    "tiny_3layer": replace(SMALL, channels=(4, 4, 8), z_channels=2, griffin_lim_iters=4, n_samples=4096),
}


def get_config(name: str) -> SpectralAEConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "spectral autoencoder", CONFIGS, TEST_CONFIGS)
