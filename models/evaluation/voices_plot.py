"""A PNG of one phrase through the poly voices: input, `--voices poly --amount 0` and amount 1 toward a family,
as log-mel spectrograms (16 kHz, shared dB scale) with the labelled notes' fundamentals drawn over each, so a
reader sees at a glance that every note of the chord comes out, at its pitch, in another timbre."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.core.pitch_units import midi_to_hz
from export.core.spectrogram import band_position
from export.core.spectrogram_panel import draw_panel, panel_figure, save_panels
from models.data.poly_midi import NoteLabel


def plot_voices(path: Path, panels: list[tuple[str, np.ndarray]], notes: tuple[NoteLabel, ...], title: str,
                force: bool = True) -> None:
    """Write the PNG atomically: one panel per (name, 16 kHz mono audio)."""
    fig, axes = panel_figure(len(panels), 4 * len(panels) + 1)
    image = None
    for ax, (name, audio) in zip(axes, panels, strict=True):
        image = draw_panel(ax, audio, name)
        for i, note in enumerate(notes):
            y = band_position(float(midi_to_hz(note.pitch)))
            ax.plot([note.onset, note.offset], [y, y], color="cyan", linewidth=0.7, alpha=0.8,
                    label="labelled notes" if i == 0 else None)
    save_panels(path, fig, axes, image, title, dpi=100, force=force)
