"""Raw-audio tagger hyper-parameters (frozen dataclass) and named configs: paper sizes, CPU, tests.

Two front ends on the same waveform input: "sample" (Lee et al. 2017, strided k3 conv then 3-tap blocks
from the sample level up) and "filterbank" (a learnable Gabor filterbank with log energies every
filter_stride * energy_pool samples, then the same blocks over frames; see `filterbank.py`).
Input windows of `n_samples` (59 049 = 3^10) samples at 16 kHz. Tag count and names come from the training
data (`with_tags`); both are saved with the config, which round-trips through JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config

FRONTENDS = ("sample", "filterbank")
POOL = 3  # strided first conv: kernel 3, stride 3; each block: conv k3 (same) -> BN -> ReLU -> max-pool 3


@dataclass(frozen=True)
class TaggerConfig:
    """Front end -> blocks (conv k3, BN, ReLU, max-pool 3) -> global max+avg -> dense -> tags.

    frontend "sample": strided conv (k3, s3, first_channels); "filterbank": `bands` learnable band energies
    (filter_length taps, stride filter_stride, averaged over energy_pool outputs, log), batch-normed.
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
        for name in ("bands", "filter_length", "filter_stride", "energy_pool"):
            if getattr(self, name) < 1:
                raise LatentbridgeError(f"TaggerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise LatentbridgeError(f"TaggerConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.frames_out < 1:
            raise LatentbridgeError(f"a window of {self.n_samples} samples is too short for "
                                    f"its front end and {len(self.block_channels)} pool-3 blocks")

    @property
    def frontend_channels(self) -> int:
        """Channels the front end hands to the first block."""
        return self.first_channels if self.frontend == "sample" else self.bands

    @property
    def total_stride(self) -> int:
        """Input samples per output frame."""
        first = POOL if self.frontend == "sample" else self.filter_stride * self.energy_pool
        return first * POOL ** len(self.block_channels)

    @property
    def frames_out(self) -> int:
        """Frames left before global pooling for one window (each pooling stage floors its length)."""
        if self.frontend == "sample":
            frames = self.n_samples // POOL
        elif self.n_samples < self.filter_length:
            return 0
        else:
            frames = ((self.n_samples - self.filter_length) // self.filter_stride + 1) // self.energy_pool
        for _ in self.block_channels:
            frames //= POOL
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

CONFIGS: dict[str, TaggerConfig] = {"samplecnn": SAMPLECNN, "samplecnn_small": SAMPLECNN_SMALL,
                                    "filterbank_cnn": FILTERBANK_CNN}
TEST_CONFIGS: dict[str, TaggerConfig] = {
    "tiny": TaggerConfig(n_tags=5, n_samples=3 ** 6, first_channels=4, block_channels=(4, 8, 8), hidden=8,
                         dropout=0.0),
    "tiny_one_frame": TaggerConfig(n_tags=3, n_samples=3 ** 5, first_channels=4, block_channels=(4, 4, 8, 8),
                                   hidden=6, dropout=0.1),
    "tiny_filterbank": TaggerConfig(n_tags=4, n_samples=2000, frontend="filterbank", bands=6, filter_length=64,
                                    filter_stride=16, energy_pool=2, block_channels=(8, 8), hidden=8, dropout=0.0),
}


def get_config(name: str) -> TaggerConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "tagger", CONFIGS, TEST_CONFIGS)
