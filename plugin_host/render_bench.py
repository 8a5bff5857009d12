"""`latentbridge bench render`: offline rendering speed, measured side by side in one run.

1. One stereo 44.1 kHz stem (default 3 minutes: the bundled guitar phrase looped, the right channel a
   quieter copy delayed by 3 ms so both channels are really rendered) through a preset, its two channels in
   two processes: wall time and real-time factor in the live block size (256: bit-identical to the engine)
   and in blocks of 4096 (the neural stages run 32 control frames per ONNX call).
2. Scaling: `stems` mono stems of `stem_seconds` each with 1 worker process and with one per core.
The rendered audio's rate, channel count and length are checked against the input's in the same run.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from export.core.audio_io import read_audio, read_mono, resample, write_audio
from export.onnx.bundled import BUNDLED_DIR
from plugin_host.presets import read_preset
from plugin_host.render import RenderSettings, render_audio


def _stem(seconds: float, rate: int = 44100) -> np.ndarray:
    phrase = resample(read_mono(BUNDLED_DIR / "demo_guitar_phrase.wav"), 16000, rate)
    frames = int(seconds * rate)
    left = np.resize(phrase, frames).astype(np.float32)
    right = 0.7 * np.concatenate([np.zeros(int(0.003 * rate), np.float32), left])[:frames]
    return np.stack([left, right])


def _render_channel(args: tuple[dict[str, Any], np.ndarray, int, int]) -> np.ndarray:
    preset, audio, rate, blocksize = args
    return render_audio(preset, audio[None], rate, RenderSettings(blocksize=blocksize))[0]


def _render_file(args: tuple[dict[str, Any], str]) -> float:
    preset, path = args
    audio, rate = read_audio(path)
    start = time.perf_counter()
    render_audio(preset, audio, rate, RenderSettings())
    return time.perf_counter() - start


def bench_render(preset_name: str = "morph-reed", seconds: float = 180.0, stems: int = 8,
                 stem_seconds: float = 10.0) -> dict[str, Any]:
    preset = read_preset(preset_name)
    rate = 44100
    audio = _stem(seconds, rate)
    cores = os.cpu_count() or 1
    context = get_context("spawn")
    walls, shapes = {}, {}
    for blocksize in (256, 4096):
        start = time.perf_counter()
        with ProcessPoolExecutor(min(2, cores), mp_context=context) as pool:
            channels = list(pool.map(_render_channel, [(preset, audio[c], rate, blocksize) for c in range(2)]))
        walls[blocksize] = time.perf_counter() - start
        out = np.stack(channels)
        shapes[blocksize] = [list(out.shape), str(out.dtype), bool(np.isfinite(out).all())]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(stems):
            path = Path(tmp) / f"stem{i}.wav"
            write_audio(path, _stem(stem_seconds, rate)[:1] * (0.5 + 0.05 * i), rate, "wav24")
            paths.append(str(path))
        timings = {}
        for workers in sorted({1, cores}):
            start = time.perf_counter()
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                list(pool.map(_render_file, [(preset, p) for p in paths]))
            timings[workers] = time.perf_counter() - start
    return {
        "preset": preset_name, "stem_seconds": seconds, "sample_rate": rate, "channels": 2,
        "shape_kept": all(s == [list(audio.shape), "float32", True] for s in shapes.values()),
        "output_shapes": {str(b): s for b, s in shapes.items()},
        "wall_s": {str(b): round(w, 2) for b, w in walls.items()},
        "realtime_factor": {str(b): round(seconds / w, 2) for b, w in walls.items()},
        "scaling": {"stems": stems, "stem_seconds": stem_seconds,
                    "wall_s": {str(w): round(t, 2) for w, t in timings.items()},
                    "speedup": round(timings[1] / timings[max(timings)], 2), "cores": cores},
    }
