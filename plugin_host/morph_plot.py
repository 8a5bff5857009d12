"""A PNG comparing a morph's input and output: log-mel spectrograms (first channel, 16 kHz, shared dB scale)
with the input's f0 contour drawn on both, so pitch kept and timbre changed can be seen at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.autoencoder.runtime import Controls
from export.core.audio_io import MODEL_RATE, resample
from export.core.spectrogram import band_position
from export.core.spectrogram_panel import draw_panel, panel_figure, save_panels


def plot_morph(path: Path, source: np.ndarray, result: np.ndarray, rate: int, controls: Controls, frame_hop: int,
               title: str, force: bool) -> None:
    """Write the comparison PNG atomically (source/result: (channels, frames) at `rate`)."""
    fig, axes = panel_figure(2, 10)
    image = None
    for ax, audio, name in zip(axes, (source, result), ("input", "output"), strict=True):
        image = draw_panel(ax, resample(audio[0], rate, MODEL_RATE), name)
        voiced = controls.periodicity > 0.5
        t = (np.arange(controls.frames) + 1) * frame_hop / MODEL_RATE
        f0 = np.where(voiced, controls.f0, np.nan)
        ax.plot(t, [band_position(float(f)) if np.isfinite(f) else np.nan for f in f0], color="cyan",
                linewidth=0.8, label="input f0")
    save_panels(path, fig, axes, image, title, dpi=110, force=force)
