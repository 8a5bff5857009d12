"""The engine's worker, rings, dry fallback and late-block accounting on the simulated device clock
(`realtime.sim_clock`: no audio server; it pauses with the machine, so what it shows is the engine's own doing).

The strict line runs here, deterministic: the default preset keeps up with no late block and no callback overrun,
and every block it played is its chain's output, sample for sample. A stage that burns CPU makes CPU-bound late
blocks, one that sleeps (a stalled core) late blocks that are not the engine's work; both play the input dry with
crossfades. A device stall (the clock held, then catching up) makes late blocks beside the gap the callback
measured. The checks the JACK session makes on a stalling machine (`live_checks`) are shown to fire where they
must: on late blocks the engine made itself, and on late blocks past the 64 the engine lists."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from jack_player import plucks
from live_checks import check_engine_kept_up, check_every_block_played, check_late_blocks_beside_stalls

from plugin_host.chain import Chain
from plugin_host.presets import load_chain
from plugin_host.stage import Stage
from realtime import sim_clock
from realtime.engine import Engine, EngineConfig

RATE, BLOCK, PREFILL = 48000, 256, 4
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


class Run:
    """One engine run on the simulated clock: the engine, its status before and after, the input and the output
    (mono, from block 0 on)."""

    def __init__(self, engine: Engine, inputs: np.ndarray, stall: tuple[int, float] | None = None) -> None:
        engine.start_worker()
        self.first = engine.status()
        self.clock = sim_clock.play(engine, inputs, stall)
        played = self.clock.played
        deadline = time.monotonic() + 10.0  # the worker finishes what it was given (the input has stopped)
        while engine.next_block < inputs.shape[0] and time.monotonic() < deadline:
            time.sleep(PERIOD)
        engine.stop()
        assert played is not None
        self.engine, self.last = engine, engine.status()
        self.dry, self.played = inputs[:, :, 0].reshape(-1), played[:, :, 0].reshape(-1)
        self.blocks = inputs.shape[0]


def noise(blocks: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((blocks, BLOCK, 1))).astype(np.float32)


def hiccups(how: str, blocks: int = 400, stall: tuple[int, float] | None = None, every: int = 60) -> Run:
    return Run(Engine(Chain([Hiccup(how, every)], RATE), EngineConfig(RATE, BLOCK, prefill=PREFILL)), noise(blocks),
               stall)


def test_the_default_preset_keeps_up_and_plays_its_chain_block_for_block() -> None:
    """The strict line: 10 s of the default preset, no late block, no callback overrun (the engine's totals; one
    the clock saw waiting rather than working is the machine's, `sim_clock.ClockRun.held`), every block after the
    write-ahead the chain's output for the input `prefill` blocks before, bit for bit."""
    blocks = int(10.0 * RATE / BLOCK)
    inputs = plucks(11.0)[: blocks * BLOCK].reshape(blocks, BLOCK, 1)
    engine = Engine(load_chain("morph-reed", RATE), EngineConfig(RATE, BLOCK, prefill=PREFILL))
    engine.warm_up(load_chain("morph-reed", RATE))
    run = Run(engine, inputs)
    print(f"clock on CPU {run.clock.cpu}, paused {run.clock.pauses} times with the machine, callbacks held at "
          f"{run.clock.held}")
    check_engine_kept_up(run.first, run.last, held=run.clock.held)
    assert check_every_block_played(run.last, run.dry, run.played, PREFILL + 1, blocks) == []
    offline = load_chain("morph-reed", RATE)  # primed as the engine's chain was, then fed the same blocks
    offline.prime(BLOCK, engine.primed_samples // BLOCK)
    wet = np.concatenate([offline.process(block[:, 0]) for block in inputs[: blocks - PREFILL]])
    np.testing.assert_array_equal(run.played[(PREFILL + 1) * BLOCK:], wet[BLOCK:])
    assert np.sqrt(np.mean(wet ** 2)) > 0.01


def test_cpu_bound_hiccups_are_the_engines_and_sleeping_ones_are_not() -> None:
    burn = hiccups("burn").engine
    assert burn.late > 0 and burn.late_cpu_bound() == burn.late_at
    sleep = hiccups("sleep").engine
    assert sleep.late > 0 and sleep.late_cpu_bound() == []
    assert sleep.skipped > 0  # after the stall the worker jumped to blocks that can still be on time


def test_on_time_blocks_are_wet_and_late_ones_dry_with_crossfades() -> None:
    run = hiccups("sleep")
    late = check_every_block_played(run.last, run.dry, run.played, PREFILL + 1, run.blocks)
    assert late == run.engine.late_at and len(late) >= 10
    dry, played = run.dry.reshape(-1, BLOCK), run.played.reshape(-1, BLOCK)
    for k in range(PREFILL + 1, run.blocks):
        if k not in late and k - 1 not in late:
            np.testing.assert_array_equal(played[k], -dry[k - PREFILL])  # wet, prefill blocks later
    # a sleeping stage's late blocks look like a held worker to the JACK session's check (no CPU time of its own,
    # as when the machine holds the worker's CPU): the strict line on this clock, which ran on time, catches them
    assert check_late_blocks_beside_stalls(run.last, PREFILL + 1, run.blocks) == late
    with pytest.raises(AssertionError, match="late blocks in"):
        check_engine_kept_up(run.first, run.last)
    # a stage whose work outlasts the write-ahead is the engine's own fault: both checks catch it
    burn = hiccups("burn")
    with pytest.raises(AssertionError, match="exceeded the write-ahead and no device-clock gap"):
        check_late_blocks_beside_stalls(burn.last, PREFILL + 1, burn.blocks)
    with pytest.raises(AssertionError, match="late blocks in"):
        check_engine_kept_up(burn.first, burn.last)


def test_a_device_stall_makes_late_blocks_beside_its_gap_played_dry() -> None:
    """The clock stops for 12 periods before block 200, then plays the 13 blocks due by then back to back: the
    write-ahead covers the first `prefill` of them, the rest are late, next to the gap the callback measured."""
    run = hiccups("sleep", stall=(200, 12), every=10**9)
    assert 200 in [g for g, _ in run.last["callback_gaps_ms"]]
    late = check_late_blocks_beside_stalls(run.last, PREFILL + 1, run.blocks)
    assert late == list(range(200 + PREFILL, 200 + 13)), late
    assert check_every_block_played(run.last, run.dry, run.played, PREFILL + 1, run.blocks) == late
    with pytest.raises(AssertionError, match="late blocks in"):
        check_engine_kept_up(run.first, run.last)


def status(blocks: int, late: int, late_at: list[int], overruns: int = 0, overrun_at: list[int] | None = None) -> dict:
    return {"blocks": blocks, "late_blocks": late, "late_at_block": late_at, "callback_overrun_count": overruns,
            "callback_overruns": overrun_at or [], "xruns": 0, "xrun_at_block": [], "callback_gaps_ms": [],
            "worker_fraction": {}}


def test_the_strict_check_counts_late_blocks_past_the_64_the_engine_lists() -> None:
    """The engine lists the first 64 late blocks; the strict check compares its totals at the window's ends, so a
    65th late block inside the window fails it though no listed one lies there."""
    early = list(range(100, 164))
    first = status(2000, 64, early)
    check_engine_kept_up(first, status(4000, 64, early))
    with pytest.raises(AssertionError, match="1 late blocks in"):
        check_engine_kept_up(first, status(4000, 65, early))
    with pytest.raises(AssertionError, match="1 callback overruns in"):
        check_engine_kept_up(first, status(4000, 64, early, overruns=1))


def test_callback_overruns_pass_only_where_the_clock_saw_the_callback_wait() -> None:
    """An overrun whose callback the simulated clock saw waiting (over half a period of wall time, under half of
    CPU time) is the machine's; one it did not see so, or one the engine did not list, still fails."""
    first = status(2000, 0, [])
    check_engine_kept_up(first, status(4000, 0, [], overruns=1, overrun_at=[2500]), held=[2500, 3100])
    with pytest.raises(AssertionError, match="2 callback overruns in"):
        check_engine_kept_up(first, status(4000, 0, [], overruns=2, overrun_at=[2500, 2600]), held=[2500])
    with pytest.raises(AssertionError, match="1 callback overruns in"):
        check_engine_kept_up(first, status(4000, 0, [], overruns=1, overrun_at=[1500]), held=[1500])  # before


class WaitingCallback:
    """Enough of an engine for the clock: its callback sleeps two periods in block 5 (it waits) and burns two in
    block 10 (it works)."""

    def __init__(self) -> None:
        self.config = EngineConfig(RATE, BLOCK, prefill=PREFILL)
        self.counts, self._worker = self, None
        self.seq = 0

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, when: object, flags: object) -> None:
        if self.seq == 5:
            time.sleep(2 * PERIOD)
        elif self.seq == 10:
            until = time.perf_counter() + 2 * PERIOD
            while time.perf_counter() < until:
                pass
        outdata[:] = indata
        self.seq += 1


def test_the_clock_lists_a_callback_that_waited_and_not_one_that_worked() -> None:
    clock = sim_clock.run(WaitingCallback(), list(noise(16)), keep=False)  # type: ignore[arg-type]
    assert 5 in clock.held and 10 not in clock.held


@pytest.mark.parametrize("preset", ["poly-morph", "morph-wavenet", "morph-lpc"])
def test_the_poly_and_wavenet_presets_play_their_chain_block_for_block_until_any_late_block(preset: str) -> None:
    """`poly-morph` (six voices, the tracker), `morph-wavenet` and `morph-lpc` (the native WaveNet kernel, plain and
    in LPC mode, in the worker) in the engine equal the same chain fed the same blocks offline, bit for bit, over
    every block played before the first late one (a late block makes the worker skip input, after which the two
    chains' states differ; how fast this machine is decides whether one comes, so it is not asserted here: `bench
    stream` measures that)."""
    blocks = int(6.0 * RATE / BLOCK)
    inputs = plucks(7.0)[: blocks * BLOCK].reshape(blocks, BLOCK, 1)
    engine = Engine(load_chain(preset, RATE), EngineConfig(RATE, BLOCK, prefill=PREFILL))
    engine.warm_up(load_chain(preset, RATE))
    run = Run(engine, inputs)
    late = run.last["late_at_block"]
    until = min([blocks, *late]) - PREFILL  # input blocks whose output played before the first late block
    offline = load_chain(preset, RATE)
    offline.prime(BLOCK, engine.primed_samples // BLOCK)
    wet = np.concatenate([offline.process(block[:, 0]) for block in inputs[:until]])
    np.testing.assert_array_equal(run.played[(PREFILL + 1) * BLOCK: (until + PREFILL) * BLOCK], wet[BLOCK:])
    print(f"compared {until - 1} blocks; late blocks at {late}")


def test_one_episode_of_cpu_bound_late_blocks_is_the_machines_two_are_the_engines() -> None:
    """The JACK session's check on made-up statuses (prefill 4 at 48 kHz / 256): CPU-bound late blocks with no
    device-clock gap beside them pass as one episode (within 2 * prefill blocks), fail as two."""
    def made_up(late: list[int]) -> dict:
        return {"blocksize": 256, "samplerate": 48000, "added_latency_samples": 4 * 256, "chain": {"delay_samples": 0},
                "callback_gaps_ms": [], "late_at_block": late, "late_blocks": len(late), "late_cpu_bound": late}

    assert check_late_blocks_beside_stalls(made_up([6637, 6639, 6640]), 100, 11000) == [6637, 6639, 6640]
    with pytest.raises(AssertionError, match="in 2 episodes"):
        check_late_blocks_beside_stalls(made_up([6637, 6700]), 100, 11000)


def test_the_clock_reports_the_cpu_it_was_pinned_to_not_a_time() -> None:
    clock = sim_clock.run(WaitingCallback(), list(noise(2)), keep=False)  # type: ignore[arg-type]
    assert clock.cpu is None or (isinstance(clock.cpu, int) and 0 <= clock.cpu < (os.cpu_count() or 1))
