"""Training tasks of the WaveNets, teacher-forced cross-entropy on 8-bit mu-law classes of 16 kHz crops.

- `NoteWaveNetTask` (the autoencoder's WaveNet decoder): note crops from the autoencoder's note cache;
  local conditioning [B, z + 3, crop // frame_hop] = the frozen trained encoder's z (aligned per control frame)
  and its control features (pitch, loudness, periodicity); the period input from the tracked f0.
- `SpeechWaveNetTask` (the conditional WaveNet of the seed): crops of VCTK-layout utterances; global
  conditioning on the speaker id (embedded) and the gender as a one-hot vector [female, male].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError
from models.autoencoder.model import Autoencoder
from models.data.vctk_reader import VCTKDataset
from models.training.audio_cache import cached_audio
from models.training.note_batches import FrozenAutoencoderNotes, NoteSubset
from models.wavenet import mu_law
from models.wavenet.model import WaveNet, WaveNetConfig, period_per_sample

SPEECH_SECONDS = 6.0  # utterances are cut to this long in the cache


def _check_crop(crop: int, batch: int, hop: int) -> None:
    if batch < 1:
        raise LatentbridgeError("--batch must be >= 1")
    if crop < hop or crop % hop:
        raise LatentbridgeError(f"--crop {crop} must be a positive multiple of the conditioning hop {hop}")


@torch.no_grad()
def note_local_conditioning(autoencoder: Autoencoder, audio: torch.Tensor, f0: torch.Tensor,
                            periodicity: torch.Tensor, loudness: torch.Tensor) -> torch.Tensor:
    """The note WaveNet's local conditioning [B, z + 3, F]: the frozen encoder's z aligned per control frame
    and the autoencoder's control features, from audio [B, T] and its controls [B, F]."""
    z, _ = autoencoder.encode(audio)
    features = autoencoder.control_features(f0, periodicity, loudness)
    return torch.cat([autoencoder.align_z(z, f0.shape[1]), features], dim=-1).transpose(1, 2)


def _cross_entropy(net: nn.Module, audio: torch.Tensor, **conditioning: torch.Tensor | None) -> torch.Tensor:
    classes = mu_law.encode(audio)
    logits = net(classes, **conditioning)
    return F.cross_entropy(logits.float(), classes)


class NoteWaveNetTask(FrozenAutoencoderNotes):
    kind = "wavenet"

    def __init__(self, cfg: WaveNetConfig, autoencoder: Autoencoder, autoencoder_path: str, data: Path,
                 cache_dir: Path, subset: NoteSubset, batch: int, crop: int, seed: int) -> None:
        ae = autoencoder.cfg
        wanted = ae.encoder.z_dim + 3
        if cfg.local_channels != wanted or cfg.hop != ae.frame_hop or not cfg.period_input:
            raise LatentbridgeError(f"a note WaveNet needs local_channels = z + 3 = {wanted}, hop = "
                                    f"{ae.frame_hop} and the period input (config has {cfg.local_channels}, "
                                    f"{cfg.hop}, {cfg.period_input})")
        if crop % ae.encoder.hop:
            raise LatentbridgeError(f"--crop {crop} must be a multiple of the latent hop {ae.encoder.hop}")
        _check_crop(crop, batch, cfg.hop)
        self.cfg, self.model = cfg, WaveNet(cfg)
        super().__init__(autoencoder, autoencoder_path, data, cache_dir, subset, batch, crop, seed)

    def audio_seconds(self) -> float:
        return self.batch * self.crop / self.cfg.sample_rate

    @torch.no_grad()
    def conditioning(self, audio: torch.Tensor, f0: torch.Tensor, periodicity: torch.Tensor,
                     loudness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(local [B, z + 3, F], period [B, T]) from audio [B, T] and its controls [B, F]."""
        local = note_local_conditioning(self.autoencoder, audio, f0, periodicity, loudness)
        period = period_per_sample(self.autoencoder.clamp_f0(f0), self.cfg.hop, audio.shape[1], self.cfg.max_period)
        return local, period

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        audio, f0, periodicity, loudness = self.crops(step, rank, world)
        local, period = self.conditioning(audio, f0, periodicity, loudness)
        return _cross_entropy(net, audio.to(device), local=local.to(device), period=period.to(device))


class SpeechWaveNetTask:
    kind = "wavenet"

    def __init__(self, cfg: WaveNetConfig, data: Path, cache_dir: Path, batch: int, crop: int, seed: int) -> None:
        if not cfg.global_classes or cfg.global_dim != 2 or cfg.local_channels or cfg.period_input:
            raise LatentbridgeError("a speech WaveNet needs a speaker id, a 2-value gender vector and no local "
                                    "or period input (e.g. --config speech_small)")
        _check_crop(crop, batch, 1)
        self.cfg, self.model = cfg, WaveNet(cfg)
        self.data, self.cache_dir, self.batch, self.crop, self.seed = data, cache_dir, batch, crop, seed
        self.audio: np.ndarray | None = None
        self.lengths: np.ndarray | None = None
        self.speaker: np.ndarray | None = None
        self.gender: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "crop": self.crop}

    def prepare(self, rank: int, world: int) -> dict[str, Any]:
        dataset = VCTKDataset(self.data)
        speakers = list(dataset.speakers)
        if len(speakers) > self.cfg.global_classes:
            raise LatentbridgeError(f"{self.data}: {len(speakers)} speakers, the config embeds at most "
                                    f"{self.cfg.global_classes}")
        samples = int(SPEECH_SECONDS * self.cfg.sample_rate)
        self.audio, lengths = cached_audio([u.audio_path for u in dataset.utterances], samples, self.cache_dir,
                                           "utterances")
        self.lengths = np.maximum(lengths, self.crop)
        self.speaker = np.array([speakers.index(u.speaker) for u in dataset.utterances])
        self.gender = np.array([[u.gender == "F", u.gender == "M"] for u in dataset.utterances], np.float32)
        return {"data": str(self.data), "utterances": len(dataset), "speakers": speakers,
                "genders": {s: dataset.speakers[s].gender for s in speakers}}

    def audio_seconds(self) -> float:
        return self.batch * self.crop / self.cfg.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        assert self.audio is not None and self.lengths is not None, "prepare() first"
        assert self.speaker is not None and self.gender is not None
        rng = np.random.default_rng([self.seed, step])
        total, mine = self.batch * world, slice(rank * self.batch, (rank + 1) * self.batch)
        rows = rng.integers(0, self.audio.shape[0], size=total)
        starts = (rng.random(total) * (self.lengths[rows] - self.crop + 1)).astype(np.int64)
        rows, starts = rows[mine], starts[mine]
        crops = np.stack([self.audio[r, s: s + self.crop] for r, s in zip(rows, starts, strict=True)])
        return _cross_entropy(net, torch.from_numpy(crops).to(device),
                              global_id=torch.from_numpy(self.speaker[rows]).to(device),
                              global_vec=torch.from_numpy(self.gender[rows]).to(device))
