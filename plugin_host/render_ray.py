"""`render --ray ADDRESS`: stems rendered as Ray tasks, on a cluster or on a local Ray instance (`local`).

The driver reads every stem and writes every output; a task gets the decoded audio (through Ray's object
store) and returns the rendered audio, so workers need latentbridge installed but no shared file system.
Audio is float32 (channels, frames) at the stem's own rate, as in `plugin_host.render`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from plugin_host.render import RenderSettings


def _render_task(preset: dict[str, Any], audio: np.ndarray, rate: int, settings: RenderSettings,
                 seed: int) -> tuple[np.ndarray, float]:
    from plugin_host.render import render_audio

    np.random.seed(seed)
    start = time.perf_counter()
    return render_audio(preset, audio, rate, settings), time.perf_counter() - start


def connect(address: str, workers: int) -> Any:
    """ray, initialised: `local` starts a Ray instance on this machine with `workers` CPUs (0: all)."""
    try:
        import ray
    except ImportError as exc:
        raise LatentbridgeError("--ray needs Ray: pip install 'latentbridge[ray]'") from exc
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(num_cpus=workers or None, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise LatentbridgeError(f"--ray {address}: cannot connect ({' '.join(str(exc).split())[:200]})") from exc
    return ray


def render_on_ray(ray: Any, jobs: list[tuple[np.ndarray, int]], preset: dict[str, Any], settings: RenderSettings,
                  seed: int, done: Callable[[int, np.ndarray, float], None]) -> None:
    """Render each (audio, rate) as one task; `done(index, rendered, seconds)` as each finishes (any order)."""
    task = ray.remote(num_cpus=1)(_render_task)
    pending = {task.remote(preset, ray.put(audio), rate, settings, seed): i for i, (audio, rate) in enumerate(jobs)}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            try:
                rendered, seconds = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), LatentbridgeError) else None
                raise cause or LatentbridgeError(f"a Ray task failed: {str(exc).splitlines()[0]}") from exc
            done(pending.pop(ref), rendered, seconds)
