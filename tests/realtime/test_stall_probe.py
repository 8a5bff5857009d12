"""The stall probe (realtime/native/stall_probe.c) sees a CPU held from it for as long as it was held, and
`latentbridge bench stalls` reports what it saw per CPU."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from realtime._stall_native import StallProbe

from export.app.cli import main
from realtime.callback import realtime_priority
from realtime.stall_bench import BUCKETS_MS, PERIOD_MS, PRIORITY


def hold_cpu(cpu: int, seconds: float, result: list[bool]) -> None:
    """Spin on `cpu` under SCHED_FIFO over the probe's level for `seconds` (the stall), then drop back."""
    os.sched_setaffinity(0, {cpu})
    result.append(realtime_priority(PRIORITY + 5))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_a_cpu_held_for_30_ms_is_seen_as_30_ms_of_stalls_on_that_cpu() -> None:
    probe = StallProbe(PRIORITY, 4.0, PERIOD_MS)  # over this VM's idle jitter (up to 2.7 ms)
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
    assert probe.wakeups > 0.25 * probe.cpus / (PERIOD_MS / 1000)  # ~1 kHz per CPU for 0.3 s
    mine = [ms for s, ms, c in probe.stalls if c == cpu and s >= began - 0.01]
    assert 1 <= len(mine) <= 3 and 25.0 <= sum(mine) <= 60.0, probe.stalls  # one, or split by a wake-up


def test_bench_stalls_reports_every_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "stalls", "--seconds", "0.5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["cpu"] for r in report["cpus"]] == sorted(os.sched_getaffinity(0))
    assert report["wakeups"] > 0.3 * len(report["cpus"]) * 1000 / PERIOD_MS
    for row in report["cpus"]:
        counts = list(row["over_ms"].values())
        assert list(row["over_ms"]) == [f"{b:g}" for b in BUCKETS_MS] and counts == sorted(counts, reverse=True)
        assert row["max_ms"] <= report["max_ms"] and (row["max_ms"] > BUCKETS_MS[0]) == (counts[0] > 0)
    assert main(["bench", "stalls", "--seconds", "0.2"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[0] == "cpu"


def test_bench_stalls_probes_only_the_cpus_it_may_run_on(capsys: pytest.CaptureFixture[str]) -> None:
    allowed = os.sched_getaffinity(0)
    last = max(allowed)
    os.sched_setaffinity(0, {last})  # this thread, which creates the probe's threads
    try:
        assert main(["bench", "stalls", "--seconds", "0.2", "--json"]) == 0
    finally:
        os.sched_setaffinity(0, allowed)
    report = json.loads(capsys.readouterr().out)
    assert [r["cpu"] for r in report["cpus"]] == [last]
    assert 0.1 * 1000 / PERIOD_MS < report["wakeups"] <= 0.25 * 1000 / PERIOD_MS  # one thread, not one per CPU
