"""NSynth note classifier (the paper's judge of reconstructions): log-mel CNN -> instrument family and pitch.

Input: notes [B, T] at 16 kHz (trained on the first 2 s of 4-s NSynth notes; the network takes any T >= hop). Front end:
log-mel [B, 64, 1 + T // 256] (n_fft 1024, centred frames, dB window of `features.SpectrogramConfig` mapped
to [0, 1]), computed in the graph (ONNX-exportable). forward returns (family logits [B, 11], pitch logits
[B, 88]); pitch class k is MIDI note pitch_min + k (21..108); family k is FAMILIES[k] (NSynth's order).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config
from models.spectral.features import LogMel, SpectrogramConfig

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
            "vocal")


@dataclass(frozen=True)
class ClassifierConfig:
    """Log-mel front end, 2-D conv blocks (3x3 conv + BN + ReLU + 2x2 max-pool), time pooling, two heads.

    After the blocks, each (channel, mel band) is max- and mean-pooled over time and flattened, so the heads
    see where in frequency the energy is (pitch) as well as what it looks like (family).
    """

    n_samples: int = 32000  # the first 2 s of a note: attack and held part, half the cost of 4 s
    sample_rate: int = MODEL_RATE
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 64)
    hidden: int = 256
    dropout: float = 0.3
    n_families: int = len(FAMILIES)
    n_pitches: int = 88
    pitch_min: int = 21

    def __post_init__(self) -> None:
        positive = ("n_samples", "sample_rate", "n_fft", "hop", "n_mels", "hidden", "n_families", "n_pitches")
        for name in positive:
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"ClassifierConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.channels or min(self.channels) < 1:
            raise LatentbridgeError("ClassifierConfig.channels must be a non-empty tuple of positive widths")
        if self.n_mels % 2 ** len(self.channels):
            raise LatentbridgeError(f"n_mels = {self.n_mels} must be divisible by 2 ** {len(self.channels)}")
        if not 0.0 <= self.dropout < 1.0:
            raise LatentbridgeError(f"ClassifierConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def spectrogram(self) -> SpectrogramConfig:
        return SpectrogramConfig(n_fft=self.n_fft, hop=self.hop, sample_rate=self.sample_rate)

    @property
    def pooled_bands(self) -> int:
        return self.n_mels // 2 ** len(self.channels)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClassifierConfig:
        return config_from_dict(cls, values)


class NoteClassifier(nn.Module):
    """Audio [B, T] -> (family logits [B, n_families], pitch logits [B, n_pitches])."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.logmel = LogMel(cfg.spectrogram, cfg.n_mels)
        widths = (1, *cfg.channels)
        self.blocks = nn.Sequential(*(
            nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                          nn.MaxPool2d(2, ceil_mode=True))
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)))
        self.trunk = nn.Sequential(nn.Dropout(cfg.dropout),
                                   nn.Linear(2 * cfg.channels[-1] * cfg.pooled_bands, cfg.hidden), nn.ReLU(),
                                   nn.Dropout(cfg.dropout))
        self.family_head = nn.Linear(cfg.hidden, cfg.n_families)
        self.pitch_head = nn.Linear(cfg.hidden, cfg.n_pitches)

    def forward(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        h = self.blocks(self.logmel(audio).unsqueeze(1))  # [B, C, bands, frames]
        pooled = torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1).flatten(1)
        shared = self.trunk(pooled)
        return self.family_head(shared), self.pitch_head(shared)

    def pitch_labels(self, midi: Tensor) -> Tensor:
        """MIDI note numbers -> pitch class indices (LatentbridgeError outside the covered range)."""
        if bool(((midi < self.cfg.pitch_min) | (midi >= self.cfg.pitch_min + self.cfg.n_pitches)).any()):
            raise LatentbridgeError(f"pitches must lie in MIDI {self.cfg.pitch_min}.."
                                    f"{self.cfg.pitch_min + self.cfg.n_pitches - 1}")
        return midi.long() - self.cfg.pitch_min

    @torch.no_grad()
    def predict(self, audio_batch: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Notes [B, T] (numpy) -> (family probabilities [B, 11], pitch probabilities [B, 88]); eval mode.

        Each note is zero-padded or cut to `n_samples` first, as in training.
        """
        notes = np.asarray(audio_batch, dtype=np.float32)
        if notes.ndim != 2 or notes.shape[0] == 0:
            raise LatentbridgeError(f"predict expects notes [batch, samples], got shape {notes.shape}")
        n = self.cfg.n_samples
        notes = np.pad(notes[:, :n], ((0, 0), (0, max(0, n - notes.shape[1]))))
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            family, pitch = [], []
            for i in range(0, notes.shape[0], batch_size):
                f_logits, p_logits = self(torch.from_numpy(notes[i: i + batch_size]).to(device))
                family.append(torch.softmax(f_logits, dim=-1).cpu().numpy())
                pitch.append(torch.softmax(p_logits, dim=-1).cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(family), np.concatenate(pitch)


DEFAULT_CONFIG = ClassifierConfig()
CONFIGS: dict[str, ClassifierConfig] = {"note_classifier": DEFAULT_CONFIG}
TEST_CONFIGS: dict[str, ClassifierConfig] = {
    "tiny": replace(DEFAULT_CONFIG, n_samples=8000, channels=(8, 8), hidden=32, dropout=0.0),
}


def get_config(name: str) -> ClassifierConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "note classifier", CONFIGS, TEST_CONFIGS)
