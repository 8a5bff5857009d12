"""Conditional WaveNet over 8-bit mu-law classes: config, teacher-forced forward, f0 -> period helpers.

Convention: logits[:, :, t] predict class x[t] from x[<t] (input shifted right by one, x[-1] = 128 silence).
Local conditioning [B, C, F] comes in frames of `hop` samples (sample t uses frame t // hop); global
conditioning is a class id [B] (embedded) and/or a vector [B, D]; the optional period input adds an
embedding of x[t - P_t], P_t = round(16000 / f0) clamped to [2, max_period] (x[<0] = 128).
Rate 16 kHz; logits [B, 256, T].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict
from models.wavenet.layers import ConditionProjection, ResidualBlock, upsample_frames
from models.wavenet.mu_law import CLASSES, SILENCE_CLASS


@dataclass(frozen=True)
class WaveNetConfig:
    """WaveNet hyper-parameters; layer i has dilation 2 ** (i % cycle)."""

    layers: int = 16
    cycle: int = 8
    kernel_size: int = 2
    residual_channels: int = 32
    skip_channels: int = 64
    classes: int = CLASSES
    local_channels: int = 0  # 0 = no local conditioning
    hop: int = 1  # audio samples per local conditioning frame (and per f0 frame)
    global_classes: int = 0  # 0 = no global id (else an nn.Embedding of global_embed_dim)
    global_embed_dim: int = 16
    global_dim: int = 0  # 0 = no global vector
    period_input: bool = False  # add an embedding of x[t - P_t] to the input (LPCNet-style)
    max_period: int = 320  # longest period in samples (50 Hz at 16 kHz); also the history length
    sample_rate: int = MODEL_RATE

    def __post_init__(self) -> None:
        positive = ("layers", "cycle", "kernel_size", "residual_channels", "skip_channels", "classes", "hop",
                    "global_embed_dim", "sample_rate")
        for name in positive:
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"WaveNetConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("local_channels", "global_classes", "global_dim"):
            if getattr(self, name) < 0:
                raise LatentbridgeError(f"WaveNetConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_period < 2:
            raise LatentbridgeError(f"WaveNetConfig.max_period must be >= 2, got {self.max_period}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** (i % self.cycle) for i in range(self.layers))

    @property
    def receptive_field(self) -> int:
        """Number of past samples x[t - rf .. t - 1] that logits[t] can see (without the period input)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    @property
    def global_width(self) -> int:
        return (self.global_embed_dim if self.global_classes else 0) + self.global_dim

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> WaveNetConfig:
        return config_from_dict(cls, values)


def period_from_f0(f0_hz: torch.Tensor, max_period: int, sample_rate: int = MODEL_RATE) -> torch.Tensor:
    """f0 in Hz (any shape) -> int64 period floor(sample_rate / f0 + 1/2) clamped to [2, max_period].

    Unvoiced or missing f0 (<= 0 or not finite) gives max_period.
    """
    voiced = torch.isfinite(f0_hz) & (f0_hz > 0)
    safe = torch.where(voiced, f0_hz, torch.ones_like(f0_hz)).to(torch.float64)
    period = torch.floor(sample_rate / safe + 0.5).clamp(2, max_period)
    return torch.where(voiced, period, torch.full_like(period, max_period)).long()


def period_per_sample(f0_frames: torch.Tensor, hop: int, length: int, max_period: int,
                      sample_rate: int = MODEL_RATE) -> torch.Tensor:
    """f0 frames [B, F] (Hz, one per `hop` samples) -> int64 periods [B, length]; sample t: frame t // hop."""
    period = period_from_f0(f0_frames, max_period, sample_rate)
    return upsample_frames(period.unsqueeze(1), hop, length).squeeze(1)


