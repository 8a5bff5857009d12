"""NSynth-style encoder: residual dilated-conv stack -> 1x1 bottleneck -> average pooling to one z per `hop`.

Input audio [B, T] at 16 kHz; output [B, Z, T // hop] (variational: mean and log-variance, each [B, Z, J]).
Causal encoders also stream: `stream(audio_block, state) -> (new z frames, state)` with the state (input
buffer, per-layer left context, pooling remainder) passed in and out as a list of tensors; block-wise output
equals the offline output for any block sizes. z frame j summarises samples [j * hop, (j + 1) * hop).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.autoencoder.configs import EncoderConfig
from models.framed_dft import sliding_dft
from models.spectral.features import hann_window, mel_filterbank


class CachedConv1d(nn.Conv1d):
    """Dilated Conv1d, causal (left context only) or centred; causal ones stream with a left-context cache."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 causal: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.context = dilation * (kernel_size - 1)
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        left = self.context if self.causal else self.context // 2
        return super().forward(F.pad(x, (left, self.context - left)))

    def stream(self, x: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, Cin, n >= 1], cache [B, Cin, context] (past inputs) -> (out [B, Cout, n], new cache)."""
        window = torch.cat([cache, x], dim=-1)
        out = F.conv1d(window, self.weight, self.bias, dilation=self.dilation)
        return out, window[..., window.shape[-1] - self.context:]


class ResidualLayer(nn.Module):
    """h + W_1x1 relu(conv_d(relu(h))): the NSynth encoder layer."""

    def __init__(self, width: int, kernel_size: int, dilation: int, causal: bool) -> None:
        super().__init__()
        self.conv = CachedConv1d(width, width, kernel_size, dilation, causal)
        self.proj = nn.Conv1d(width, width, 1)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.proj(F.relu(self.conv(F.relu(h))))

    def stream(self, h: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        y, cache = self.conv.stream(F.relu(h), cache)
        return h + self.proj(F.relu(y)), cache


class LogMel(nn.Module):
    """Causal log-mel frames: frame i uses the Hann-windowed n_fft samples ending at sample (i + 1) * hop."""

    window: Tensor
    mel: Tensor

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", hann_window(n_fft), persistent=False)
        self.register_buffer("mel", mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)

    def frames(self, padded: Tensor) -> Tensor:
        """padded [B, n_fft - hop + k * hop] -> [B, n_mels, k] (log10 power, roughly in [-2, 2]). The DFT is an
        STFT (the ONNX DFT op in an export)."""
        real, imag = sliding_dft(padded, self.n_fft, self.hop, self.window)
        mel = torch.matmul(self.mel, (real.square() + imag.square()).transpose(1, 2))
        return (torch.log10(mel + 1e-6) + 1.0) / 3.0

    def forward(self, audio: Tensor) -> Tensor:
        frames = audio.shape[-1] // self.hop
        padded = F.pad(audio[..., : frames * self.hop], (self.n_fft - self.hop, 0))
        return self.frames(padded)


class Encoder(nn.Module):
    """Audio [B, T] -> z [B, Z, T // hop] (or mean and log-variance if variational)."""

    def __init__(self, cfg: EncoderConfig, sample_rate: int, frame_hop: int) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.frontend == "logmel":
            self.logmel: LogMel | None = LogMel(sample_rate, cfg.n_fft, frame_hop, cfg.n_mels)
            self.input: CachedConv1d = CachedConv1d(cfg.n_mels, cfg.width, 1, 1, cfg.causal)
            self.pool = cfg.hop // frame_hop
        else:
            self.logmel = None
            self.input = CachedConv1d(1, cfg.width, cfg.kernel_size, 1, cfg.causal)
            self.pool = cfg.hop
        self.layers = nn.ModuleList(ResidualLayer(cfg.width, cfg.kernel_size, d, cfg.causal)
                                    for d in cfg.dilations)
        out = 2 * cfg.z_dim if cfg.variational else cfg.z_dim
        self.bottleneck = nn.Conv1d(cfg.width, out, 1)
        self.frame_hop = frame_hop

    def residual_layers(self) -> list[ResidualLayer]:
        return [cast(ResidualLayer, layer) for layer in self.layers]

    def _split(self, pooled: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.cfg.variational:
            mean, logvar = pooled.chunk(2, dim=1)
            return mean, logvar.clamp(-10.0, 10.0)
        return pooled

    def forward(self, audio: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        x = self.logmel(audio) if self.logmel is not None else audio.unsqueeze(1)
        h = self.input(x)
        for layer in self.layers:
            h = layer(h)
        return self._split(F.avg_pool1d(self.bottleneck(h), self.pool, self.pool))

    # -- streaming (causal encoders only) -------------------------------------------------------------------
    def init_state(self, batch: int) -> list[Tensor]:
        """[input buffer, input-conv cache, one cache per layer, pooling remainder], all zero / empty."""
        if not self.cfg.causal:
            raise LatentbridgeError("a non-causal encoder cannot stream (use a config with causal=True)")
        p = self.input.weight
        if self.logmel is not None:
            buffer = p.new_zeros(batch, self.logmel.n_fft - self.logmel.hop)
        else:
            buffer = p.new_zeros(batch, 0)
        caches = [p.new_zeros(batch, self.input.in_channels, self.input.context)]
        caches += [p.new_zeros(batch, self.cfg.width, layer.conv.context) for layer in self.residual_layers()]
        remainder = p.new_zeros(batch, self.bottleneck.out_channels, 0)
        return [buffer, *caches, remainder]

    def stream(self, audio: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """audio [B, n] (any n >= 0) -> (z frames completed by this block [B, Z, j] (the mean if variational),
        new state). Concatenating the outputs over blocks equals `forward` on the whole signal."""
        buffer, caches, remainder = state[0], state[1:-1], state[-1]
        buffer = torch.cat([buffer, audio], dim=-1)
        if self.logmel is not None:
            lead = self.logmel.n_fft - self.logmel.hop
            k = (buffer.shape[-1] - lead) // self.frame_hop
            x = self.logmel.frames(buffer[:, : lead + k * self.frame_hop]) if k > 0 else \
                buffer.new_zeros(buffer.shape[0], self.cfg.n_mels, 0)
            buffer = buffer[:, k * self.frame_hop:]
        else:
            x, buffer = buffer.unsqueeze(1), buffer[:, :0]
        if x.shape[-1] == 0:
            new_caches, y = list(caches), remainder
        else:
            h, cache = self.input.stream(x, caches[0])
            new_caches = [cache]
            for layer, cache in zip(self.residual_layers(), caches[1:], strict=True):
                h, cache = layer.stream(h, cache)
                new_caches.append(cache)
            y = torch.cat([remainder, self.bottleneck(h)], dim=-1)
        j = y.shape[-1] // self.pool
        pooled = y[..., : j * self.pool].reshape(y.shape[0], y.shape[1], j, self.pool).mean(-1)
        out = self._split(pooled)
        z = out[0] if isinstance(out, tuple) else out
        return z, [buffer, *new_caches, y[..., j * self.pool:]]
