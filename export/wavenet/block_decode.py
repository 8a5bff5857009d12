"""A whole file's frames through a stream synth (`synth(audio, z, controls)`, as the WaveNet and LPC WaveNet synths
take them) in blocks of `BLOCK_FRAMES`: the same samples as one call, with progress per block.

z [F, Z] per control frame of `hop` samples at 16 kHz, controls per frame; audio float32 [F * hop].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from export.autoencoder.runtime import BLOCK_FRAMES, Controls

StreamSynth = Callable[[np.ndarray, np.ndarray, Controls], np.ndarray]


def decode_in_blocks(synth: StreamSynth, z: np.ndarray, controls: Controls, hop: int,
                     progress: Callable[[int], None] | None = None) -> np.ndarray:
    """See the module docstring; `progress(samples)` after each block."""
    parts = [np.zeros(0, np.float32)]
    for first in range(0, controls.frames, BLOCK_FRAMES):
        last = min(controls.frames, first + BLOCK_FRAMES)
        block = Controls(controls.f0[first:last], controls.periodicity[first:last], controls.loudness[first:last])
        parts.append(synth(np.zeros(0, np.float32), z[first:last], block))
        if progress is not None:
            progress((last - first) * hop)
    return np.concatenate(parts)
