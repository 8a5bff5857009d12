"""One style transfer end to end: build the method, run it over the content's windows, judge the result.

Content and style are 1-D float32 at 16 kHz. The report holds the losses per iteration (the mean over
windows), the Gram distance to the style before (the content) and after (the result, re-analysed), the
independent judge `moved` (how far the mean log-mel spectrum went from the content's toward the style's, which
no method optimises), the content kept (STOI for speech, CREPE pitch agreement for music) and the timings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.style.nsynth_transfer import NSynthStyle, NSynthStyleConfig
from models.style.spectral_transfer import RANDOM_CNN, STFT_GRAM, SpectralStyle
from models.style.windows import transfer_windows, window_starts

SAMPLE_RATE = 16000
METHODS = ("nsynth", "stft-gram", "random-cnn")


@dataclass(frozen=True)
class StyleSettings:
    method: str = "nsynth"
    iterations: int | None = None  # None: the method's default
    lr: float | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    style_loss: str = "gram"
    domain: str = "magnitude"  # nsynth: optimise the log-magnitude STFT, or the waveform (the seed's)
    layer_weights: tuple[float, ...] = ()
    envelope_weight: float | None = None  # nsynth: None = the domain's default
    boost_db: float | None = None  # nsynth magnitude domain: None = the default
    cut_db: float | None = None  # nsynth magnitude domain: None = the default
    filters: int = 4096
    window_s: float = 3.0
    overlap_s: float = 0.25
    content_kind: str = "music"  # or "speech"
    seed: int = 0


def _overrides(settings: StyleSettings) -> dict[str, Any]:
    values = {"iterations": settings.iterations, "lr": settings.lr, "content_weight": settings.content_weight,
              "style_weight": settings.style_weight, "seed": settings.seed}
    return {k: v for k, v in values.items() if v is not None}


def build_method(settings: StyleSettings, style: np.ndarray, device: str) -> NSynthStyle | SpectralStyle:
    if settings.method == "nsynth":
        from export.onnx.bundled import default_model
        from models.style.nsynth_features import EncoderActivations
        from models.training.checkpoint import load_model

        model, _ = load_model(default_model("autoencoder").path, "autoencoder")
        extra = {k: v for k, v in (("envelope_weight", settings.envelope_weight), ("boost_db", settings.boost_db),
                                    ("cut_db", settings.cut_db)) if v is not None}
        cfg = replace(NSynthStyleConfig(style_loss=settings.style_loss, layer_weights=settings.layer_weights,
                                        domain=settings.domain), **_overrides(settings), **extra)
        return NSynthStyle(EncoderActivations(model.encoder), style, cfg, device)  # type: ignore[arg-type]
    if settings.method in ("stft-gram", "random-cnn"):
        base = STFT_GRAM if settings.method == "stft-gram" else replace(RANDOM_CNN, filters=settings.filters)
        return SpectralStyle(style, replace(base, **_overrides(settings)), device)
    raise LatentbridgeError(f"unknown style method {settings.method!r} (choose {', '.join(METHODS)})")


def _mean_curve(curves: list[list[float]]) -> list[float]:
    n = max(len(c) for c in curves)
    padded = np.array([c + [c[-1]] * (n - len(c)) for c in curves])  # early-stopped windows hold their value
    return [float(v) for v in padded.mean(axis=0)]


def style_transfer(content: np.ndarray, style: np.ndarray, settings: StyleSettings,
                   show_progress: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """(result [len(content)] at 16 kHz, report)."""
    from models.style.judges import moved, pitch_agreement, stoi

    if settings.content_kind not in ("music", "speech"):
        raise LatentbridgeError(f"--content-kind must be music or speech, got {settings.content_kind!r}")
    for name, audio in (("content", content), ("style", style)):
        if audio.size < SAMPLE_RATE // 10:
            raise LatentbridgeError(f"the {name} is too short ({audio.size} samples at 16 kHz; needs >= 0.1 s)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.perf_counter()
    method = build_method(settings, style, device)
    window = int(settings.window_s * SAMPLE_RATE)
    overlap = int(settings.overlap_s * SAMPLE_RATE)
    windows = len(window_starts(content.size, window, overlap))
    iterations = method.cfg.iterations
    with bar(f"style {settings.method}", total=windows * iterations, unit="it") as progress:
        def one(chunk: np.ndarray) -> Any:
            done = [0]

            def step(i: int) -> None:
                progress.update(i - done[0])
                done[0] = i
            result = method.transfer(chunk, step if show_progress else None)
            progress.update(iterations - done[0])
            return result
        audio, results = transfer_windows(content, window, overlap, one)
    optimise_s = time.perf_counter() - start
    report: dict[str, Any] = {
        "method": settings.method, "settings": asdict(settings), "device": device, "windows": windows,
        "iterations": iterations, "content_loss": _mean_curve([r.content_loss for r in results]),
        "style_loss": _mean_curve([r.style_loss for r in results]),
        "gram_distance": {"before": method.gram_distance(content), "after": method.gram_distance(audio)},
        "moved": moved(content, style, audio), "seconds": round(optimise_s, 3)}
    first, last = report["style_loss"][0], report["style_loss"][-1]
    report["style_loss_fall"] = (1.0 - last / first) if first > 0 else None
    if settings.content_kind == "speech":
        report["stoi"] = stoi(content, audio)
    else:
        report["pitch_agreement"] = pitch_agreement(content, audio)
    report["seconds_total"] = round(time.perf_counter() - start, 3)
    return audio, report