class WaveNet(nn.Module):
    """Autoregressive WaveNet; `forward` is teacher forcing, `models.wavenet.incremental` generates."""

    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        r = cfg.residual_channels
        self.embed = nn.Embedding(cfg.classes, r)  # == one-hot input followed by a 1x1 conv
        self.period_embed = nn.Embedding(cfg.classes, r) if cfg.period_input else None
        last = cfg.layers - 1
        self.blocks = nn.ModuleList(
            ResidualBlock(r, cfg.skip_channels, cfg.kernel_size, d, residual=i != last)
            for i, d in enumerate(cfg.dilations))
        self.local_proj = (ConditionProjection(cfg.local_channels, cfg.layers, r)
                           if cfg.local_channels else None)
        self.global_embed = (nn.Embedding(cfg.global_classes, cfg.global_embed_dim)
                             if cfg.global_classes else None)
        self.global_proj = (ConditionProjection(cfg.global_width, cfg.layers, r)
                            if cfg.global_width else None)
        self.head_hidden = nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1)
        self.head_out = nn.Conv1d(cfg.skip_channels, cfg.classes, 1)

    @property
    def residual_blocks(self) -> list[ResidualBlock]:
        return [cast(ResidualBlock, block) for block in self.blocks]

    @property
    def receptive_field(self) -> int:
        return self.cfg.receptive_field

    @property
    def delay_samples(self) -> int:
        """Latency of the decoder itself: sample t needs only conditioning frame t // hop and x[<t]."""
        return 0

    def check_inputs(self, local: torch.Tensor | None, global_id: torch.Tensor | None,
                     global_vec: torch.Tensor | None, period: torch.Tensor | None) -> None:
        """Raise LatentbridgeError when the given conditioning does not match the config."""
        cfg = self.cfg
        wanted = {"local": cfg.local_channels > 0, "global_id": cfg.global_classes > 0,
                  "global_vec": cfg.global_dim > 0, "period": cfg.period_input}
        given = {"local": local, "global_id": global_id, "global_vec": global_vec, "period": period}
        for name, needed in wanted.items():
            if needed != (given[name] is not None):
                raise LatentbridgeError(f"this WaveNet {'needs' if needed else 'takes no'} `{name}` input")
        if torch.jit.is_tracing():  # shapes are traced values during ONNX export; checked on real calls
            return
        if local is not None and local.shape[1] != cfg.local_channels:
            raise LatentbridgeError(f"local conditioning has {local.shape[1]} channels, "
                                    f"the model expects {cfg.local_channels}")
        if global_vec is not None and global_vec.shape[-1] != cfg.global_dim:
            raise LatentbridgeError(f"global vector has {global_vec.shape[-1]} values, "
                                    f"the model expects {cfg.global_dim}")

    def global_vector(self, global_id: torch.Tensor | None,
                      global_vec: torch.Tensor | None) -> torch.Tensor | None:
        """[B] ids and/or [B, D] vectors -> the [B, global_width] vector the layers are conditioned on."""
        parts = []
        if self.global_embed is not None and global_id is not None:
            parts.append(self.global_embed(global_id))
        if global_vec is not None:
            parts.append(global_vec)
        return torch.cat(parts, dim=-1) if parts else None

    def output_logits(self, skips: torch.Tensor) -> torch.Tensor:
        """Summed skips [B, S] (one step) or [B, S, T] -> logits [B, classes] or [B, classes, T]."""
        if skips.dim() == 3:
            return self.head_out(torch.relu(self.head_hidden(torch.relu(skips))))
        hidden = F.linear(torch.relu(skips), self.head_hidden.weight.squeeze(-1), self.head_hidden.bias)
        return F.linear(torch.relu(hidden), self.head_out.weight.squeeze(-1), self.head_out.bias)

    def input_embedding(self, inp: torch.Tensor, back: torch.Tensor | None) -> torch.Tensor:
        """inp = x[t-1] classes [...], back = x[t - P_t] classes [...] or None -> embeddings [..., R]."""
        h = self.embed(inp)
        if self.period_embed is not None and back is not None:
            h = h + self.period_embed(back)
        return h

    def forward(self, x: torch.Tensor, local: torch.Tensor | None = None,
                global_id: torch.Tensor | None = None, global_vec: torch.Tensor | None = None,
                period: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T] int classes (targets), local [B, C, >=ceil(T/hop)], global_id [B], global_vec [B, D],
        period [B, T] int samples -> logits [B, classes, T]; logits[..., t] predicts x[:, t]."""
        self.check_inputs(local, global_id, global_vec, period)
        batch, length = x.shape
        if period is not None and period.shape != x.shape:
            raise LatentbridgeError(f"period must be one value per sample {tuple(x.shape)}, "
                                    f"got {tuple(period.shape)}")
        inp = torch.cat([x.new_full((batch, 1), SILENCE_CLASS), x[:, :-1]], dim=1)
        back = None
        if period is not None:
            source = (torch.arange(length, device=x.device) - period.clamp(2, self.cfg.max_period))
            back = x.gather(1, source.clamp(min=0))
            back = torch.where(source < 0, torch.full_like(back, SILENCE_CLASS), back)
        h = self.input_embedding(inp, back).transpose(1, 2)
        conds: list[torch.Tensor | None] = [None] * self.cfg.layers
        if self.local_proj is not None and local is not None:
            needed = -(-length // self.cfg.hop)
            frames = self.local_proj(local[..., :needed])
            conds = [upsample_frames(f, self.cfg.hop, length) for f in frames]
        g = self.global_vector(global_id, global_vec)
        if self.global_proj is not None and g is not None:
            conds = [gc.unsqueeze(-1) if c is None else c + gc.unsqueeze(-1)
                     for c, gc in zip(conds, self.global_proj.vector(g), strict=True)]
        skips = torch.zeros(batch, self.cfg.skip_channels, length, dtype=h.dtype, device=h.device)
        for block, cond in zip(self.residual_blocks, conds, strict=True):
            h, s = block(h, cond)
            skips = skips + s
        return self.output_logits(skips)
