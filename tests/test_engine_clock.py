"""The engine's worker, rings, dry fallback and late-block accounting on a simulated device clock (no audio
server): a stage that burns CPU makes CPU-bound late blocks; one that sleeps (a stalled core) makes late blocks
that are not the engine's work; the output is the wet signal on time and the dry input when late."""

from __future__ import annotations

import threading
import time

import numpy as np

from plugin_host.chain import Chain
from plugin_host.stage import Stage
from realtime.engine import Engine, EngineConfig

RATE, BLOCK = 48000, 256
PERIOD = BLOCK / RATE


class Hiccup(Stage):
    """Negates the signal (so wet and dry differ); every `every`-th block it burns CPU or sleeps `periods`."""

    kind = "hiccup"

    def __init__(self, how: str, every: int = 60, periods: float = 8.0) -> None:
        super().__init__("hiccup", RATE, [])
        self.how, self.every, self.periods, self.n = how, every, periods, 0

    def render(self, block: np.ndarray) -> np.ndarray:
        self.n += 1
        if self.n % self.every == 0:
            until = time.perf_counter() + self.periods * PERIOD
            if self.how == "burn":
                while time.perf_counter() < until:
                    pass
            else:
                time.sleep(self.periods * PERIOD)
        return -block


def run(how: str, blocks: int = 400) -> tuple[Engine, np.ndarray, np.ndarray]:
    engine = Engine(Chain([Hiccup(how)], RATE), EngineConfig(RATE, BLOCK, prefill=4))
    engine.start_worker()
    rng = np.random.default_rng(0)
    inputs = (0.1 * rng.standard_normal((blocks, BLOCK, 1))).astype(np.float32)
    outputs = np.zeros_like(inputs)

    def clock() -> None:
        start = time.perf_counter()
        for k in range(blocks):
            engine.callback(inputs[k], outputs[k], BLOCK, None, None)
            time.sleep(max(0.0, start + (k + 1) * PERIOD - time.perf_counter()))

    thread = threading.Thread(target=clock)
    thread.start()
    thread.join()
    engine.stop()
    return engine, inputs[:, :, 0], outputs[:, :, 0]


def test_cpu_bound_hiccups_are_the_engines_and_sleeping_ones_are_not() -> None:
    burn, _, _ = run("burn")
    assert burn.late > 0 and burn.late_cpu_bound() == burn.late_at
    sleep, _, _ = run("sleep")
    assert sleep.late > 0 and sleep.late_cpu_bound() == []
    assert sleep.skipped > 0  # after the stall the worker jumped to blocks that can still be on time


def test_on_time_blocks_are_wet_and_late_ones_dry() -> None:
    engine, inputs, outputs = run("sleep")
    p = engine.config.prefill
    late = set(engine.late_at)
    fade = engine.config.crossfade
    for k in range(p + 1, inputs.shape[0]):
        if k in late and k - 1 in late:
            np.testing.assert_array_equal(outputs[k], inputs[k])  # dry, already faded in
        elif k not in late and k - 1 not in late:
            np.testing.assert_array_equal(outputs[k], -inputs[k - p])  # wet, prefill blocks later
    first = min(late)
    assert np.all(np.abs(outputs[first, fade:] - inputs[first, fade:]) < 1e-7)  # after the crossfade: dry
