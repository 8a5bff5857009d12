"""The shipped autoencoder's encoder as a style network: its ReLU activations, layer by layer.

Audio [T] at 16 kHz (or its power spectrum [bins, frames] at the log-mel front end's n_fft and hop) -> a list of
[C, frames] activations, two per residual layer (the ReLU before the dilated conv and the one after it, the
seed's A and B), and the content features (the last ReLU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.autoencoder.encoder import Encoder


class EncoderActivations(nn.Module):
    """Frozen encoder; forward(audio [T]) -> (relu activations [2 L] each [C, frames], content [C, frames])."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)

    @property
    def n_layers(self) -> int:
        return 2 * len(self.encoder.layers)

    def forward(self, audio: Tensor) -> tuple[list[Tensor], Tensor]:
        enc = self.encoder
        x = audio.unsqueeze(0)
        return self.from_front(enc.logmel(x) if enc.logmel is not None else x.unsqueeze(1))

    def from_power(self, power: Tensor) -> tuple[list[Tensor], Tensor]:
        """|STFT|^2 [bins, frames] (the front end's n_fft and hop) -> the activations, via its log-mel."""
        logmel = self.encoder.logmel
        if logmel is None:
            raise LatentbridgeError("this encoder reads raw audio, not a spectrum: use the waveform domain")
        mel = torch.matmul(logmel.mel, power)
        return self.from_front(((torch.log10(mel + 1e-6) + 1.0) / 3.0).unsqueeze(0))

    def from_front(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        """The front end's output [1, channels, frames] -> (relu activations, content)."""
        enc = self.encoder
        h = enc.input(x)
        relus: list[Tensor] = []
        for layer in enc.residual_layers():
            before = F.relu(h)
            after = F.relu(layer.conv(before))
            relus += [before[0], after[0]]
            h = h + layer.proj(after)
        return relus, relus[-1]
