"""Offline polyphonic decoding of a whole file: the same `PolySynth` the stream uses, fed in blocks.

Audio is float32 mono [T] at 16 kHz; z [F, Z] one per control frame and the controls [F] come from the
offline analysis (`OnnxAutoencoder.controls`, `encode`, `align`). The result [F * frame_hop] equals the
streaming voices on the same frames (both run frame by frame through one PolySynth; the stream's analysis
equals the offline one), without the stream's 127-sample delay.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from export.autoencoder.runtime import BLOCK_FRAMES, Controls, OnnxAutoencoder
from export.poly.poly_synth import PolyConfig, PolySynth
from export.poly.tracker import FrameSource, PolyTracker


def decode_voices(ae: OnnxAutoencoder, audio: np.ndarray, z: np.ndarray, controls: Controls,
                  progress: Callable[[int], None] | None = None, mode: str = "poly",
                  config: PolyConfig | None = None, tracker: FrameSource | None = None) -> np.ndarray:
    """The voices' output [F * frame_hop] for the whole file (see the module docstring)."""
    synth = PolySynth(ae, mode, config, tracker)
    hop, parts = ae.frame_hop, []
    for first in range(0, controls.frames, BLOCK_FRAMES):
        last = min(controls.frames, first + BLOCK_FRAMES)
        block = Controls(controls.f0[first:last], controls.periodicity[first:last], controls.loudness[first:last])
        parts.append(synth.push(audio[first * hop: last * hop], z[first:last], block))
        if progress is not None:
            progress((last - first) * hop)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def voices_decoder(ae: OnnxAutoencoder, mode: str, config: PolyConfig | None = None,
                   tracker_path: str | Path | None = None,
                   source: FrameSource | None = None) -> Callable[[], Callable[..., np.ndarray]]:
    """A factory for `morphing.morph(decode=...)`: each call gives a decoder with fresh voices (the tracker,
    `tracker_path` or the bundled one, is opened once; `source` replaces it, e.g. a judge's label stand-in)."""
    tracker = source if source is not None else PolyTracker.open(tracker_path) if mode == "poly" else None

    def fresh() -> Callable[..., np.ndarray]:
        return lambda audio, z, controls, progress: decode_voices(ae, audio, z, controls, progress, mode, config,
                                                                  tracker)
    return fresh
