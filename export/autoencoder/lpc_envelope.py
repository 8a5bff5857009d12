"""Linear prediction from the harmonic decoder's spectral envelope (LPCNet-style), numpy: per frame, harmonic
lines + noise bands -> power spectrum on a grid -> pre-emphasis -> autocorrelation -> Levinson-Durbin. The one
implementation, shared by training (`models.autoencoder.lpc` wraps it for tensors) and the run-time LPC decoder.

Rate 16 kHz, frames of the autoencoder's control hop (128 samples). Coefficients a [..., order + 1] with a[0] = 1
define the prediction p[t] = -sum_{k=1..order} a[k] s[t - k] of the pre-emphasised signal s[t] = x[t] - c x[t - 1];
the excitation is e[t] = s[t] - p[t]. Lag windowing, a white-noise floor and bandwidth expansion
(a[k] * gamma ** k) keep every synthesis filter 1 / A(z) stable with poles inside radius gamma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from export.core.errors import LatentbridgeError

NOISE_VARIANCE = 1.0 / 3.0  # the synthesiser's noise tables are uniform white noise in [-1, 1], split into bands


@dataclass(frozen=True)
class LPCConfig:
    """Order, pre-emphasis coefficient c, bandwidth expansion gamma, Gaussian lag window (its width in Hz in
    the spectrum), white-noise floor (relative to the frame's power), grid of `bins` frequencies 0..Nyquist."""

    order: int = 16
    preemphasis: float = 0.85
    bandwidth: float = 0.94
    lag_window_hz: float = 100.0
    noise_floor: float = 1e-4
    bins: int = 257

    def __post_init__(self) -> None:
        if self.order < 1 or self.bins < 2:
            raise LatentbridgeError(f"LPCConfig needs order >= 1 and bins >= 2, got {self.order}, {self.bins}")
        if not 0.0 <= self.preemphasis < 1.0 or not 0.0 < self.bandwidth <= 1.0:
            raise LatentbridgeError(f"LPCConfig needs 0 <= preemphasis < 1 and 0 < bandwidth <= 1, got "
                                    f"{self.preemphasis}, {self.bandwidth}")
        if self.lag_window_hz < 0 or self.noise_floor < 0:
            raise LatentbridgeError("LPCConfig.lag_window_hz and noise_floor must be >= 0")


def levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation r [..., >= order + 1] -> (a [..., order + 1] with a[0] = 1, reflection coefficients
    [..., order]), float64. Reflection coefficients are clamped to +-0.9999, so 1 / A(z) is always stable."""
    r = np.asarray(r, np.float64)
    a = np.zeros((*r.shape[:-1], order + 1))
    a[..., 0] = 1.0
    error = np.maximum(r[..., 0], 1e-30)
    reflections = np.zeros((*r.shape[:-1], order))
    for i in range(1, order + 1):
        acc = (a[..., :i] * r[..., 1: i + 1][..., ::-1]).sum(-1)
        k = np.clip(-acc / error, -0.9999, 0.9999)
        a[..., 1: i + 1] = a[..., 1: i + 1] + k[..., None] * a[..., :i][..., ::-1].copy()
        error = error * (1.0 - k * k)
        reflections[..., i - 1] = k
    return a, reflections


def autocorrelation(x: np.ndarray, order: int) -> np.ndarray:
    """Biased autocorrelation r[0..order] of a signal [..., T] (float64)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    return np.stack([(x[..., : n - k] * x[..., k:]).sum(-1) for k in range(order + 1)], axis=-1) / n


def envelope_power(f0: np.ndarray, amplitudes: np.ndarray, noise: np.ndarray, sample_rate: int,
                   bins: int) -> np.ndarray:
    """Per-frame power spectrum [B, F, bins] on frequencies 0..sr/2: each harmonic k (amplitude a_k at k f0,
    power a_k^2 / 2) split linearly between its two neighbouring bins, plus the noise bands' power density
    (the same triangular bands as the synthesiser, magnitudes interpolated between band centres).

    f0 [B, F] Hz, amplitudes [B, H, F] (per harmonic, zero above Nyquist), noise [B, N, F]."""
    f0, amplitudes, noise = (np.asarray(v, np.float64) for v in (f0, amplitudes, noise))
    batch, frames = f0.shape
    spacing = sample_rate / 2.0 / (bins - 1)
    k = np.arange(1, amplitudes.shape[1] + 1, dtype=np.float64)
    position = np.clip(k[None, :, None] * f0[:, None, :] / spacing, 0.0, bins - 1.0)  # [B, H, F] in bins
    lower = np.minimum(np.floor(position).astype(np.int64), bins - 2)
    frac = position - lower
    line = 0.5 * np.square(amplitudes)
    power = np.zeros((batch, frames, bins))
    rows = np.arange(batch)[:, None, None]
    cols = np.arange(frames)[None, None, :]
    np.add.at(power, (rows, cols, lower), line * (1.0 - frac))
    np.add.at(power, (rows, cols, lower + 1), line * frac)
    band_at_bin = np.linspace(0.0, noise.shape[1] - 1.0, bins)
    left = np.minimum(np.floor(band_at_bin).astype(np.int64), noise.shape[1] - 2)
    w = band_at_bin - left
    magnitude = noise[:, left] * (1.0 - w)[:, None] + noise[:, left + 1] * w[:, None]  # [B, bins, F]
    return power + (NOISE_VARIANCE / (bins - 1)) * np.square(magnitude).transpose(0, 2, 1)


def lpc_from_power(power: np.ndarray, cfg: LPCConfig, sample_rate: int) -> np.ndarray:
    """Power spectra [..., bins] (0..Nyquist) -> bandwidth-expanded coefficients [..., order + 1] of the
    pre-emphasised signal (float64)."""
    bins = power.shape[-1]
    omega = np.linspace(0.0, math.pi, bins)
    c = cfg.preemphasis
    emphasised = np.asarray(power, np.float64) * (1.0 + c * c - 2.0 * c * np.cos(omega))
    lags = np.arange(cfg.order + 1, dtype=np.float64)
    # summed bin by bin, not by a matrix product: BLAS picks its summation order by the batch's shape, and one
    # rounding step in r can move a float32 coefficient, so frames decoded in other groupings would differ
    r = (emphasised[..., :, None] * np.cos(omega[:, None] * lags[None, :])).sum(axis=-2)
    sigma = 2.0 * math.pi * cfg.lag_window_hz / sample_rate
    r = r * np.exp(-0.5 * (sigma * lags) ** 2)
    r[..., 0] = r[..., 0] * (1.0 + cfg.noise_floor) + 1e-12
    a, _ = levinson(r, cfg.order)
    return a * cfg.bandwidth ** lags


def lpc_from_envelope(f0: np.ndarray, amplitudes: np.ndarray, noise: np.ndarray, cfg: LPCConfig,
                      sample_rate: int) -> np.ndarray:
    """f0 [B, F], harmonic amplitudes [B, H, F], noise magnitudes [B, N, F] -> coefficients [B, F, order + 1]
    (float32), frame i's for the samples of frame i."""
    power = envelope_power(f0, amplitudes, noise, sample_rate, cfg.bins)
    return lpc_from_power(power, cfg, sample_rate).astype(np.float32)


def predict(signal: np.ndarray, coefficients: np.ndarray, hop: int, past: np.ndarray | None = None) -> np.ndarray:
    """Prediction p[t] = -sum_k a_k s[t - k] from the past of `signal` [B, T] (`past` [B, order]: the samples
    before it, zeros when None) with per-frame coefficients [B, >= ceil(T / hop), order + 1] (sample t uses frame
    t // hop); float32."""
    order = coefficients.shape[-1] - 1
    batch, length = signal.shape
    before = np.zeros((batch, order), np.float32) if past is None else np.asarray(past, np.float32)
    padded = np.concatenate([before, np.asarray(signal, np.float32)], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, order, axis=1)[:, :length]  # s[t-order .. t-1]
    per_sample = np.repeat(coefficients[:, : -(-length // hop), 1:], hop, axis=1)[:, :length]
    return -(windows * per_sample[..., ::-1].astype(np.float32)).sum(-1)


def preemphasis(x: np.ndarray, coefficient: float, previous: np.ndarray | None = None) -> np.ndarray:
    """s[t] = x[t] - c x[t - 1] along the last axis (x[-1] = `previous` [...], zeros when None), float32."""
    x = np.asarray(x, np.float32)
    before = np.zeros(x.shape[:-1] + (1,), np.float32) if previous is None else \
        np.asarray(previous, np.float32)[..., None]
    return x - np.float32(coefficient) * np.concatenate([before, x[..., :-1]], axis=-1)
