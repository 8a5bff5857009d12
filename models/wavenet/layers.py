"""WaveNet building blocks: dilated causal conv, gated residual block, conditioning upsampling (PyTorch).

Tensors are [batch, channels, time] at the audio rate (16 kHz). Local conditioning arrives in frames of `hop`
samples and is repeated to the audio rate: sample t uses frame t // hop. Every block has a full-sequence
`forward` and a one-sample `step` that takes and returns its queue explicitly (no hidden state).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError


def upsample_frames(frames: torch.Tensor, hop: int, length: int) -> torch.Tensor:
    """Repeat [B, C, F] frames `hop` times to [B, C, length]; sample t takes frame t // hop.

    Needs F >= ceil(length / hop); extra frames are cropped.
    """
    needed = -(-length // hop)
    if frames.shape[-1] < needed:
        raise LatentbridgeError(f"conditioning has {frames.shape[-1]} frames of {hop} samples, "
                                f"{length} samples need {needed}")
    return frames[..., :needed].repeat_interleave(hop, dim=-1)[..., :length]


class CausalConv1d(nn.Conv1d):
    """Dilated causal Conv1d: output t sees inputs t - d(k-1) .. t (left zero padding of d(k-1) samples)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.queue_length = dilation * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.queue_length, 0)))

    def step(self, x: torch.Tensor, queue: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One sample: x [B, Cin], queue [B, Cin, d(k-1)] (past inputs, oldest first) -> ([B, Cout], queue).
        """
        window = torch.cat([queue, x.unsqueeze(-1)], dim=-1)
        taps = window[:, :, :: self.dilation[0]]  # [B, Cin, k]: x[t - d(k-1)], ..., x[t - d], x[t]
        out = F.linear(taps.flatten(1), self.weight.flatten(1), self.bias)
        return out, window[:, :, 1:]


class ResidualBlock(nn.Module):
    """Gated residual layer: z = conv_d(h) + cond; a = tanh(z_f) * sigmoid(z_g); skip = W_s a; h' = h + W_r a.

    `cond` is the projected local + global conditioning, [B, 2R, T] (or [B, 2R, 1]), filter half first.
    The last layer of a stack has no residual output (`residual=False`): only its skip is used.
    """

    def __init__(self, residual_channels: int, skip_channels: int, kernel_size: int, dilation: int,
                 residual: bool = True) -> None:
        super().__init__()
        self.channels = residual_channels
        self.conv = CausalConv1d(residual_channels, 2 * residual_channels, kernel_size, dilation)
        self.skip = nn.Conv1d(residual_channels, skip_channels, 1)
        self.res = nn.Conv1d(residual_channels, residual_channels, 1) if residual else None

    def _gate(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z[:, : self.channels]) * torch.sigmoid(z[:, self.channels :])

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.conv(h)
        if cond is not None:
            z = z + cond
        a = self._gate(z)
        out = h + self.res(a) if self.res is not None else h
        return out, self.skip(a)

    def step(self, h: torch.Tensor, cond: torch.Tensor | None,
             queue: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sample: h [B, R], cond [B, 2R] or None, queue -> (h' [B, R], skip [B, S], new queue)."""
        z, queue = self.conv.step(h, queue)
        if cond is not None:
            z = z + cond
        a = self._gate(z)
        out = h + F.linear(a, self.res.weight.squeeze(-1), self.res.bias) if self.res is not None else h
        return out, F.linear(a, self.skip.weight.squeeze(-1), self.skip.bias), queue


class ConditionProjection(nn.Module):
    """Projects a conditioning vector [B, C, ...] to every layer's filter and gate inputs in one 1x1 conv.

    Returns one [B, 2R, ...] piece per layer (filter half first). The projection is linear, so projecting
    frames and then repeating them equals repeating and then projecting.
    """

    def __init__(self, in_channels: int, layers: int, residual_channels: int) -> None:
        super().__init__()
        self.layers = layers
        self.proj = nn.Conv1d(in_channels, layers * 2 * residual_channels, 1)

    def forward(self, c: torch.Tensor) -> list[torch.Tensor]:
        """c [B, C, T] -> layers x [B, 2R, T]."""
        return list(self.proj(c).chunk(self.layers, dim=1))

    def vector(self, c: torch.Tensor) -> list[torch.Tensor]:
        """c [B, C] -> layers x [B, 2R]."""
        return list(F.linear(c, self.proj.weight.squeeze(-1), self.proj.bias).chunk(self.layers, dim=1))
