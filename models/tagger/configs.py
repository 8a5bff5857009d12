"""Tagger hyper-parameters (frozen dataclass) and named configs: paper sizes, CPU, tests.

Three front ends on the same waveform input: "sample" (Lee et al. 2017, strided k3 conv then 3-tap blocks
from the sample level up), "filterbank" (a learnable Gabor filterbank with log energies every
filter_stride * energy_pool samples, then the same blocks over frames; see `filterbank.py`) and "logmel"
(a fixed log-mel spectrogram computed in the graph, `logmel.py`). Two back ends: "conv1d" (3-tap blocks with
max-pool 3 over frames) and "resnet2d" (the short-chunk ResNet of Won et al. 2020: 2-D residual blocks of
3x3 convs, each halving frequency and time, over the [bands, frames] image of the filterbank or log-mel).
Input windows of `n_samples` (59 049 = 3^10, 3.69 s) samples at 16 kHz. Tag count and names come from the training
data (`with_tags`); both are saved with the config, which round-trips through JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config

FRONTENDS = ("sample", "filterbank", "logmel")
BACKBONES = ("conv1d", "resnet2d")
POOL = 3  # strided first conv: kernel 3, stride 3; each block: conv k3 (same) -> BN -> ReLU -> max-pool 3


@dataclass(frozen=True)
class TaggerConfig:
    """Front end -> blocks (conv k3, BN, ReLU, max-pool 3) -> global max+avg -> dense -> tags.

    frontend "sample": strided conv (k3, s3, first_channels); "filterbank": `bands` learnable band energies
    (filter_length taps, stride filter_stride, averaged over energy_pool outputs, log), batch-normed;
    "logmel": `bands` mel bands of a centred Hann STFT (n_fft, hop), in dB, batch-normed.
    backbone "resnet2d" (filterbank or logmel): one residual block per block_channels entry, each
    conv3x3(stride 2) -> BN -> ReLU -> conv3x3 -> BN plus a 1x1 strided shortcut, then ReLU; max over
    frequency and time -> dense(hidden) -> BN -> ReLU -> dropout -> tags.
    SpecAugment (training mode only, not in exported graphs): `time_masks` masks of up to
    `time_mask_frames` frames and `freq_masks` masks of up to `freq_mask_bands` bands on the normalised
    input image, set to 0 (the batch-norm mean).
    """

    n_tags: int = 50
    tag_names: tuple[str, ...] = ()  # empty, or exactly n_tags names (column order of the outputs)
    n_samples: int = 59049  # 3^10: one window
    first_channels: int = 128
    block_channels: tuple[int, ...] = (128, 128, 256, 256, 256, 256, 256, 256, 512)
    hidden: int = 512
    dropout: float = 0.5
    sample_rate: int = MODEL_RATE
    frontend: str = "sample"  # "sample" | "filterbank"
    bands: int = 96  # filterbank only, like the fields below
    filter_length: int = 512
    filter_stride: int = 64
    energy_pool: int = 4
    n_fft: int = 512  # logmel only, like hop
    hop: int = 256
    backbone: str = "conv1d"  # "conv1d" | "resnet2d"
    time_masks: int = 0  # SpecAugment, training only (filterbank / logmel front ends)
    time_mask_frames: int = 0
    freq_masks: int = 0
    freq_mask_bands: int = 0

    def __post_init__(self) -> None:
        for name in ("n_tags", "n_samples", "first_channels", "hidden", "sample_rate"):
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"TaggerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.block_channels or min(self.block_channels) < 1:
            raise LatentbridgeError("TaggerConfig.block_channels must be non-empty positive widths")
        if self.tag_names and len(self.tag_names) != self.n_tags:
            raise LatentbridgeError(f"TaggerConfig has {len(self.tag_names)} tag names "
                                    f"for n_tags={self.n_tags}")
        if len(set(self.tag_names)) != len(self.tag_names):
            raise LatentbridgeError("TaggerConfig.tag_names must be distinct")
        if self.frontend not in FRONTENDS:
            raise LatentbridgeError(f"TaggerConfig.frontend must be one of {', '.join(FRONTENDS)}, "
                                    f"got {self.frontend!r}")
        if self.backbone not in BACKBONES:
            raise LatentbridgeError(f"TaggerConfig.backbone must be one of {', '.join(BACKBONES)}, "
                                    f"got {self.backbone!r}")
        if self.backbone == "resnet2d" and self.frontend == "sample":
            raise LatentbridgeError("TaggerConfig: the resnet2d backbone needs a filterbank or logmel front end")
        for name in ("bands", "filter_length", "filter_stride", "energy_pool", "n_fft", "hop"):
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"TaggerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise LatentbridgeError(f"TaggerConfig.dropout must be in [0, 1), got {self.dropout}")
        for name in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bands"):
            if getattr(self, name) < 0:
                raise LatentbridgeError(f"TaggerConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.frontend == "logmel" and self.n_fft > self.n_samples:
            raise LatentbridgeError(f"TaggerConfig: n_fft {self.n_fft} is longer than the window")
        if self.backbone == "resnet2d" and self.bands < 2 ** len(self.block_channels):
            raise LatentbridgeError(f"TaggerConfig: {self.bands} bands cannot be halved "
                                    f"{len(self.block_channels)} times")
        if self.frames_out < 1:
            raise LatentbridgeError(f"a window of {self.n_samples} samples is too short for "
                                    f"its front end and {len(self.block_channels)} pool-3 blocks")

    @property
    def frontend_channels(self) -> int:
        """Channels the front end hands to the first block."""
        return self.first_channels if self.frontend == "sample" else self.bands

    @property
    def reduction(self) -> int:
        """Time reduction of each backbone block: max-pool 3 (conv1d) or stride 2 (resnet2d)."""
        return 2 if self.backbone == "resnet2d" else POOL

    @property
    def total_stride(self) -> int:
        """Input samples per output frame."""
        if self.frontend == "sample":
            first = POOL
        elif self.frontend == "logmel":
            first = self.hop
        else:
            first = self.filter_stride * self.energy_pool
        return first * self.reduction ** len(self.block_channels)

    @property
    def frontend_frames(self) -> int:
        """Frames the front end makes of one window."""
        if self.frontend == "sample":
            return self.n_samples // POOL
        if self.frontend == "logmel":
            return 1 + self.n_samples // self.hop
        if self.n_samples < self.filter_length:
            return 0
        return ((self.n_samples - self.filter_length) // self.filter_stride + 1) // self.energy_pool

    @property
    def frames_out(self) -> int:
        """Frames left before global pooling for one window (each stage floors its length; a stride-2 conv
        with padding 1 gives ceil(frames / 2))."""
        frames = self.frontend_frames
        for _ in self.block_channels:
            frames = (frames + 1) // 2 if self.backbone == "resnet2d" else frames // POOL
        return frames

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TaggerConfig:
        return config_from_dict(cls, values)


def with_tags(cfg: TaggerConfig, names: Sequence[str]) -> TaggerConfig:
    """`cfg` sized for the given tags (output k is names[k])."""
    return replace(cfg, n_tags=len(names), tag_names=tuple(names))


# Lee et al. 2017, 3^9 model: 59 049-sample input, strided conv of 128, nine blocks 128-128-256 x 6-512,
# so exactly one frame is left (3^10 / 3^10); the paper's 1x1 conv of 512 + dropout 0.5 is the dense layer.
SAMPLECNN = TaggerConfig()
# Trains on one CPU core: the same 3^10 window and nine blocks, 8x narrower at the input (the cost is in the
# first, longest layers), widening to 256 at the top. About 85 clips/s at batch 16 on one thread.
SAMPLECNN_SMALL = TaggerConfig(first_channels=16, block_channels=(16, 16, 32, 32, 64, 64, 128, 128, 256),
                               hidden=128, dropout=0.3)

# Learnable log filterbank (96 bands, 32 ms filters, a frame every 16 ms) and four blocks over the frames:
# about 0.25 GFLOP per window against the sample-level model's first layers, so it sees many more windows
# per core-hour.
FILTERBANK_CNN = TaggerConfig(frontend="filterbank", bands=96, filter_length=512, filter_stride=64,
                              energy_pool=4, block_channels=(128, 128, 256, 256), hidden=256, dropout=0.3)

# Won et al. 2020 short-chunk ResNet: 3.69-s chunks, 128-band log-mel (n_fft 512, hop 256), seven residual
# blocks 128-128-256-256-256-256-512, dense 512, dropout 0.5 (the paper's size, for a GPU).
LOGMEL_RESNET = TaggerConfig(frontend="logmel", backbone="resnet2d", bands=128, n_fft=512, hop=256,
                             block_channels=(128, 128, 256, 256, 256, 256, 512), hidden=512, dropout=0.5,
                             time_masks=2, time_mask_frames=20, freq_masks=2, freq_mask_bands=16)
# The same design at a width one CPU core trains: 4x narrower at the input, where the cost is.
LOGMEL_RESNET_SMALL = replace(LOGMEL_RESNET, block_channels=(32, 32, 64, 64, 128, 128, 256), hidden=256,
                              dropout=0.3)

CONFIGS: dict[str, TaggerConfig] = {"samplecnn": SAMPLECNN, "samplecnn_small": SAMPLECNN_SMALL,
                                    "filterbank_cnn": FILTERBANK_CNN, "logmel_resnet": LOGMEL_RESNET,
                                    "logmel_resnet_small": LOGMEL_RESNET_SMALL}
TEST_CONFIGS: dict[str, TaggerConfig] = {
    "tiny": TaggerConfig(n_tags=5, n_samples=3 ** 6, first_channels=4, block_channels=(4, 8, 8), hidden=8,
                         dropout=0.0),
    "tiny_one_frame": TaggerConfig(n_tags=3, n_samples=3 ** 5, first_channels=4, block_channels=(4, 4, 8, 8),
                                   hidden=6, dropout=0.1),
    "tiny_filterbank": TaggerConfig(n_tags=4, n_samples=2000, frontend="filterbank", bands=6, filter_length=64,
                                    filter_stride=16, energy_pool=2, block_channels=(8, 8), hidden=8, dropout=0.0),
    "tiny_resnet": TaggerConfig(n_tags=4, n_samples=4000, frontend="logmel", backbone="resnet2d", bands=16,
                                n_fft=256, hop=128, block_channels=(4, 8, 8), hidden=8, dropout=0.0,
                                time_masks=1, time_mask_frames=4, freq_masks=1, freq_mask_bands=3),
}


def get_config(name: str) -> TaggerConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "tagger", CONFIGS, TEST_CONFIGS)
