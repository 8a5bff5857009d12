"""The shipped autoencoder's encoder as a style network: its ReLU activations, layer by layer.

Audio [T] at 16 kHz (or its power spectrum [bins, frames] at the log-mel front end's n_fft and hop) -> a list of
[C, frames] activations, two per residual layer (the ReLU before the dilated conv and the one after it, the
seed's A and B), the content features (the last ReLU), and the front end's output [bands, frames] (the scaled
log-mel the encoder reads; its mean over frames is the clip's spectral envelope).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.autoencoder.encoder import Encoder


class Activations(NamedTuple):
    relus: list[Tensor]  # 2 L, each [C, frames]
    content: Tensor  # [C, frames], the last ReLU
    front: Tensor  # [bands, frames], the front end's output


class EncoderActivations(nn.Module):
    """Frozen encoder; forward(audio [T]) -> its `Activations`."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)

    @property
    def n_layers(self) -> int:
        return 2 * len(self.encoder.layers)

    def forward(self, audio: Tensor) -> Activations:
        enc = self.encoder
        x = audio.unsqueeze(0)
        return self.from_front(enc.logmel(x) if enc.logmel is not None else x.unsqueeze(1))

    def from_power(self, power: Tensor) -> Activations:
        """|STFT|^2 [bins, frames] (the front end's n_fft and hop) -> the activations, via its log-mel."""
        logmel = self.encoder.logmel
        if logmel is None:
            raise LatentbridgeError("this encoder reads raw audio, not a spectrum: use the waveform domain")
        mel = torch.matmul(logmel.mel, power)
        return self.from_front(((torch.log10(mel + 1e-6) + 1.0) / 3.0).unsqueeze(0))

    def from_front(self, x: Tensor) -> Activations:
        """The front end's output [1, channels, frames] -> its `Activations`."""
        enc = self.encoder
        h = enc.input(x)
        relus: list[Tensor] = []
        for layer in enc.residual_layers():
            before = F.relu(h)
            after = F.relu(layer.conv(before))
            relus += [before[0], after[0]]
            h = h + layer.proj(after)
        return Activations(relus, relus[-1], x[0])
