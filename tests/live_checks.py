"""Checks of a live-engine run, shared by the engine tests on the simulated device clock (test_engine_clock), the
JACK session (test_live_session) and the soak (test_soak). A run is judged on the engine's status (`Engine.status()`
or the status JSON of `latentbridge live`) and on what it played: mono float32 at the device rate from block 0 on,
the output and the input side by side (the engine's two recordings, or what the simulated clock kept and fed).

- `check_engine_kept_up(first, last)`, the strict line: no late block and no callback overrun between two status
  readings, from the engine's total counters (its lists keep only the first 64 block numbers). It must hold on the
  simulated device clock, which pauses with the machine, and on a real server when the machine does not stall
  (the JACK soak, `-m soak`).
- What a machine that stalls still guarantees (the default JACK session): `check_every_block_played` (every input
  block was recorded, consumed by the worker and played, wet or, when late, dry with a crossfade: the blocks played
  dry are exactly the late ones) and `check_late_blocks_beside_stalls` (each late block lies next to a device-clock
  gap the callback measured, or the worker was held from its CPU rather than slow).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from realtime.callback import LISTED
from realtime.engine import EngineConfig

Status = dict[str, Any]


def prefill_of(status: Status) -> int:
    """The engine's write-ahead in blocks (its added latency less the chain's own delay)."""
    return (status["added_latency_samples"] - status["chain"]["delay_samples"]) // status["blocksize"]


def window_totals(first: Status, last: Status) -> dict[str, int]:
    """Blocks, late blocks, callback overruns and xruns between two status readings of one run (totals)."""
    return {"blocks": last["blocks"] - first["blocks"], "late": last["late_blocks"] - first["late_blocks"],
            "overruns": last["callback_overrun_count"] - first["callback_overrun_count"],
            "xruns": last["xruns"] - first["xruns"]}


def check_engine_kept_up(first: Status, last: Status, server: Any = None, held: Sequence[int] = ()) -> None:
    """No late block and no callback overrun between the status readings `first` and `last`: an engine whose
    callback blocks or overruns fails on the overruns, one that cannot keep up on the late blocks. Overruns at
    blocks in `held` (the simulated clock's list of callbacks that waited rather than worked: the machine or the
    interpreter lock held them) are the machine's and pass; only listed overruns can be passed so.

    Xruns are printed with what explains them, not asserted: a device-clock gap (the callback, the
    highest-priority thread here, was not called for > 2.5 block periods: the whole VM stalled, and JACK then names
    every client late), or, in `server` (the JACK server's log of the stretch), one of the server's own late timer
    wake-ups. This VM has xruns without the engine: the dummy server and the C test player alone logged 5 in 120 s,
    while the stall probe of `latentbridge bench stalls` beside them saw 12 stalls of 4-8 ms.
    """
    totals = window_totals(first, last)
    start, end = first["blocks"], last["blocks"]
    xruns = [b for b in last["xrun_at_block"] if start <= b < end]
    gaps = [g for g, _ in last["callback_gaps_ms"] if start <= g < end]
    unexplained = [x for x in xruns if not any(abs(x - g) <= 2 for g in gaps)]
    print(f"blocks [{start}, {end}): {totals}; late blocks listed {[b for b in last['late_at_block'] if b >= start]}, "
          f"device-clock gaps {last['callback_gaps_ms']}, xruns {xruns} ({unexplained} without a gap), "
          f"worker {last['worker_fraction']}, server {server}")
    assert totals["blocks"] > 0, "no block between the two readings"
    assert totals["late"] == 0, f"{totals['late']} late blocks in [{start}, {end})"
    excused = [b for b in last.get("callback_overruns", []) if start <= b < end and b in held]
    if excused:
        print(f"callback overruns at {excused}: the callback waited there without working (held)")
    assert totals["overruns"] - len(excused) == 0, f"{totals['overruns']} callback overruns in [{start}, {end})"


def late_blocks_in(status: Status, start: int, end: int) -> list[int]:
    """The late blocks in [start, end), from the status of a stopped engine. Fails where the engine's list (the
    first 64 late blocks) may miss some of them, or disagrees with its total count."""
    late = status["late_at_block"]
    if len(late) < LISTED:
        assert status["late_blocks"] == len(late), ("late blocks counted and listed differ",
                                                     status["late_blocks"], late)
    else:
        assert late[-1] >= end - 1, (f"{status['late_blocks']} late blocks: the engine lists only the first "
                                     f"{LISTED} (up to block {late[-1]}), so those up to block {end} cannot be told")
    return [b for b in late if start <= b < end]


def check_every_block_played(status: Status, dry: np.ndarray, played: np.ndarray, start: int, end: int,
                             fade: int = EngineConfig.crossfade) -> list[int]:
    """Every input block reached the engine and was played, in blocks [start, end) of a stopped engine's run;
    `dry` is the mono input, `played` the output, both from block 0 on. Returns the late blocks of the window.

    - Both sides hold exactly `blocks` blocks (none lost or repeated on the way in or out), and the worker
      processed or skipped every input block but the last write-ahead's (it kept going to the end).
    - A late block plays the dry input: from sample `fade` (the engine's crossfade) on exactly, and before it a
      fade from the last sample played (when the block before was wet) or the dry input too (when it was late).
    - The block after a late one fades back in from the dry input: its first sample is the dry one.
    - A block that is not late and has sound in its input past the crossfade did not play the dry input there: it
      played the chain's output (no chain of the presets passes 200 samples through bit for bit, and the
      write-ahead alone moves them). So the blocks played dry are exactly the late ones.
    """
    n, prefill = status["blocksize"], prefill_of(status)
    assert dry.shape == played.shape == (status["blocks"] * n,), (dry.shape, played.shape, status["blocks"])
    assert 0 <= status["blocks"] - (status["processed"] + status["skipped"]) <= prefill, (
        "input blocks the worker never processed nor skipped", status["blocks"], status["processed"],
        status["skipped"])
    assert prefill < start < end <= status["blocks"], (start, end)
    late = late_blocks_in(status, start, end)
    is_late = set(late_blocks_in(status, start - 1, end))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)  # the head of Engine.fade_in
    for k in range(start, end):
        head, tail = slice(k * n, k * n + fade), slice(k * n + fade, (k + 1) * n)
        if k in is_late:
            np.testing.assert_array_equal(played[tail], dry[tail], err_msg=f"late block {k} did not play the input")
            if k - 1 in is_late:
                expected = dry[head]
            else:  # from the last wet sample into the dry input
                expected = played[k * n - 1] * (np.float32(1.0) - ramp) + dry[head] * ramp
            np.testing.assert_array_equal(played[head], expected, err_msg=f"the crossfade into late block {k}")
        else:
            if k - 1 in is_late:
                assert played[k * n] == dry[k * n], f"block {k} after a late one does not fade in from the input"
            if np.any(dry[tail] != 0.0):
                assert not np.array_equal(played[tail], dry[tail]), f"block {k} is not late but played dry"
    return late


def wet_mask(status: Status, samples: int, fade: int = EngineConfig.crossfade) -> np.ndarray | None:
    """Per output sample of a stopped engine's run: False where the chain's output went unheard (a late block, and
    the first `fade` samples of the block after it, which fade back in from the dry input: what
    `check_every_block_played` verifies), True elsewhere. None where the engine counted more late blocks than it
    lists, so the wet audio is not known."""
    late, n = status["late_at_block"], status["blocksize"]
    if status["late_blocks"] > len(late):
        return None
    wet = np.ones(samples, bool)
    for block in late:
        wet[block * n: (block + 1) * n + fade] = False
    return wet


def check_late_blocks_beside_stalls(status: Status, start: int, end: int) -> list[int]:
    """Each late block in [start, end) of a stopped engine's run came from the machine, not from the engine's own
    work: it lies next to a device-clock gap the callback measured (its callbacks more than 2.5 block periods
    apart: the machine held the callback's thread or the audio server's), or the worker's own CPU time over the
    2 * prefill blocks before it stayed under the write-ahead (`late_cpu_bound` in the status: a worker that was
    held from its CPU, not one whose work took too long). Returns the late blocks of the window.

    A block the worker's work made late fails (its CPU time exceeds the write-ahead, and no stall explains it);
    a worker that blocks on a lock or sleeps passes here and is caught by the strict line on the simulated device
    clock, which pauses with the machine (tests/realtime/test_engine_clock.py). Both kinds of machine stall occur
    on these VMs: of the whole VM (both CPUs for 15-18 ms: the callback's gap lies beside the late block, `b` is
    beside a gap of `ms` recorded at block `g`, the first callback after it, when
    g - prefill <= b <= g + ceil(ms / period) + prefill), and of the worker's CPU alone (a clean-clone CI run of
    2026-12-05 had one late block with no gap at all while the callback ran on time).

    One episode of CPU-bound late blocks without a gap (late blocks within 2 * prefill of each other) passes: a
    clean-clone CI run of 2026-12-06 had one (blocks 6637, 6639, 6640 of 11 250, nothing else running, the
    callback on time), and a thread's CPU time on a VM also counts time the hypervisor held its virtual CPU, so one
    episode does not tell the engine's work from the machine. A stage whose work outlasts the write-ahead makes them
    recur (the burning stage of tests/realtime/test_engine_clock.py: one every 60 blocks) and fails.
    """
    prefill = prefill_of(status)
    period_ms = 1000.0 * status["blocksize"] / status["samplerate"]
    gaps = [(g, ms) for g, ms in status["callback_gaps_ms"]]
    late = late_blocks_in(status, start, end)
    cpu_bound = set(status["late_cpu_bound"])
    unexplained = [b for b in late if b in cpu_bound
                   and not any(g - prefill <= b <= g + math.ceil(ms / period_ms) + prefill for g, ms in gaps)]
    for b in unexplained:
        assert len(gaps) < LISTED or gaps[-1][0] >= b + prefill, (
            f"late block {b}: the engine lists only the first {LISTED} device-clock gaps (up to block "
            f"{gaps[-1][0]}), so whether one lies beside it cannot be told")
    episodes = sum(1 for i, b in enumerate(unexplained) if i == 0 or b - unexplained[i - 1] > 2 * prefill)
    if episodes > 1:
        raise AssertionError(f"late blocks {unexplained} in {episodes} episodes: the worker's own CPU time over the "
                             f"write-ahead before each exceeded the write-ahead and no device-clock gap lies beside "
                             f"them (gaps {gaps}, late {late}, cpu-bound {sorted(cpu_bound)})")
    print(f"late blocks {late}: cpu-bound {sorted(cpu_bound)}, device-clock gaps {gaps}, unexplained {unexplained} "
          f"({episodes} episode)")
    return late
