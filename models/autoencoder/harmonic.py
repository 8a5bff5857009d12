"""Harmonic-plus-noise synthesis at 16 kHz from frame-rate parameters, offline or streaming (same numbers).

Frames of `hop` samples: frame i's parameters hold at the END of frame i; samples i*hop + m (m = 0..hop-1)
interpolate linearly from frame i-1 to frame i (weight (m + 1) / hop), the state supplying "frame -1"
(zeros at the start). Harmonic k has phase k * phi[n], phi[n] = phi0 + 2 pi / sr * sum_{m<=n} f0[m] (float64,
wrapped); harmonics at or above Nyquist are silent. Noise is a sum of fixed band-limited noise tables
(periodic, length `table`, stored as 8 bits per sample with one scale per band, so an exported graph stays
small) read at the absolute sample position mod `table`, so it is deterministic and identical offline and
streaming. The state is explicit: (phase [B] float64, f0 [B], harmonic amplitudes
[B, H], noise magnitudes [B, N], position [B] int64).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

SynthState = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


def noise_bands(n_bands: int, length: int, sample_rate: int, seed: int) -> Tensor:
    """[n_bands, length] periodic noises: uniform white noise in [-1, 1] split by triangular bands centred
    every (sr / 2) / (n_bands - 1) Hz; the bands sum back to the white noise (partition of unity)."""
    gen = torch.Generator().manual_seed(seed)
    white = torch.rand(length, generator=gen, dtype=torch.float64) * 2.0 - 1.0
    spectrum = torch.fft.rfft(white)
    freqs = torch.arange(spectrum.shape[0], dtype=torch.float64) * sample_rate / length
    spacing = (sample_rate / 2) / (n_bands - 1)
    centres = torch.arange(n_bands, dtype=torch.float64) * spacing
    weights = torch.clamp(1.0 - (freqs[None] - centres[:, None]).abs() / spacing, min=0.0)
    return torch.fft.irfft(spectrum[None] * weights, n=length).float()


def harmonic_amplitudes(amplitude: Tensor, distribution: Tensor, f0: Tensor, sample_rate: int) -> Tensor:
    """amplitude [B, 1, F], distribution [B, H, F] (>= 0), f0 [B, F] -> per-harmonic amplitudes [B, H, F]:
    harmonics with k * f0 >= Nyquist get zero, the rest share `amplitude` in proportion to `distribution`."""
    k = torch.arange(1, distribution.shape[1] + 1, device=f0.device, dtype=f0.dtype)
    audible = (k[None, :, None] * f0[:, None, :] < sample_rate / 2).to(distribution.dtype)
    dist = distribution * audible
    return amplitude * dist / dist.sum(1, keepdim=True).clamp_min(1e-7)


class HarmonicNoiseSynth(nn.Module):
    """(f0 [B, F] Hz, harmonic amplitudes [B, H, F], noise magnitudes [B, N, F]) -> audio [B, F * hop]."""

    harmonics: Tensor
    ramp: Tensor
    bands: Tensor
    bands_q: Tensor
    band_scale: Tensor

    def __init__(self, n_harmonics: int, n_noise: int, sample_rate: int, hop: int, table: int,
                 seed: int) -> None:
        super().__init__()
        self.n_harmonics, self.n_noise = n_harmonics, n_noise
        self.sample_rate, self.hop, self.table = sample_rate, hop, table
        self.register_buffer("harmonics", torch.arange(1, n_harmonics + 1, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("ramp", torch.arange(1, hop + 1, dtype=torch.float32) / hop, persistent=False)
        bands = noise_bands(n_noise, table, sample_rate, seed)
        scale = bands.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
        quantised = torch.round(bands / scale).to(torch.int8)
        self.register_buffer("bands_q", quantised, persistent=False)
        self.register_buffer("band_scale", scale, persistent=False)
        self.register_buffer("bands", quantised.float() * scale, persistent=False)

    delay_samples = 0  # frame i's samples depend only on frames <= i: no latency beyond the frame itself

    def init_state(self, batch: int, device: torch.device | None = None) -> SynthState:
        dev = device if device is not None else self.ramp.device
        return (torch.zeros(batch, dtype=torch.float64, device=dev), torch.zeros(batch, device=dev),
                torch.zeros(batch, self.n_harmonics, device=dev),
                torch.zeros(batch, self.n_noise, device=dev),
                torch.zeros(batch, dtype=torch.int64, device=dev))

    def _upsample(self, prev: Tensor, frames: Tensor) -> Tensor:
        """prev [B, X], frames [B, X, F] -> per-sample linear interpolation [B, X, F * hop]."""
        start = torch.cat([prev.unsqueeze(-1).to(frames.dtype), frames[..., :-1]], dim=-1)
        up = start.unsqueeze(-1) + (frames - start).unsqueeze(-1) * self.ramp.to(frames.dtype)
        return up.flatten(-2)

    def _mix(self, basis: Tensor, prev: Tensor, frames: Tensor) -> Tensor:
        """sum_x basis[..., x] * (x's per-sample interpolated weight): basis [B or 1, F, hop, X], prev [B, X],
        frames [B, X, F] -> [B, F * hop], as batched matrix products (no [B, X, T] weights materialised)."""
        batch, _, count = frames.shape
        start = torch.cat([prev.unsqueeze(-1).to(frames.dtype), frames[..., :-1]], dim=-1)
        weights = torch.stack([start, frames - start], dim=-1)  # [B, X, F, 2]: value at start, slope
        if basis.shape[0] == 1 and batch > 1:  # shared basis: one [hop, X] x [X, 2B] product per frame
            packed = weights.permute(2, 1, 0, 3).reshape(count, -1, 2 * batch)
            mixed = torch.bmm(basis[0], packed).reshape(count, self.hop, batch, 2).permute(2, 0, 1, 3)
        else:
            mixed = torch.matmul(basis, weights.permute(0, 2, 1, 3))  # [B, F, hop, 2]
        return (mixed[..., 0] + mixed[..., 1] * self.ramp.to(frames.dtype)).flatten(1)

    def forward(self, f0: Tensor, amplitudes: Tensor, noise: Tensor,
                state: SynthState | None = None) -> tuple[Tensor, SynthState]:
        batch, frames = f0.shape
        if state is None:
            state = self.init_state(batch, f0.device)
        phase0, f0_prev, amp_prev, noise_prev, position = state
        if frames == 0:
            return f0.new_zeros(batch, 0), state
        length = frames * self.hop
        with torch.no_grad():  # f0 and the noise tables are inputs, not trained: no gradient through them
            f0_up = self._upsample(f0_prev.unsqueeze(1), f0.float().unsqueeze(1))[:, 0]  # [B, T]
            two_pi = 2.0 * math.pi
            increments = torch.cumsum(f0_up.double(), -1) * (two_pi / self.sample_rate)
            phase = torch.remainder(phase0.unsqueeze(1) + increments, two_pi)
            k = self.harmonics
            per_harmonic = phase.float().reshape(batch, frames, self.hop, 1) * k  # [B, F, hop, H]
            audible = f0_up.reshape(batch, frames, self.hop, 1) * k < self.sample_rate / 2
            sines = torch.sin(per_harmonic).masked_fill_(~audible, 0.0)
            offsets = torch.arange(length, device=f0.device)
            # one table read shared by the whole batch when the voices are in step (an export traces the general
            # per-voice read)
            if not torch.jit.is_tracing() and bool((position == position[0]).all()):
                index = torch.remainder(position[:1, None] + offsets, self.table)
            else:
                index = torch.remainder(position[:, None] + offsets, self.table)
            # traced from the int8 table (exact: the same float32 product as `bands`)
            table = self.bands_q.float() * self.band_scale if torch.jit.is_tracing() else self.bands
            band_noise = table.T[index].reshape(index.shape[0], frames, self.hop, self.n_noise)
        harmonic = self._mix(sines.to(amplitudes.dtype), amp_prev, amplitudes)
        noisy = self._mix(band_noise.to(noise.dtype), noise_prev, noise)
        new_state = (phase[:, -1], f0[:, -1].float(), amplitudes[..., -1], noise[..., -1],
                     torch.remainder(position + length, self.table))
        return harmonic + noisy, new_state
