"""A PNG of a dream: log-mel spectrograms of the input and the output (the mono mix at 16 kHz the tagger hears,
shared dB scale) and the tag's probability per step (with the target distance, for a target dream)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.spectrogram import DB_RANGE, HOP, N_MELS, TICKS_HZ, band_position, log_mel


def plot_dream(path: Path, before: np.ndarray, after: np.ndarray, steps: list[int], probability: list[float] | None,
               distance: list[float] | None, title: str, force: bool) -> None:
    """Write the PNG atomically; before/after: 16 kHz mono [T]; probability/distance: one value per step."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.6), layout="constrained")
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1, 1, 0.8)})
    image = None
    for ax, audio, name in zip(axes[:2], (before, after), ("input", "output"), strict=True):
        image = ax.imshow(log_mel(audio), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                          vmax=DB_RANGE[1], extent=(-HOP / 2 / MODEL_RATE, audio.shape[0] / MODEL_RATE, 0, N_MELS),
                          interpolation="nearest")
        ax.set_title(f"{name} (mono mix, 16 kHz)", fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_yticks([band_position(hz) for hz in TICKS_HZ],
                      [f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}" for hz in TICKS_HZ])
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("frequency (Hz, mel scale)", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes[:2], label="dBFS", shrink=0.8)
    curve = axes[2]
    lines = []
    if probability is not None:
        lines += curve.plot(steps, probability, "o-", markersize=2.5, color="tab:blue", label="tag probability")
        curve.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
        curve.set_ylim(0, 1)
        curve.set_ylabel("tag probability", fontsize=8)
    if distance is not None:
        twin = curve.twinx() if probability is not None else curve
        lines += twin.plot(steps, distance, "s-", markersize=2.5, color="tab:orange", label="distance to target")
        twin.set_ylabel("relative distance to target", fontsize=8)
        twin.tick_params(labelsize=7)
    if lines:
        curve.legend(handles=lines, fontsize=7, loc="center right")
    curve.set_xlabel("step", fontsize=8)
    curve.tick_params(labelsize=7)
    curve.set_title("per step", fontsize=9)
    fig.suptitle(title, fontsize=10)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
