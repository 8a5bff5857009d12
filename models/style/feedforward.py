"""The feed-forward live style network (torch): a causal spectral-gain network on the input's STFT.

Audio 1-D or [B, T] float32 at 16 kHz. Frames: `n_fft`-point sqrt-Hann windows every `hop` samples, frame j
ending at sample (j + 1) * hop (causal); `n_mels` log-mel bands -> GRU -> one gain per band and frame (bounded to
+-`max_db`), spread to the bins by interpolation between band centres, the input's phase kept, sqrt-Hann synthesis
and overlap-add. The offline output has no delay; a stream emits it `n_fft - 1` samples late (see
`export.onnx.style_net`). The exported graph is `gains`: magnitude frames [B, F, bins] and the GRU state
[1, B, hidden] -> bin gains [B, F, bins] and the next state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.spectrogram import mel_filterbank, to_mel
from models.config_dicts import config_from_dict, config_to_dict

DB_PER_NEPER = 20.0 / math.log(10.0)


@dataclass(frozen=True)
class FeedForwardConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 64
    hidden: int = 128
    max_db: float = 12.0

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeedForwardConfig:
        return config_from_dict(cls, values)


def spread_matrix(n_mels: int, n_fft: int, rate: int) -> np.ndarray:
    """[bins, n_mels]: each bin's weights over the bands (linear between the two nearest band centres on the mel
    scale, the end bands held beyond the outer centres); rows sum to 1."""
    top = float(to_mel(rate / 2))
    centres = np.linspace(0.0, top, n_mels + 2)[1:-1]
    position = np.interp(to_mel(np.fft.rfftfreq(n_fft, 1.0 / rate)), centres, np.arange(n_mels))
    low = np.floor(position).astype(int).clip(0, n_mels - 1)
    high = np.minimum(low + 1, n_mels - 1)
    frac = position - low
    out = np.zeros((position.size, n_mels))
    out[np.arange(position.size), low] += 1.0 - frac
    out[np.arange(position.size), high] += frac
    return out


def analysis_window(n_fft: int) -> Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt().float()


class SpectralGainNet(nn.Module):
    """See the module docstring. `forward(audio [B, T]) -> styled [B, T]`; `gains` is the exported graph."""

    mel: Tensor
    spread: Tensor
    window: Tensor

    def __init__(self, cfg: FeedForwardConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate)).float())
        self.register_buffer("spread", torch.from_numpy(spread_matrix(cfg.n_mels, cfg.n_fft, cfg.sample_rate)).float())
        self.register_buffer("window", analysis_window(cfg.n_fft))
        self.gru = nn.GRU(cfg.n_mels, cfg.hidden, batch_first=True)
        self.out = nn.Linear(cfg.hidden + cfg.n_mels, cfg.n_mels)
        nn.init.zeros_(self.out.weight)  # starts as the identity (0 dB everywhere)
        nn.init.zeros_(self.out.bias)

    def gains(self, magnitude: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """|STFT| frames [B, F, bins], GRU state [1, B, hidden] -> linear bin gains [B, F, bins], next state."""
        power = torch.matmul(magnitude.square(), self.mel.transpose(0, 1))
        features = (torch.log10(power + 1e-8) + 4.0) / 4.0
        hidden, state = self.gru(features, state)
        db = self.cfg.max_db * torch.tanh(self.out(torch.cat([hidden, features], dim=-1)))
        return torch.exp(torch.matmul(db, self.spread.transpose(0, 1)) / DB_PER_NEPER), state

    def initial_state(self, batch: int) -> Tensor:
        return torch.zeros(1, batch, self.cfg.hidden)

    def spectrum(self, audio: Tensor) -> Tensor:
        """[B, T] -> complex frames [B, F, bins], frame j ending at sample (j + 1) * hop; F = ceil(T / hop) +
        n_fft / hop - 1, the last frames reading zeros after the end, so every sample is in n_fft / hop frames."""
        n_fft, hop = self.cfg.n_fft, self.cfg.hop
        frames = -(-audio.shape[-1] // hop) + n_fft // hop - 1
        padded = F.pad(audio, (n_fft - hop, frames * hop - audio.shape[-1]))
        return torch.fft.rfft(padded.unfold(-1, n_fft, hop) * self.window, dim=-1)

    def forward(self, audio: Tensor) -> Tensor:
        squeeze = audio.dim() == 1
        x = audio.unsqueeze(0) if squeeze else audio
        spec = self.spectrum(x)
        gains, _ = self.gains(spec.abs(), self.initial_state(x.shape[0]))
        y = self.overlap_add(torch.fft.irfft(spec * gains, n=self.cfg.n_fft, dim=-1) * self.window, x.shape[-1])
        return y[0] if squeeze else y

    def overlap_add(self, frames: Tensor, length: int) -> Tensor:
        """Windowed frames [B, F, n_fft] -> [B, length] (the analysis padding cropped; unit gain for Hann^2)."""
        n_fft, hop = self.cfg.n_fft, self.cfg.hop
        count = frames.shape[1]
        total = (count - 1) * hop + n_fft
        out = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))
        return out[:, 0, 0, n_fft - hop: n_fft - hop + length] * (2.0 * hop / n_fft)
