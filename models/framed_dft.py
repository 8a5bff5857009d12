"""Windowed real DFTs of causal frames via `torch.stft`, which the ONNX exporter (opset 17) maps to the DFT op,
so exported graphs carry no DFT matrices.

`causal_dft(audio [B, T], n_fft, hop, window [n_fft])` -> (real, imag), each [B, T // hop, n_fft // 2 + 1]:
frame i is audio[(i + 1) * hop - n_fft : (i + 1) * hop] times the window, zeros before the start.
`sliding_dft(x [B, L], n_fft, hop, window)` -> (real, imag) [B, 1 + (L - n_fft) // hop, K]: frames starting
every hop samples from sample 0, no padding.
`frame_dft(frames [..., n], n, window [n])` -> (real, imag) [..., n // 2 + 1] of frames already cut (n is
passed as a Python int: the exporter needs the DFT length as a constant).
Sign convention: X[k] = sum_n x[n] w[n] exp(-2 pi i k n / N).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor


def _stft(x: Tensor, n_fft: int, hop: int, window: Tensor) -> Tensor:
    """x [N, L] -> [N, K, frames, 2] (real, imag), frames starting every hop samples, no padding."""
    if torch.jit.is_tracing():  # the exporter maps only the real-valued form (deprecated in eager) to DFT
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.stft(x, n_fft, hop, n_fft, window, center=False, return_complex=False)
    return torch.view_as_real(torch.stft(x, n_fft, hop, n_fft, window, center=False, return_complex=True))


def sliding_dft(x: Tensor, n_fft: int, hop: int, window: Tensor) -> tuple[Tensor, Tensor]:
    """See the module docstring."""
    spec = _stft(x, n_fft, hop, window.to(x.dtype)).transpose(1, 2)  # [B, F, K, 2]
    return spec[..., 0], spec[..., 1]


def causal_dft(audio: Tensor, n_fft: int, hop: int, window: Tensor) -> tuple[Tensor, Tensor]:
    """See the module docstring; T < hop gives zero frames."""
    frames = audio.shape[-1] // hop
    if frames == 0:
        empty = audio.new_zeros(audio.shape[0], 0, n_fft // 2 + 1)
        return empty, empty
    return sliding_dft(F.pad(audio[..., : frames * hop], (n_fft - hop, 0)), n_fft, hop, window)


def frame_dft(frames: Tensor, n: int, window: Tensor) -> tuple[Tensor, Tensor]:
    """See the module docstring."""
    shape = (*frames.shape[:-1], n // 2 + 1)
    if frames.numel() == 0:
        return frames.new_zeros(shape), frames.new_zeros(shape)
    spec = _stft(frames.reshape(-1, n), n, n, window.to(frames.dtype))[:, :, 0]  # [N, K, 2]
    return spec[..., 0].reshape(shape), spec[..., 1].reshape(shape)
