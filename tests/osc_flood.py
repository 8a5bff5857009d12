"""Sends an OSC flood to 127.0.0.1:PORT from its own process: RATE packets/s for SECONDS, a third valid, a third
malformed bytes, a third unknown addresses, wrong types, NaN or out-of-range values. Prints what it sent."""

from __future__ import annotations

import json
import socket
import sys
import time

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder


def message(address: str, *values: object) -> bytes:
    builder = OscMessageBuilder(address)
    for v in values:
        builder.add_arg(v)
    return builder.build().dgram


def packets(count: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    valid = [message("/latentbridge/room/wet_level", float(rng.uniform())) for _ in range(200)]
    valid += [message("/latentbridge/morph/xy", float(rng.uniform()), float(rng.uniform())) for _ in range(100)]
    valid += [message("/latentbridge/input/gain_db/value", float(rng.uniform(-6, 0))) for _ in range(100)]
    bad = [bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8)) for _ in range(200)]
    bad += [b"/latentbridge/morph/amount\x00\x00,f\x00\x00\x01"]  # truncated argument
    odd = [message("/latentbridge/nope/amount", 0.5), message("/elsewhere", 1.0),
           message("/latentbridge/morph/amount", float("nan")), message("/latentbridge/morph/amount", "loud"),
           message("/latentbridge/morph/amount/value", 1e9), message("/latentbridge/morph/amount", -5.0),
           message("/latentbridge/room/room_size/value", float("inf")), message("/latentbridge/morph/xy", 2.0),
           message("/latentbridge/morph/target", 3.0), message("/latentbridge/bypass", "yes")]
    pools = [valid, bad, odd]
    return [pools[i % 3][int(rng.integers(0, len(pools[i % 3])))] for i in range(count)]


def main() -> None:
    port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    data = packets(int(rate * seconds))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start, sent, burst = time.perf_counter(), 0, max(1, rate // 200)
    while sent < len(data):
        for p in data[sent: sent + burst]:
            sock.sendto(p, ("127.0.0.1", port))
        sent += burst
        ahead = start + sent / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    print(json.dumps({"sent": len(data), "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
