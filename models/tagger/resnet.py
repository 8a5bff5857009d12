"""Pieces of the log-mel short-chunk ResNet tagger (Won et al. 2020): log-mel front end, SpecAugment, residual
2-D blocks.

`LogMelFrontend`: audio [B, 1, T] -> dB mel power [B, bands, 1 + T // hop] (centred periodic-Hann STFT through
`models.framed_dft.sliding_dft`: an FFT in torch, the ONNX DFT op in exported graphs; gradients reach the audio);
`empty` [bands, 1] marks bands whose mel filter has no bin (band 0 at 128 bands / 512-point FFT): they read the
dB floor, a constant.
`spec_augment`: training-time time and frequency masks on an image [B, bands, frames], drawn from the torch RNG.
`ResBlock2d`: conv3x3(stride 2) -> BN -> ReLU -> conv3x3 -> BN, plus a 1x1 strided conv + BN shortcut, ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.framed_dft import sliding_dft
from models.spectral.features import hann_window, magnitude_scale, mel_filterbank, power_to_db


class LogMelFrontend(nn.Module):
    """Audio [B, 1, T] -> mel power in dB [B, bands, frames] (a full-scale sine in one band reads about 0 dB)."""

    mel: Tensor
    window: Tensor
    empty: Tensor

    def __init__(self, bands: int, n_fft: int, hop: int, sample_rate: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("mel", mel_filterbank(sample_rate, n_fft, bands), persistent=False)
        self.register_buffer("window", hann_window(n_fft) * magnitude_scale(n_fft), persistent=False)
        self.register_buffer("empty", (self.mel.sum(dim=1) == 0)[:, None], persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        half = self.n_fft // 2
        real, imag = sliding_dft(F.pad(audio.squeeze(1), (half, half)), self.n_fft, self.hop, self.window)
        power = (real.square() + imag.square()).transpose(1, 2)  # [B, bins, frames]
        return power_to_db(torch.matmul(self.mel, power))


def _band_masks(batch: int, size: int, count: int, width: int, device: torch.device) -> Tensor:
    """[batch, size] bool: `count` masks per row, each of a width drawn from 0..width at a random start."""
    keep = torch.zeros(batch, size, dtype=torch.bool, device=device)
    index = torch.arange(size, device=device)[None]
    for _ in range(count):
        w = torch.randint(0, min(width, size) + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (size - w + 1).float()).long()
        keep |= (index >= start) & (index < start + w)
    return keep


def spec_augment(image: Tensor, time_masks: int, time_frames: int, freq_masks: int, freq_bands: int) -> Tensor:
    """image [B, bands, frames] with the masked bands and frames set to 0 (the normalised mean)."""
    b, bands, frames = image.shape
    masked = torch.zeros_like(image, dtype=torch.bool)
    if time_masks and time_frames:
        masked |= _band_masks(b, frames, time_masks, time_frames, image.device)[:, None, :]
    if freq_masks and freq_bands:
        masked |= _band_masks(b, bands, freq_masks, freq_bands, image.device)[:, :, None]
    return image.masked_fill(masked, 0.0)


class ResBlock2d(nn.Module):
    """Residual block halving both axes (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out),
                                  nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))
