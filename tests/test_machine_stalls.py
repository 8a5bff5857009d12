"""The stall probe (realtime/native/stall_probe.c) sees a CPU held from it, and `MachineStalls` places stalls on
the block timeline and explains only the late blocks, xruns and overruns that follow them closely enough."""

from __future__ import annotations

import os
import threading
import time

import pytest
from realtime._stall_native import StallProbe

from realtime.callback import realtime_priority
from realtime.machine_stalls import PROBE_PERIOD_MS, PROBE_PRIORITY, THRESHOLD_MS, MachineStalls


def hold_cpu(cpu: int, seconds: float, result: list[bool]) -> None:
    """Spin on `cpu` under SCHED_FIFO over the probe's level for `seconds` (the stall), then drop back."""
    os.sched_setaffinity(0, {cpu})
    result.append(realtime_priority(PROBE_PRIORITY + 5))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_a_cpu_held_for_30_ms_is_seen_as_30_ms_of_stalls_on_that_cpu() -> None:
    probe = StallProbe(PROBE_PRIORITY, THRESHOLD_MS, PROBE_PERIOD_MS)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    probe.start()
    try:
        time.sleep(0.2)
        if not probe.realtime:
            pytest.skip("SCHED_FIFO is not allowed here: the probe cannot tell a stall from a busy CPU")
        result: list[bool] = []
        holder = threading.Thread(target=hold_cpu, args=(cpu, 0.03, result))
        began = time.perf_counter()
        holder.start()
        holder.join()
        time.sleep(0.1)
    finally:
        probe.stop()
    assert result == [True] and probe.cpus == len(os.sched_getaffinity(0))
    assert probe.wakeups > 0.25 * probe.cpus / (PROBE_PERIOD_MS / 1000)  # ~1 kHz per CPU for 0.3 s
    mine = [ms for s, ms, c in probe.stalls if c == cpu and s >= began - 0.01]
    assert 1 <= len(mine) <= 3 and 25.0 <= sum(mine) <= 60.0, probe.stalls  # one, or split by a wake-up


def placed(*stalls: tuple[int, float]) -> MachineStalls:
    machine = MachineStalls(period=256 / 48000, prefill=4, realtime=True)
    machine.placed = list(stalls)
    return machine


def test_a_long_stall_explains_what_follows_it_within_the_write_ahead() -> None:
    machine = placed((100, 18.0))  # 18 ms = 4 blocks of 5.33 ms
    assert [b for b in range(90, 130) if machine.explains_late(b)] == list(range(98, 115))
    assert [b for b in range(90, 130) if machine.explains_xrun(b)] == list(range(98, 108))
    report = machine.report(late=[97, 110, 120], xruns=[101, 200], overruns=[99])
    assert report["late_blocks"] == [110] and report["xruns"] == [101] and report["callback_overruns"] == [99]


def test_a_short_stall_explains_an_xrun_but_not_a_late_block() -> None:
    machine = placed((100, 5.0))  # under half the 21.3 ms write-ahead
    assert machine.explains_xrun(101) and not machine.explains_late(101)
    assert placed((100, 5.0), (103, 6.0)).explains_late(104)  # two of them add up


def test_without_sched_fifo_nothing_is_explained() -> None:
    machine = placed((100, 18.0))
    machine.realtime = False
    assert not machine.explains_late(104) and not machine.explains_xrun(101)
