"""`latentbridge bench stalls`: is this machine fit for live audio? Per CPU, how often and how long the kernel
or the hypervisor held it from a thread that outranks every audio thread (realtime/native/stall_probe.c, as
cyclictest): a stall longer than the engine's write-ahead (4 blocks of 256 at 48 kHz: 21.3 ms) plays dry
blocks whatever the engine does, and one longer than a block period (5.3 ms) is an xrun for every JACK client.

Run it on a quiet machine, or beside the engine to see what a session had to live with; the probe's own wake-ups
cost a few percent of a CPU (more on a VM, where each timer is a hypervisor exit), so it is not left running
inside the engine.
"""

from __future__ import annotations

import os
import time
from typing import Any

PRIORITY = 80  # over the engine's audio callback (70) and every JACK thread
PERIOD_MS = 1.0
BUCKETS_MS = (1.0, 2.7, 5.3, 10.7, 21.3)  # 1 ms, half a block, a block, two, the write-ahead (48 kHz / 256)


def measure_stalls(seconds: float) -> dict[str, Any]:
    """Run the probe for `seconds`; per CPU: stalls over each bucket's length, the longest and the total."""
    from realtime._stall_native import StallProbe

    probe = StallProbe(PRIORITY, BUCKETS_MS[0], PERIOD_MS)  # kept: the stalls of the first bucket on
    probe.start()
    try:
        time.sleep(seconds)
    finally:
        probe.stop()
    stalls = probe.stalls
    per_cpu = []
    for cpu in sorted(os.sched_getaffinity(0)):  # the CPUs the probe pinned a thread to
        mine = [ms for _, ms, c in stalls if c == cpu]
        per_cpu.append({"cpu": cpu, "over_ms": {f"{b:g}": sum(ms > b for ms in mine) for b in BUCKETS_MS},
                        "max_ms": round(max(mine, default=0.0), 2), "total_ms": round(sum(mine), 1)})
    return {"seconds": seconds, "realtime": bool(probe.realtime), "period_ms": PERIOD_MS,
            "wakeups": int(probe.wakeups), "max_ms": round(float(probe.max_ms), 2), "cpus": per_cpu}
