"""`latentbridge bench stream`: each preset's chain in the live engine, driven by a simulated device clock
(a thread that calls the engine's audio callback every block period with the bundled guitar phrase, looped,
at the device rate), so it runs on any machine without an audio server. Per preset: the added latency, the
worker's time per block as a fraction of the block period (mean, p99, max), late blocks, and the RSS growth
of the process over the run. All presets are measured in one run, one after another, `morph-tagged` included:
its tagger stage hands a snapshot to its own thread every 0.5 s, so that ONNX call shares the CPUs with the
worker but is not part of the worker's time per block.
"""

from __future__ import annotations

import resource
import threading
from typing import Any

import numpy as np

from export.core.audio_io import read_mono, resample
from export.onnx.bundled import BUNDLED_DIR
from plugin_host.presets import bundled_names, load_chain
from realtime import sim_clock
from realtime.engine import Engine, EngineConfig


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def phrase(rate: int) -> np.ndarray:
    return resample(read_mono(BUNDLED_DIR / "demo_guitar_phrase.wav"), 16000, rate).astype(np.float32)


def run_clock(engine: Engine, audio: np.ndarray, seconds: float) -> sim_clock.ClockRun:
    """Call `engine.callback` every block period for `seconds` with `audio` looped, as a sound card would (on the
    calling thread; a machine stall pauses this clock with the engine: see `realtime.sim_clock`)."""
    n = engine.config.blocksize
    return sim_clock.run(engine, sim_clock.Looped(audio, int(seconds * engine.config.samplerate / n), n), keep=False)


def bench_stream(presets: list[str] | None = None, seconds: float = 20.0, samplerate: int = 48000,
                 blocksize: int = 256, prefill: int = 4) -> list[dict[str, Any]]:
    rows = []
    audio = phrase(samplerate)
    for name in presets or bundled_names():
        chain = load_chain(name, samplerate)
        engine = Engine(chain, EngineConfig(samplerate, blocksize, prefill=prefill))
        engine.warm_up(load_chain(name, samplerate))
        before = rss_mb()
        engine.start_worker()
        clock = threading.Thread(target=run_clock, args=(engine, audio, seconds), name="clock")
        clock.start()
        clock.join()
        engine.stop()
        status = engine.status()
        rows.append({"preset": name, "seconds": seconds, "samplerate": samplerate, "blocksize": blocksize,
                     "prefill": prefill, "added_latency_ms": status["added_latency_ms"],
                     "chain_delay_samples": status["chain"]["delay_samples"],
                     "worker_fraction": status["worker_fraction"], "late_blocks": status["late_blocks"],
                     "blocks": status["blocks"], "realtime_priority": status["realtime_priority"],
                     "rss_growth_mb": round(rss_mb() - before, 2)})
    return rows
