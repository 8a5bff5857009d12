"""Frame-rate decoder network: (z, f0, loudness, periodicity) per 128-sample frame -> synthesiser parameters.

Inputs [B, F, Z + 3] (normalised controls, see model.py); outputs overall amplitude [B, 1, F], harmonic
distribution [B, H, F] and noise-band magnitudes [B, N, F], all positive (DDSP's scaled sigmoid). The GRU is
causal; its hidden state [1, B, hidden] is passed in and out explicitly, so frames can arrive in blocks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from models.autoencoder.configs import DecoderConfig

N_CONTROLS = 3  # f0, loudness, periodicity


def scaled_sigmoid(x: Tensor) -> Tensor:
    """2 * sigmoid(x) ** ln(10) + 1e-7: positive, smooth, with a large dynamic range (DDSP)."""
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def _mlp(inputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU())


class FrameDecoder(nn.Module):
    """MLP -> GRU -> MLP(GRU output, MLP input) -> linear heads."""

    def __init__(self, cfg: DecoderConfig, z_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.pre = _mlp(z_dim + N_CONTROLS, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, batch_first=True)
        self.post = _mlp(2 * cfg.hidden, cfg.hidden)
        self.head = nn.Linear(cfg.hidden, 1 + cfg.n_harmonics + cfg.n_noise)
        with torch.no_grad():
            self.head.bias[1 + cfg.n_harmonics:].fill_(cfg.noise_bias)

    def init_hidden(self, batch: int) -> Tensor:
        return self.head.weight.new_zeros(1, batch, self.cfg.hidden)

    def forward(self, inputs: Tensor, hidden: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """inputs [B, F >= 1, Z + 3] -> (amplitude [B, 1, F], distribution [B, H, F], noise [B, N, F],
        hidden)."""
        if hidden is None:
            hidden = self.init_hidden(inputs.shape[0])
        x = self.pre(inputs)
        y, hidden = self.gru(x, hidden)
        out = scaled_sigmoid(self.head(self.post(torch.cat([y, x], dim=-1)))).transpose(1, 2)
        h = self.cfg.n_harmonics
        return out[:, :1], out[:, 1: 1 + h], out[:, 1 + h:], hidden
