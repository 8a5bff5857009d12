"""Training task of the LPC WaveNet decoder: teacher-forced cross-entropy on the mu-law excitation classes of
16 kHz note crops, guided by the frozen harmonic autoencoder (z, controls, LPC from its envelope, its output).

Crops [batch, crop] come from the autoencoder's note cache (`note_batches`); the noise injection of the config
is drawn from the loop's per-step torch seed, so a resumed run continues the same curve. `init` warm-starts the
WaveNet from a trained period-back note WaveNet (`kind` wavenet) of the same size: its weights are copied into
`net` and only the feature projection starts fresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from export.core.errors import LatentbridgeError
from models.autoencoder.model import Autoencoder
from models.training.note_batches import FrozenAutoencoderNotes, NoteSubset
from models.wavenet.lpc_decoder import LPCWaveNet, LPCWaveNetConfig, harmonic_guide, teacher_inputs


class LPCWaveNetTask(FrozenAutoencoderNotes):
    kind = "lpcwavenet"

    def __init__(self, cfg: LPCWaveNetConfig, autoencoder: Autoencoder, autoencoder_path: str, data: Path,
                 cache_dir: Path, subset: NoteSubset, batch: int, crop: int, seed: int,
                 init: Path | None = None) -> None:
        ae = autoencoder.cfg
        wanted = ae.encoder.z_dim + 3
        if cfg.wavenet.local_channels != wanted or cfg.wavenet.hop != ae.frame_hop:
            raise LatentbridgeError(f"an LPC WaveNet for this autoencoder needs local_channels = z + 3 = {wanted} "
                                    f"and hop = {ae.frame_hop} (config has {cfg.wavenet.local_channels}, "
                                    f"{cfg.wavenet.hop})")
        if batch < 1 or crop < ae.encoder.hop or crop % ae.encoder.hop:
            raise LatentbridgeError(f"need --batch >= 1 and --crop a positive multiple of the latent hop "
                                    f"{ae.encoder.hop}, got {batch}, {crop}")
        self.cfg, self.model = cfg, LPCWaveNet(cfg)
        self.init = init
        if init is not None:
            from models.training.checkpoint import load_model

            source, _ = load_model(init, "wavenet")
            if source.cfg != cfg.wavenet:
                raise LatentbridgeError(f"{init}: a WaveNet of another config than this decoder's")
            self.model.net.load_state_dict(source.state_dict())
        super().__init__(autoencoder, autoencoder_path, data, cache_dir, subset, batch, crop, seed)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "init": None if self.init is None else str(self.init)}

    def audio_seconds(self) -> float:
        return self.batch * self.crop / self.cfg.wavenet.sample_rate

    def loss(self, net: nn.Module, step: int, rank: int, world: int, device: torch.device) -> torch.Tensor:
        audio, f0, periodicity, loudness = self.crops(step, rank, world)
        guide = harmonic_guide(self.autoencoder, self.cfg, audio, f0, periodicity, loudness)
        inputs, back, features, target = teacher_inputs(self.cfg, audio, guide)
        logits = net(inputs.to(device), back.to(device), None if features is None else features.to(device),
                     guide.local.to(device))
        return F.cross_entropy(logits.float(), target.to(device))
