"""Harmonic-plus-noise synthesiser: analytic sines, anti-aliasing, interpolation, noise, streaming."""

from __future__ import annotations

import math

import torch

from models.autoencoder.harmonic import HarmonicNoiseSynth, harmonic_amplitudes, noise_bands

SR, HOP = 16000, 128


def _synth(harmonics: int = 3, noise: int = 9) -> HarmonicNoiseSynth:
    return HarmonicNoiseSynth(harmonics, noise, SR, HOP, table=4096, seed=0)


def _steady_state(synth: HarmonicNoiseSynth, f0: float, amps: list[float], phase: float):
    state = synth.init_state(1)
    return (torch.tensor([phase], dtype=torch.float64), torch.tensor([f0]), torch.tensor([amps]), state[3],
            state[4])


def test_constant_harmonics_match_analytic_sum_of_sines() -> None:
    synth = _synth()
    f0, amps, phi0, frames = 220.0, [0.5, 0.25, 0.125], 0.3, 100
    audio, _ = synth(torch.full((1, frames), f0), torch.tensor(amps)[None, :, None].expand(1, 3, frames),
                     torch.zeros(1, 9, frames), _steady_state(synth, f0, amps, phi0))
    n = torch.arange(frames * HOP, dtype=torch.float64)
    phase = phi0 + 2 * math.pi * f0 * (n + 1) / SR
    expected = sum(a * torch.sin(k * phase) for k, a in enumerate(amps, start=1))
    assert torch.max(torch.abs(audio[0].double() - expected)) < 1e-4


def test_harmonics_at_or_above_nyquist_are_silent() -> None:
    synth = _synth(harmonics=8)
    f0, frames = 3000.0, 20  # harmonics 1, 2 (3 and 6 kHz) are below 8 kHz, 3..8 are not
    amps = [0.3, 0.2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    audio, _ = synth(torch.full((1, frames), f0), torch.tensor(amps)[None, :, None].expand(1, 8, frames),
                     torch.zeros(1, 9, frames), _steady_state(synth, f0, amps, 0.0))
    n = torch.arange(frames * HOP, dtype=torch.float64)
    phase = 2 * math.pi * f0 * (n + 1) / SR
    expected = 0.3 * torch.sin(phase) + 0.2 * torch.sin(2 * phase)
    assert torch.max(torch.abs(audio[0].double() - expected)) < 1e-4
    spectrum = torch.fft.rfft(audio[0]).abs()
    freqs = torch.fft.rfftfreq(audio.shape[1], 1 / SR)
    assert spectrum[(freqs > 6500) | ((freqs > 100) & (freqs < 2500))].max() < 1e-2 * spectrum.max()


def test_harmonic_amplitudes_zero_and_renormalise_above_nyquist() -> None:
    dist = torch.ones(1, 4, 2)
    f0 = torch.tensor([[1000.0, 3000.0]])
    amps = harmonic_amplitudes(torch.full((1, 1, 2), 0.8), dist, f0, SR)
    torch.testing.assert_close(amps[0, :, 0], torch.full((4,), 0.2))  # 1..4 kHz all audible
    torch.testing.assert_close(amps[0, :, 1], torch.tensor([0.4, 0.4, 0.0, 0.0]))  # 9 and 12 kHz dropped


def test_amplitude_is_interpolated_linearly_within_each_frame() -> None:
    synth = HarmonicNoiseSynth(1, 2, SR, HOP, table=1024, seed=0)
    f0 = 4000.0  # a quarter of the rate: sin(k * pi / 2 * (n + 1)) cycles 1, 0, -1, 0
    frames = torch.tensor([[[1.0, 3.0]]])
    state = _steady_state(synth, f0, [0.0], 0.0)
    audio, _ = synth(torch.full((1, 2), f0), frames, torch.zeros(1, 2, 2), state)
    n = torch.arange(2 * HOP, dtype=torch.float64)
    ramp = torch.arange(1, HOP + 1) / HOP
    envelope = torch.cat([ramp, 1.0 + 2.0 * ramp]).double()
    expected = envelope * torch.sin(math.pi / 2 * (n + 1))
    assert torch.max(torch.abs(audio[0].double() - expected)) < 1e-4


def test_noise_bands_partition_white_noise() -> None:
    bands = noise_bands(9, 4096, SR, seed=5)
    gen = torch.Generator().manual_seed(5)
    white = torch.rand(4096, generator=gen, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(bands.sum(0).double(), white, atol=1e-5, rtol=0)
    spectrum = torch.fft.rfft(bands[4].double()).abs()  # centred at 4 kHz, zero below 3 kHz and above 5 kHz
    freqs = torch.fft.rfftfreq(4096, 1 / SR)
    assert spectrum[(freqs < 2990) | (freqs > 5010)].max() < 1e-8 * spectrum.max()


def test_noise_is_read_at_the_absolute_position() -> None:
    synth = _synth()
    frames = 40  # 5120 samples: wraps around the 4096-sample table
    mags = torch.ones(1, 9, frames)
    state = synth.init_state(1)
    state = (*state[:3], torch.ones(1, 9), torch.tensor([1000]))
    audio, new_state = synth(torch.full((1, frames), 100.0), torch.zeros(1, 3, frames), mags, state)
    index = (1000 + torch.arange(frames * HOP)) % 4096
    torch.testing.assert_close(audio[0], synth.bands.sum(0)[index], atol=1e-5, rtol=0)
    assert int(new_state[4]) == (1000 + frames * HOP) % 4096


def test_streaming_in_frame_blocks_equals_offline() -> None:
    synth = _synth(harmonics=6)
    gen = torch.Generator().manual_seed(0)
    frames = 64
    f0 = 80.0 + 3000.0 * torch.rand(2, frames, generator=gen)
    amps = torch.rand(2, 6, frames, generator=gen)
    noise = torch.rand(2, 9, frames, generator=gen)
    offline, end_state = synth(f0, amps, noise)
    state, pieces, start = None, [], 0
    for k in (1, 5, 0, 17, 41):
        out, state = synth(f0[:, start: start + k], amps[..., start: start + k], noise[..., start: start + k],
                           state)
        pieces.append(out)
        start += k
    torch.testing.assert_close(torch.cat(pieces, -1), offline, atol=2e-5, rtol=1e-4)
    for a, b in zip(state, end_state, strict=True):
        torch.testing.assert_close(a, b)
    assert synth.delay_samples == 0
