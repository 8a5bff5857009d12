"""A PNG of a style transfer: log-mel spectrograms of content, style and result, and the loss curves.

Audio 1-D float32 at 16 kHz; spectrograms share one dB scale; losses on a log axis per iteration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.core.audio_io import atomic_output
from export.core.spectrogram import DB_RANGE, HOP, N_MELS, log_mel

SAMPLE_RATE = 16000


def plot_style(path: Path, content: np.ndarray, style: np.ndarray, result: np.ndarray, report: dict[str, Any],
               force: bool) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.4), layout="constrained")
    axes = fig.subplots(1, 4)
    for ax, audio, name in zip(axes[:3], (content, style, result), ("content", "style", "result"), strict=True):
        seconds = audio.size / SAMPLE_RATE
        ax.imshow(log_mel(audio), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                  vmax=DB_RANGE[1], extent=(-HOP / 2 / SAMPLE_RATE, seconds, 0, N_MELS), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("mel bands", fontsize=8)
    loss_ax = axes[3]
    for key, label in (("style_loss", "style"), ("content_loss", "content")):
        curve = np.asarray(report[key], np.float64)
        if np.any(curve > 0):
            loss_ax.semilogy(np.where(curve > 0, curve, np.nan), label=label)
    loss_ax.set_xlabel("iteration", fontsize=8)
    loss_ax.set_title("weighted losses", fontsize=9)
    loss_ax.legend(fontsize=7)
    loss_ax.tick_params(labelsize=7)
    g = report["gram_distance"]
    fig.suptitle(f"style --method {report['method']}: Gram distance to the style {g['before']:.3g} -> "
                 f"{g['after']:.3g}", fontsize=10)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
