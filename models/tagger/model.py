"""CNN music tagger: 16 kHz audio windows -> multi-label tag logits (the front end is inside the model).

Front end by config: sample-level strided conv (Lee et al. 2017), a learnable log filterbank (`filterbank.py`)
or a log-mel spectrogram (`resnet.py`). Back end "conv1d": 3-tap conv blocks with max-pool 3, global max+mean
pooling and a dense head; "resnet2d": the short-chunk ResNet of Won et al. 2020 (`resnet.py`), global max
pooling, dense -> BN -> ReLU -> dropout -> tags. SpecAugment masks apply in training mode only.

forward: audio [B, n_samples] (float32, [-1, 1]) -> logits [B, n_tags]; `predict_proba` applies the sigmoid.
`predict_clip` tags a clip of any length (numpy [T] -> numpy [n_tags]) by averaging window probabilities.
No data-dependent control flow in forward (ONNX-exportable; any window length >= 3^(1 + blocks) works).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.tagger.configs import POOL, TaggerConfig
from models.tagger.filterbank import LogFilterbank
from models.tagger.resnet import LogMelFrontend, ResBlock2d, spec_augment


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3-tap conv (same length) -> batch norm -> ReLU -> max-pool 3."""
    return nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1), nn.BatchNorm1d(c_out), nn.ReLU(),
                         nn.MaxPool1d(POOL))


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """Window offsets 0, hop, 2 hop, ... plus one window ending at the clip's end if the tail is not covered;
    [0] for a clip no longer than one window (which is then zero-padded)."""
    if hop < 1:
        raise LatentbridgeError(f"window hop must be >= 1 sample, got {hop}")
    if n_samples <= window:
        return [0]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


class SampleCNN(nn.Module):
    """The tagger (any front end and back end of `TaggerConfig`); `cfg.tag_names` labels the output columns.
    (The class keeps the name of the first, sample-level model: checkpoints name it.)"""

    def __init__(self, cfg: TaggerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.frontend == "sample":
            self.frontend = nn.Sequential(nn.Conv1d(1, cfg.first_channels, 3, stride=POOL),
                                          nn.BatchNorm1d(cfg.first_channels), nn.ReLU())
        elif cfg.frontend == "filterbank":
            self.frontend = nn.Sequential(LogFilterbank(cfg.bands, cfg.filter_length, cfg.filter_stride,
                                                        cfg.energy_pool, cfg.sample_rate),
                                          nn.BatchNorm1d(cfg.bands))
        else:
            self.frontend = nn.Sequential(LogMelFrontend(cfg.bands, cfg.n_fft, cfg.hop, cfg.sample_rate),
                                          nn.BatchNorm1d(cfg.bands))
        widths = (cfg.frontend_channels, *cfg.block_channels)
        if cfg.backbone == "resnet2d":
            widths = (1, *cfg.block_channels)
            self.blocks = nn.Sequential(*(ResBlock2d(c_in, c_out)
                                          for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)))
            self.head = nn.Sequential(nn.Linear(widths[-1], cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
                                      nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.n_tags))
            return
        self.blocks = nn.Sequential(*(conv_block(c_in, c_out)
                                      for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)))
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * widths[-1], cfg.hidden), nn.ReLU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.n_tags))

    def image(self, audio: Tensor) -> Tensor:
        """audio [B, T] -> the normalised front-end output [B, channels or bands, frames], SpecAugment-masked
        in training mode."""
        x = self.frontend(audio.unsqueeze(1))
        cfg = self.cfg
        if cfg.frontend == "logmel":
            # An empty mel band is constant: in training its BatchNorm output is exactly the shift (batch
            # variance 0); with the running statistics it is a near-zero difference over a near-zero deviation,
            # which torch and ONNX Runtime round differently. Both take the training-time value.
            x = torch.where(self.frontend[0].empty, self.frontend[1].bias[:, None], x)
        if self.training and cfg.frontend != "sample" and (cfg.time_masks or cfg.freq_masks):
            x = spec_augment(x, cfg.time_masks, cfg.time_mask_frames, cfg.freq_masks, cfg.freq_mask_bands)
        return x

    def features(self, audio: Tensor) -> Tensor:
        """audio [B, T] -> feature frames [B, C, frames] before global pooling (`cfg.frames_out` for one
        window; the resnet2d back end's maximum over frequency)."""
        x = self.image(audio)
        if self.cfg.backbone == "resnet2d":
            return self.blocks(x.unsqueeze(1)).amax(dim=2)
        return self.blocks(x)

    def forward(self, audio: Tensor) -> Tensor:
        h = self.features(audio)
        if self.cfg.backbone == "resnet2d":
            return self.head(h.amax(dim=-1))
        pooled = torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1)
        return self.head(pooled)

    def predict_proba(self, audio: Tensor) -> Tensor:
        """Tag probabilities [B, n_tags] (sigmoid of the logits)."""
        return torch.sigmoid(self(audio))

    @torch.no_grad()
    def predict_clip(self, audio: np.ndarray, hop: int | None = None, batch_size: int = 16) -> np.ndarray:
        """Mean tag probabilities [n_tags] over windows of a mono clip [T] (see `window_starts`); eval mode.

        hop defaults to the window length (no overlap); a clip shorter than a window is zero-padded.
        """
        clip = np.asarray(audio, dtype=np.float32)
        if clip.ndim != 1 or clip.size == 0:
            raise LatentbridgeError(f"predict_clip expects a non-empty mono clip [samples], "
                                    f"got shape {clip.shape}")
        window = self.cfg.n_samples
        if clip.size < window:
            clip = np.pad(clip, (0, window - clip.size))
        starts = window_starts(clip.size, window, window if hop is None else hop)
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            probs = []
            for i in range(0, len(starts), batch_size):
                batch = np.stack([clip[s: s + window] for s in starts[i: i + batch_size]])
                probs.append(self.predict_proba(torch.from_numpy(batch).to(device)).cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(probs).mean(axis=0)
