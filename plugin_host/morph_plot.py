"""A PNG comparing a morph's input and output: log-mel spectrograms (first channel, 16 kHz, shared dB scale)
with the input's f0 contour drawn on both, so pitch kept and timbre changed can be seen at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.autoencoder.runtime import Controls
from export.core.audio_io import MODEL_RATE, atomic_output, resample
from export.core.spectrogram import DB_RANGE, HOP, N_MELS, TICKS_HZ, band_position, log_mel


def plot_morph(path: Path, source: np.ndarray, result: np.ndarray, rate: int, controls: Controls, frame_hop: int,
               title: str, force: bool) -> None:
    """Write the comparison PNG atomically (source/result: (channels, frames) at `rate`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    image = None
    for ax, audio, name in zip(axes, (source, result), ("input", "output"), strict=True):
        mono = resample(audio[0], rate, MODEL_RATE)
        seconds = mono.shape[0] / MODEL_RATE
        image = ax.imshow(log_mel(mono), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                          vmax=DB_RANGE[1], extent=(-HOP / 2 / MODEL_RATE, seconds, 0, N_MELS),
                          interpolation="nearest")
        voiced = controls.periodicity > 0.5
        t = (np.arange(controls.frames) + 1) * frame_hop / MODEL_RATE
        f0 = np.where(voiced, controls.f0, np.nan)
        ax.plot(t, [band_position(float(f)) if np.isfinite(f) else np.nan for f in f0], color="cyan",
                linewidth=0.8, label="input f0")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks([band_position(hz) for hz in TICKS_HZ],
                       [f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}" for hz in TICKS_HZ])
    axes[0].set_ylabel("frequency (Hz, mel scale)", fontsize=8)
    axes[0].legend(loc="upper right", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, label="dBFS", shrink=0.8)
    fig.suptitle(title, fontsize=10)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
