"""Test helper for the stream synths (WaveNet, LPC WaveNet): a plucked test phrase at 16 kHz, its offline analysis,
and its frames pushed into a synth in the groups a stream fed awkward block sizes would complete them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from export.autoencoder.runtime import Controls, OnnxAutoencoder

BLOCKS = (1, 127, 128, 129, 1000, 4096)


def phrase(seconds: float = 1.2) -> np.ndarray:
    """Two plucked tones and a rest at 16 kHz: onsets, a pitch change and silence."""
    t = np.arange(int(seconds * 16000)) / 16000
    out = np.zeros_like(t)
    for start, f0 in ((0.1, 196.0), (0.6, 293.7)):
        tone = sum(np.sin(2 * np.pi * k * f0 * (t - start)) / k for k in range(1, 6))
        out += np.where(t >= start, 0.3 * tone * np.exp(-(t - start) / 0.3), 0.0)
    return out.astype(np.float32)


def analysis(ae: OnnxAutoencoder, audio: np.ndarray) -> tuple[np.ndarray, Controls]:
    controls = ae.controls(audio)
    return ae.align(ae.encode(audio), controls.frames), controls


def pushed_in_groups(synth: Callable[[np.ndarray, np.ndarray, Controls], np.ndarray], audio: np.ndarray,
                     z: np.ndarray, controls: Controls, hop: int) -> np.ndarray:
    """The synth's output for every frame, pushed in the groups a stream fed BLOCKS completes after each block."""
    parts, done, pos, i, frames = [], 0, 0, 0, controls.frames
    while done < frames:
        pos, i = pos + BLOCKS[i % len(BLOCKS)], i + 1
        upto = min(pos // hop, frames)
        if upto > done:
            part = Controls(controls.f0[done:upto], controls.periodicity[done:upto], controls.loudness[done:upto])
            parts.append(synth(audio[done * hop: upto * hop], z[done:upto], part))
            done = upto
    return np.concatenate(parts)
