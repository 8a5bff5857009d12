"""A PNG of one phrase through the poly voices: input, `--voices poly --amount 0` and amount 1 toward a family,
as log-mel spectrograms (16 kHz, shared dB scale) with the labelled notes' fundamentals drawn over each, so a
reader sees at a glance that every note of the chord comes out, at its pitch, in another timbre."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.pitch_units import midi_to_hz
from export.core.spectrogram import DB_RANGE, HOP, N_MELS, TICKS_HZ, band_position, log_mel
from models.data.poly_midi import NoteLabel


def plot_voices(path: Path, panels: list[tuple[str, np.ndarray]], notes: tuple[NoteLabel, ...], title: str,
                force: bool = True) -> None:
    """Write the PNG atomically: one panel per (name, 16 kHz mono audio)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(panels) + 1, 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True)
    image = None
    for ax, (name, audio) in zip(axes, panels, strict=True):
        seconds = audio.shape[0] / MODEL_RATE
        image = ax.imshow(log_mel(audio), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                          vmax=DB_RANGE[1], extent=(-HOP / 2 / MODEL_RATE, seconds, 0, N_MELS),
                          interpolation="nearest")
        for i, note in enumerate(notes):
            y = band_position(float(midi_to_hz(note.pitch)))
            ax.plot([note.onset, note.offset], [y, y], color="cyan", linewidth=0.7, alpha=0.8,
                    label="labelled notes" if i == 0 else None)
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
        fig.savefig(tmp, format="png", dpi=100)
