"""A simulated device clock for the live engine (`bench stream`, the engine tests): a thread that calls the engine's
audio callback (`Engine.callback`, the Python one) with one block of the input every block period, as a sound
card would, and keeps what the callback played. Blocks are float32 [blocksize, channels] at the device rate.

It does not make up for a late wake-up by playing the blocks it owes back to back: after the machine held its
thread past a tick it plays at once and goes on a period from there, as JACK's dummy driver does after an xrun
(JackTimedDriver::ProcessWait starts its cycle count again). So a stall of the machine pauses the device and the
engine alike, and a late block on this clock is the engine's own: its worker did not get through the chain in time
on the CPU it had. Where the system allows SCHED_FIFO, the clock runs at the callback's priority and on one CPU
with the worker (both pinned), so that a stall of that CPU holds both (a stall of the worker's CPU alone would
otherwise make late blocks that are the machine's). Without SCHED_FIFO neither is pinned: the worker would then
compete with the clock for one CPU as an ordinary thread, and could slow it down.

What it cannot tell apart: the clock shares the interpreter lock with the worker, so a stage that held the lock
for more than a block period would slow the clock down rather than make late blocks (the JACK soak, with the
native callback, has no such blind spot); and a machine stall that lands inside the callback itself (a few
microseconds per period) still counts as a callback overrun in the engine's totals. The clock lists those
(`held`): blocks whose callback took over half a period of wall time but under half a period of its thread's CPU
time, so it waited (on the machine, or on the interpreter lock the native callback does not take) rather than
worked.

`stall=(block, periods)` stops the clock for `periods` periods before `block`, after which it plays the blocks it
owes back to back: a device that ran on while the engine's threads were held, the way a stalling machine makes
late blocks that no write-ahead shorter than the stall can hide.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realtime.callback import realtime_priority
from realtime.engine import CALLBACK_PRIORITY, Engine


@dataclass
class ClockRun:
    played: np.ndarray | None  # what the callback wrote, float32 [blocks, blocksize, channels], where asked for
    pauses: int  # late wake-ups after which the clock went on from where it was (the machine held it)
    held: list[int]  # blocks whose callback waited past half a period without working that long (see above)
    cpu: int | None  # the CPU the clock and the worker were pinned to (None: not pinned, no SCHED_FIFO)


class Looped(Sequence[np.ndarray]):
    """`blocks` device blocks [blocksize, 1] of mono float32 `audio`, looped from its start (views, no copies)."""

    def __init__(self, audio: np.ndarray, blocks: int, blocksize: int) -> None:
        self.audio, self.blocks, self.n = audio, blocks, blocksize

    def __len__(self) -> int:
        return self.blocks

    def __getitem__(self, k: int) -> np.ndarray:  # type: ignore[override]
        at = (k * self.n) % (self.audio.shape[0] - self.n)
        return self.audio[at: at + self.n, None]


def pin_with_worker(engine: Engine) -> int | None:
    """Put the calling thread and the engine's worker on one CPU (the highest this process may use); its number,
    or None where the worker is not running or the system refuses."""
    worker = engine._worker
    if worker is None or worker.native_id is None:
        return None
    cpu = max(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(worker.native_id, {cpu})
    except OSError:
        return None
    return cpu


def run(engine: Engine, inputs: Sequence[np.ndarray], stall: tuple[int, float] | None = None,
        keep: bool = True) -> ClockRun:
    """Play `inputs` (blocks [blocksize, channels]) through `engine.callback` on the calling thread (a thread of
    its own: it takes SCHED_FIFO and a CPU where allowed), one block per period, keeping what was played where
    `keep`; the engine's worker must be running."""
    n = engine.config.blocksize
    period = n / engine.config.samplerate
    channels = inputs[0].shape[1]
    played = np.zeros((len(inputs) if keep else 1, n, channels), np.float32)
    cpu = pin_with_worker(engine) if realtime_priority(CALLBACK_PRIORITY) else None
    pauses, owed_until, held = 0, -1, []
    next_at = time.perf_counter()
    for k in range(len(inputs)):
        if stall is not None and k == stall[0]:
            time.sleep(stall[1] * period)
            owed_until = k + int(stall[1])
        seq, started, worked = engine.counts.seq, time.perf_counter(), time.thread_time()
        engine.callback(inputs[k], played[k if keep else 0], n, None, None)
        if time.perf_counter() - started > 0.5 * period and time.thread_time() - worked <= 0.5 * period:
            held.append(seq)
        next_at += period
        if k < owed_until:  # catching up after the simulated stall: back to back
            continue
        now = time.perf_counter()
        if now > next_at:  # held past the next tick: play it at once and go on from there
            next_at = now
            pauses += 1
        else:
            time.sleep(next_at - now)
    return ClockRun(played if keep else None, pauses, held, cpu)


def play(engine: Engine, inputs: Sequence[np.ndarray], stall: tuple[int, float] | None = None) -> ClockRun:
    """`run` on a new clock thread; returns when the last block has been played."""
    runs: list[ClockRun] = []
    errors: list[BaseException] = []

    def clock() -> None:
        try:
            runs.append(run(engine, inputs, stall))
        except BaseException as exc:  # raised again on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=clock, name="device-clock")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return runs[0]
