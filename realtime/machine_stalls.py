"""Machine stalls on the engine's block timeline: what the per-CPU stall probe (realtime/native/stall_probe.c)
saw, placed at the device block it fell in, and which late blocks, xruns and callback overruns they explain.

A stall is a wake-up of a probe thread (SCHED_FIFO over every audio thread, one per CPU) later than
THRESHOLD_MS: that CPU ran nothing of ours for that long, because the kernel or the hypervisor (stolen time on
a VM) held it. The probe's times are CLOCK_MONOTONIC seconds (what `time.perf_counter` reads); a stall goes on
the block timeline when it is first read, from the callback's block count at that moment, so the placement is
good to about a block. Idle jitter on the 2-core CI VM reaches 2.7 ms (10 s measured), so shorter wake-up
delays are not stalls.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

PROBE_PRIORITY = 80  # over the callback (70): only the kernel or the hypervisor can hold the probe back
THRESHOLD_MS = 4.0
PROBE_PERIOD_MS = 1.0
LISTED = 64


@dataclass
class MachineStalls:
    """The stalls of one engine run, by block. `period` is the block period (s), `prefill` the write-ahead."""

    period: float
    prefill: int
    probe: Any = None  # realtime._stall_native.StallProbe while running
    placed: list[tuple[int, float]] = field(default_factory=list)  # (block, ms), by block
    realtime: bool = False
    max_ms: float = 0.0
    seen: set[tuple[float, int]] = field(default_factory=set)  # (start, cpu) of the stalls placed
    lock: threading.Lock = field(default_factory=threading.Lock)  # status() runs on more than one thread

    def start(self) -> None:
        from realtime._stall_native import StallProbe

        self.probe = StallProbe(PROBE_PRIORITY, THRESHOLD_MS, PROBE_PERIOD_MS)
        self.probe.start()

    def update(self, seq: int) -> None:
        """Place the stalls seen since the last call; `seq` is the callback's block count now."""
        with self.lock:
            if self.probe is None:
                return
            now = time.perf_counter()
            for start_s, ms, cpu in self.probe.stalls:
                if (start_s, cpu) not in self.seen:
                    self.seen.add((start_s, cpu))
                    self.placed.append((seq - int(round((now - start_s) / self.period)), round(ms, 2)))
            self.placed.sort()
            self.realtime = bool(self.probe.realtime)
            self.max_ms = round(float(self.probe.max_ms), 2)

    def stop(self, seq: int) -> None:
        self.update(seq)
        with self.lock:
            if self.probe is not None:
                self.probe.stop()
                self.probe = None

    def _near(self, block: int, before: int, after: int) -> list[float]:
        """Lengths (ms) of the stalls that began from `before` blocks before `block` (plus the stall's own
        length in blocks) to `after` blocks after it; empty unless the probe ran under SCHED_FIFO."""
        if not self.realtime:
            return []
        return [ms for at, ms in self.placed
                if at - after <= block <= at + math.ceil(ms / 1000 / self.period) + before]

    def explains_late(self, block: int) -> bool:
        """A late block follows stalls adding up to half the write-ahead, within 2 * prefill blocks."""
        return sum(self._near(block, 2 * self.prefill + 2, 2)) >= 500 * self.prefill * self.period

    def explains_xrun(self, block: int) -> bool:
        """An xrun (reported at the next callback) or an overrun within 3 blocks of a stall."""
        return bool(self._near(block, 3, 2))

    def report(self, late: list[int], xruns: list[int], overruns: list[int]) -> dict[str, Any]:
        return {"probe_realtime": self.realtime, "max_ms": self.max_ms, "count": len(self.placed),
                "at_block_ms": [list(p) for p in self.placed[:LISTED]],
                "late_blocks": [b for b in late if self.explains_late(b)],
                "xruns": [b for b in xruns if self.explains_xrun(b)],
                "callback_overruns": [b for b in overruns if self.explains_xrun(b)]}
