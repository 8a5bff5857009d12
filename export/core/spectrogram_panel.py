"""Side-by-side log-mel spectrogram panels in one PNG, for the plots that compare audio (morph, eval voices).

Audio is float mono at 16 kHz; each panel shows `log_mel` bands on the shared dB scale, time in seconds with
each frame centred on its hop, and the mel axis ticked in Hz. matplotlib is imported only by `panel_figure`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.spectrogram import DB_RANGE, HOP, N_MELS, TICKS_HZ, band_position, log_mel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage


def panel_figure(panels: int, width: float) -> tuple[Figure, np.ndarray]:
    """A figure `width` inches wide with `panels` panels in a row sharing the mel axis, and their axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 3.6), layout="constrained")
    return fig, fig.subplots(1, panels, sharey=True)


def draw_panel(ax: Axes, audio: np.ndarray, name: str) -> AxesImage:
    """Draw the spectrogram of `audio` (16 kHz mono) titled `name`; the image, for the colour bar."""
    seconds = audio.shape[0] / MODEL_RATE
    image = ax.imshow(log_mel(audio), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                      vmax=DB_RANGE[1], extent=(-HOP / 2 / MODEL_RATE, seconds, 0, N_MELS), interpolation="nearest")
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(labelsize=7)
    return image


def save_panels(path: Path, fig: Figure, axes: np.ndarray, image: AxesImage | None, title: str, dpi: int,
                force: bool) -> None:
    """Label the mel axis in Hz, add the legend (first panel), the dB colour bar and `title`; write the PNG
    atomically."""
    axes[0].set_yticks([band_position(hz) for hz in TICKS_HZ],
                       [f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}" for hz in TICKS_HZ])
    axes[0].set_ylabel("frequency (Hz, mel scale)", fontsize=8)
    axes[0].legend(loc="upper right", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, label="dBFS", shrink=0.8)
    fig.suptitle(title, fontsize=10)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
