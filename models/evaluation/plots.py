"""Eval plots (PNG, Matplotlib's Agg canvas, written atomically): spectrograms of original vs each decoder,
the interpolation check's family probabilities, and the tagger's per-tag ROC-AUC bars.

Spectrograms are the log-mel dBFS of `export.core.spectrogram` (16 kHz, 1024-point FFT, hop 256, 80 bands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.spectrogram import DB_RANGE, N_MELS, log_mel
from models.data.nsynth_reader import NSynthExample


def _save(fig: Any, path: Path) -> Path:
    with atomic_output(path, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def reconstruction_grid(variants: dict[str, np.ndarray], notes: list[NSynthExample], path: Path,
                        count: int = 4) -> Path:
    """Rows: `count` notes spread over the list; columns: the variants (original first)."""
    from matplotlib.figure import Figure

    picks = sorted({round(k * (len(notes) - 1) / max(count - 1, 1)) for k in range(min(count, len(notes)))})
    fig = Figure(figsize=(3.2 * len(variants), 2.4 * len(picks)), layout="constrained")
    axes = fig.subplots(len(picks), len(variants), squeeze=False)
    image = None
    for row, i in enumerate(picks):
        for col, (name, audio) in enumerate(variants.items()):
            ax = axes[row, col]
            image = ax.imshow(log_mel(audio[i]), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0],
                              vmax=DB_RANGE[1], extent=(0.0, audio.shape[1] / MODEL_RATE, 0, N_MELS))
            ax.set_title(f"{name}\n{notes[i].instrument_str} p{notes[i].pitch}", fontsize=8)
            ax.tick_params(labelsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes, label="dBFS (mel bands)", shrink=0.6)
    return _save(fig, path)


def interpolation_curve(result: dict[str, Any], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(result["alphas"], result["p_family_a"], "o-", label="P(family of A)")
    ax.plot(result["alphas"], result["p_family_b"], "s-", label="P(family of B)")
    ax.set_xlabel("interpolation amount (0 = A, 1 = B)")
    ax.set_ylabel("note classifier probability")
    ax.set_ylim(0, 1)
    ax.set_title(f"latent interpolation, mean of {result['pairs']} pairs", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def tag_auc_bars(result: dict[str, Any], path: Path, baseline: dict[str, Any] | None = None,
                 baseline_name: str = "old") -> Path:
    """Per-tag ROC-AUC bars, worst first; with `baseline` (another eval tagger report) its AUC of the same tags
    beside each bar, and its macro over its own tags as a second line."""
    from matplotlib.figure import Figure

    tags = sorted(result["roc_auc"], key=lambda t: result["roc_auc"][t])
    fig = Figure(figsize=(6, (0.34 if baseline else 0.22) * len(tags) + 1.2), layout="constrained")
    ax = fig.subplots()
    rows = np.arange(len(tags), dtype=float)
    height = 0.4 if baseline else 0.8
    ax.barh(rows + (height / 2 if baseline else 0.0), [result["roc_auc"][t] for t in tags], height=height,
            color="tab:blue", label="new" if baseline else None)
    ax.axvline(result["macro_roc_auc"], color="black", linestyle="--", linewidth=0.8,
               label=f"macro {result['macro_roc_auc']:.3f}")
    if baseline:
        old = baseline["roc_auc"]
        ax.barh(rows - height / 2, [old.get(t, np.nan) for t in tags], height=height, color="tab:gray",
                label=baseline_name)
        ax.axvline(baseline["macro_roc_auc"], color="tab:gray", linestyle=":", linewidth=0.8,
                   label=f"{baseline_name} macro {baseline['macro_roc_auc']:.3f} ({len(old)} tags)")
    ax.set_yticks(rows, tags)
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("ROC-AUC on held-out clips")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=8)
    return _save(fig, path)


def interpolation_grid(audio: np.ndarray, alphas: list[float], title: str, path: Path) -> Path:
    """Spectrograms of one latent path A -> B, one panel per interpolation amount."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.6 * len(alphas), 2.6), layout="constrained")
    axes = fig.subplots(1, len(alphas), squeeze=False)[0]
    for ax, alpha, clip in zip(axes, alphas, audio, strict=True):
        ax.imshow(log_mel(clip), origin="lower", aspect="auto", cmap="magma", vmin=DB_RANGE[0], vmax=DB_RANGE[1],
                  extent=(0.0, clip.shape[0] / MODEL_RATE, 0, N_MELS))
        ax.set_title(f"amount {alpha:g}", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def latent_trajectories(latents: list[np.ndarray], labels: list[str], path: Path) -> Path:
    """Each note's z [Z, frames] as a heat map (dimensions x time, 32 ms per frame)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.0 * len(latents), 2.8), layout="constrained")
    axes = fig.subplots(1, len(latents), squeeze=False)[0]
    limit = max(float(np.abs(z).max()) for z in latents) or 1.0
    image = None
    for ax, z, label in zip(axes, latents, labels, strict=True):
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="coolwarm", vmin=-limit, vmax=limit,
                          extent=(0.0, z.shape[1] * 0.032, 0, z.shape[0]))
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.set_ylabel("latent dimension", fontsize=7)
        ax.tick_params(labelsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8)
    return _save(fig, path)
