"""Causal YIN pitch tracker in torch (vectorised, ONNX opset-17 exportable): audio -> (f0, periodicity).

Audio [B, T] float32 at `sample_rate` (16 kHz). Frame i (F = T // hop frames) analyses the window
audio[(i + 1) * hop - window : (i + 1) * hop], zeros before the start, so a prefix gives the same frames.
f0 [B, F] in Hz within [fmin, fmax]; periodicity [B, F] in [0, 1] (1 - the cumulative-mean-normalised
difference at the chosen lag).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from export.core.errors import LatentbridgeError
from models.framed_dft import frame_dft


@dataclass(frozen=True)
class PitchConfig:
    """YIN settings. Lags tau_min = floor(sr / fmax) .. tau_max = ceil(sr / fmin); the difference function
    compares the newest `window - tau_max - 1` samples of a frame with the same span `tau` samples earlier.

    A frame is voiced when the normalised difference has a trough below `threshold`. An unvoiced frame
    takes the f0 of the nearest voiced frame at most `hold` frames earlier, else its own best estimate (the
    lag of the global minimum; for digital silence that is fmax). So a frame depends on the last
    `history` = window + hold * hop samples only: a stream that keeps that many gives identical values.
    """

    sample_rate: int = 16000
    hop: int = 128
    window: int = 1024
    fmin: float = 40.0
    fmax: float = 1600.0
    threshold: float = 0.15
    hold: int = 8

    def __post_init__(self) -> None:
        if self.hop < 1 or self.hop > self.window:
            raise LatentbridgeError(f"PitchConfig.hop must be in [1, window={self.window}], got {self.hop}")
        if not 0.0 < self.fmin < self.fmax < self.sample_rate / 2:
            raise LatentbridgeError(f"PitchConfig needs 0 < fmin < fmax < sample_rate / 2, got "
                                    f"fmin={self.fmin}, fmax={self.fmax}, sample_rate={self.sample_rate}")
        if self.tau_min < 2:
            raise LatentbridgeError(f"PitchConfig.fmax={self.fmax} is too high for {self.sample_rate} Hz "
                                    f"(needs a lag of at least 2 samples)")
        if self.integration < self.tau_max:
            raise LatentbridgeError(f"PitchConfig.window={self.window} is too short for fmin={self.fmin} Hz "
                                    f"(needs at least {2 * self.tau_max + 1} samples)")
        if not 0.0 < self.threshold < 1.0:
            raise LatentbridgeError(f"PitchConfig.threshold must be in (0, 1), got {self.threshold}")
        if self.hold < 0:
            raise LatentbridgeError(f"PitchConfig.hold must be >= 0, got {self.hold}")

    @property
    def tau_min(self) -> int:
        return int(math.floor(self.sample_rate / self.fmax))

    @property
    def tau_max(self) -> int:
        return int(math.ceil(self.sample_rate / self.fmin))

    @property
    def integration(self) -> int:
        """Samples summed by the difference function (lags 0 .. tau_max + 1 are computed)."""
        return self.window - self.tau_max - 1

    @property
    def history(self) -> int:
        """Samples of past audio, ending at a frame's end, that determine that frame's values."""
        return self.window + self.hold * self.hop


@functools.lru_cache(maxsize=8)
def _inverse_basis(cfg: PitchConfig, dtype: torch.dtype) -> Tensor:
    """[2K, lags]: the one-sided inverse real DFT of length `window` at lags 0 .. tau_max + 1 (weights and 1/N
    folded in), so lag-correlation = irfft(B * conj(A)) is one matmul. Built in float64 numpy, so an export
    that first needs it while tracing stores one constant, not the ops that make it."""
    n, lags = cfg.window, cfg.tau_max + 2
    k = np.arange(n // 2 + 1, dtype=np.float64)
    weight = np.full_like(k, 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0 if n % 2 == 0 else 2.0
    lag_angle = 2 * np.pi * np.outer(k, np.arange(lags, dtype=np.float64)) / n
    basis = np.concatenate([weight[:, None] * np.cos(lag_angle), weight[:, None] * np.sin(lag_angle)]) / n
    return torch.from_numpy(basis).to(dtype)


def frames(audio: Tensor, hop: int, window: int) -> Tensor:
    """audio [B, T] -> causal frames [B, T // hop, window]: frame i ends at sample (i + 1) * hop."""
    padded = F.pad(audio, (window - hop, 0))
    n_frames = audio.shape[1] // hop
    index = (torch.arange(n_frames, device=audio.device) * hop)[:, None] \
        + torch.arange(window, device=audio.device)[None, :]
    return padded[:, index]


def cmnd(x: Tensor, cfg: PitchConfig) -> Tensor:
    """Frames [..., window] -> cumulative-mean-normalised difference d' [..., tau_max + 2] (lags 0 ..).

    d(tau) = sum over the newest `integration` samples j of (x[j] - x[j - tau])^2; d'(0) = 1,
    d'(tau) = d(tau) * tau / sum_{k=1..tau} d(k) (1 where that sum vanishes: silence)."""
    n, w, lags = cfg.window, cfg.integration, cfg.tau_max + 2
    inverse = _inverse_basis(cfg, x.dtype).to(x.device)
    ones = torch.ones(n, dtype=x.dtype, device=x.device)
    ar, ai = frame_dft(x, n, ones)  # A: the whole frame
    br, bi = frame_dft(x, n, torch.cat([torch.zeros_like(ones[: n - w]), ones[n - w:]]))  # B: the newest w samples
    # B * conj(A) = (br ar + bi ai) + i (bi ar - br ai); c(tau) = sum_k wk (Re cos - Im sin) / N
    cross = torch.cat([br * ar + bi * ai, -(bi * ar - br * ai)], dim=-1) @ inverse
    energy = F.pad(torch.cumsum(x * x, dim=-1), (1, 0))  # energy[m] = sum of x[:m]
    tau = torch.arange(lags, device=x.device)
    lagged = energy[..., n - tau] - energy[..., n - w - tau]
    reference = lagged[..., :1]
    diff = (reference + lagged - 2.0 * cross).clamp_min(0.0)
    cumulative = torch.cumsum(diff, dim=-1)
    scale = tau.to(x.dtype)
    tiny = torch.finfo(x.dtype).tiny / torch.finfo(x.dtype).eps
    floor = reference * 1e-7 + tiny  # below this the running sum is rounding noise
    normalised = torch.where(cumulative > floor, diff * scale / cumulative.clamp_min(tiny),
                             torch.ones_like(diff))
    return torch.cat([torch.ones_like(normalised[..., :1]), normalised[..., 1:]], dim=-1)


def _shift(x: Tensor, steps: int) -> Tensor:
    """[B, F] -> values `steps` frames earlier (zeros before the first frame)."""
    return F.pad(x, (steps, 0))[:, : x.shape[1]]


def yin_frames(x: Tensor, cfg: PitchConfig) -> tuple[Tensor, Tensor, Tensor]:
    """Frames [B, F, window] -> (f0 [B, F] before the hold, periodicity [B, F], voiced [B, F] as 0/1)."""
    d = cmnd(x, cfg)  # [B, F, tau_max + 2]
    lo, hi = cfg.tau_min, cfg.tau_max
    centre, before, after = d[..., lo: hi + 1], d[..., lo - 1: hi], d[..., lo + 1: hi + 2]
    trough = (centre < before) & (centre <= after) & (centre < cfg.threshold)
    voiced = trough.any(dim=-1)
    first = torch.argmax(trough.to(d.dtype), dim=-1)  # first trough below the threshold
    best = torch.argmin(centre, dim=-1)  # fallback: the global minimum
    tau = torch.where(voiced, first, best) + lo
    left = torch.gather(d, -1, (tau - 1)[..., None])[..., 0]
    mid = torch.gather(d, -1, tau[..., None])[..., 0]
    right = torch.gather(d, -1, (tau + 1)[..., None])[..., 0]
    curve = left - 2.0 * mid + right
    safe = torch.where(curve.abs() > 1e-12, curve, torch.ones_like(curve))
    offset = torch.where(curve.abs() > 1e-12, 0.5 * (left - right) / safe, torch.zeros_like(curve))
    offset = offset.clamp(-0.5, 0.5)
    f0 = (cfg.sample_rate / (tau.to(d.dtype) + offset)).clamp(cfg.fmin, cfg.fmax)
    periodicity = (1.0 - (mid - 0.25 * (left - right) * offset)).clamp(0.0, 1.0)
    return f0, periodicity, voiced.to(d.dtype)


def hold_f0(f0: Tensor, voiced: Tensor, hold: int) -> Tensor:
    """Unvoiced frames of f0 [B, F] take the f0 of the nearest voiced frame at most `hold` frames earlier."""
    held, filled = f0 * voiced, voiced
    for steps in range(1, hold + 1):
        earlier = _shift(voiced, steps)
        take = (1.0 - filled) * earlier
        held = held + take * _shift(f0, steps)
        filled = filled + take
    return torch.where(filled > 0.5, held, f0)


def yin(audio: Tensor, cfg: PitchConfig = PitchConfig()) -> tuple[Tensor, Tensor]:
    """audio [B, T] -> (f0 [B, T // hop] in Hz, periodicity [B, T // hop] in [0, 1]); see PitchConfig."""
    if audio.dim() != 2:
        raise LatentbridgeError(f"yin expects audio [batch, samples], got shape {tuple(audio.shape)}")
    f0, periodicity, voiced = yin_frames(frames(audio, cfg.hop, cfg.window), cfg)
    return hold_f0(f0, voiced, cfg.hold), periodicity


def yin_stream(x: Tensor, f0_past: Tensor, voiced_past: Tensor,
               cfg: PitchConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Only the k new frames of frames [B, k, window], given the last `hold` frames' f0 before the hold and
    voicing [B, hold] -> (f0, periodicity) [B, k] and the new (f0_past, voiced_past); equal to `yin` on the
    whole signal when the state starts at zeros and the frames are cut from zero-padded audio."""
    f0, periodicity, voiced = yin_frames(x, cfg)
    f0_all, voiced_all = torch.cat([f0_past, f0], dim=1), torch.cat([voiced_past, voiced], dim=1)
    held = hold_f0(f0_all, voiced_all, cfg.hold)[:, cfg.hold:]
    return held, periodicity, f0_all[:, f0_all.shape[1] - cfg.hold:], voiced_all[:, voiced_all.shape[1] - cfg.hold:]
