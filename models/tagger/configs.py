"""Sample-level CNN tagger hyper-parameters (frozen dataclass) and named configs: paper sizes, CPU, tests.

Input windows of `n_samples` (59 049 = 3^10) samples at 16 kHz. Tag count and names come from the training
data (`with_tags`); both are saved with the config, which round-trips through JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from export.audio_io import MODEL_RATE
from export.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config

POOL = 3  # strided first conv: kernel 3, stride 3; each block: conv k3 (same) -> BN -> ReLU -> max-pool 3


@dataclass(frozen=True)
class TaggerConfig:
    """Strided conv (k3, s3) -> blocks (conv k3, BN, ReLU, max-pool 3) -> global max+avg -> dense -> tags."""

    n_tags: int = 50
    tag_names: tuple[str, ...] = ()  # empty, or exactly n_tags names (column order of the outputs)
    n_samples: int = 59049  # 3^10: one window
    first_channels: int = 128
    block_channels: tuple[int, ...] = (128, 128, 256, 256, 256, 256, 256, 256, 512)
    hidden: int = 512
    dropout: float = 0.5
    sample_rate: int = MODEL_RATE

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
        if not 0.0 <= self.dropout < 1.0:
            raise LatentbridgeError(f"TaggerConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.frames_out < 1:
            raise LatentbridgeError(f"a window of {self.n_samples} samples is too short for "
                                    f"{1 + len(self.block_channels)} stride-3 stages")

    @property
    def total_stride(self) -> int:
        """Input samples per output frame: 3 ** (1 + number of blocks)."""
        return POOL ** (1 + len(self.block_channels))

    @property
    def frames_out(self) -> int:
        """Frames left before global pooling for one window (each stage floors its length / 3)."""
        frames = self.n_samples
        for _ in range(1 + len(self.block_channels)):
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

CONFIGS: dict[str, TaggerConfig] = {"samplecnn": SAMPLECNN, "samplecnn_small": SAMPLECNN_SMALL}
TEST_CONFIGS: dict[str, TaggerConfig] = {
    "tiny": TaggerConfig(n_tags=5, n_samples=3 ** 6, first_channels=4, block_channels=(4, 8, 8), hidden=8,
                         dropout=0.0),
    "tiny_one_frame": TaggerConfig(n_tags=3, n_samples=3 ** 5, first_channels=4, block_channels=(4, 4, 8, 8),
                                   hidden=6, dropout=0.1),
}


def get_config(name: str) -> TaggerConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "tagger", CONFIGS, TEST_CONFIGS)
