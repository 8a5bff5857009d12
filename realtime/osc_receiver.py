"""The OSC receiving process: reads UDP packets, drops what is not allowed or not valid, and forwards the
latest value per address to the engine through a pipe, so a flood of packets costs the engine's process
(its audio callback and worker share one interpreter lock) almost nothing.

Runs in its own process at the lowest CPU priority. For each packet: the sender must be in the allow-list;
the packet must parse as OSC; each message's address must be in the engine's address table and its arguments
of the right type (finite numbers for parameters, one tempo in 20..999 BPM, a string for targets and presets).
Accepted messages are coalesced (the newest per address) and flushed every `FLUSH_S` seconds; timetags are not
waited for. Counts of accepted, refused, malformed, unknown and bad-value messages go along with every flush;
the first problem per address is reported once as a log line. Imports only the standard library, python-osc
and `realtime.tempo_sync` (itself only those and `export.core.errors`).

Messages to the engine: ("ready", port) or ("error", text) first, then ("updates", [(address, args), ...],
counts, logs). From the engine: ("table", {address: kind}) and ("stop",).
"""

from __future__ import annotations

import ipaddress
import math
import os
import select
import socket
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from realtime.tempo_sync import bpm_problem

FLUSH_S = 0.002
KINDS = ("normalised", "value", "bypass", "command", "xy", "query", "preset", "tempo", "midi")


def _finite(args: tuple[Any, ...], count: int) -> bool:
    return len(args) == count and all(not isinstance(a, bool) and isinstance(a, int | float) and math.isfinite(a)
                                      for a in args)


def valid(kind: str, args: tuple[Any, ...]) -> str | None:
    """None when `args` suit an address of `kind`, else why not."""
    if kind in ("normalised", "value", "bypass"):
        return None if _finite(args, 1) else "needs one finite number"
    if kind == "xy":
        return None if _finite(args, 2) else "needs two finite numbers"
    if kind == "tempo":
        return bpm_problem(args)
    if kind in ("command", "preset", "midi"):
        return None if len(args) == 1 and isinstance(args[0], str) else "needs one string"
    return None  # query: arguments ignored


def serve(conn: Connection, host: str, port: int, allow: list[str], table: dict[str, str]) -> None:
    try:  # the engine's threads may run under SCHED_FIFO, which a spawned process inherits: drop it
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.nice(19)
    except (AttributeError, OSError):
        pass
    networks = [ipaddress.ip_network(a, strict=False) for a in allow]
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((host, port))
    except OSError as exc:
        conn.send(("error", f"cannot listen for OSC on {host}:{port} ({exc.strerror or exc})"))
        return
    conn.send(("ready", sock.getsockname()[1]))
    sock.setblocking(False)
    counts = dict.fromkeys(("accepted", "refused", "malformed", "unknown", "bad_value"), 0)
    logged: set[str] = set()
    pending: dict[str, tuple[Any, ...]] = {}
    queries: list[tuple[Any, ...]] = []
    logs: list[str] = []
    last_flush = time.monotonic()

    def drop(kind: str, address: str, why: str) -> None:
        counts[kind] += 1
        if address not in logged and len(logged) < 1000:
            logged.add(address)
            logs.append(f"OSC {address}: {why} (logged once per address)")

    while True:
        ready, _, _ = select.select([sock, conn], [], [], FLUSH_S)
        if conn in ready:
            message = conn.recv()
            if message[0] == "stop":
                sock.close()
                return
            table = message[1]
        if sock in ready:
            for _ in range(256):  # drain what has arrived, then flush
                try:
                    data, sender = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                try:
                    allowed = any(ipaddress.ip_address(sender[0]) in n for n in networks)
                except ValueError:
                    allowed = False
                if not allowed:
                    counts["refused"] += 1
                    continue
                try:
                    messages = OscPacket(data).messages
                except (ParseError, ValueError, IndexError, TypeError, struct.error):
                    drop("malformed", "<packet>", "not an OSC packet")
                    continue
                for timed in messages:
                    address, args = timed.message.address, tuple(timed.message.params)
                    kind = table.get(address)
                    if kind is None:
                        drop("unknown", address, "no such address")
                        continue
                    why = valid(kind, args)
                    if why is not None:
                        drop("bad_value", address, why)
                        continue
                    counts["accepted"] += 1
                    if kind == "query":
                        queries.append((address, sender))
                    elif kind in ("command", "preset", "midi"):  # every one counts, in order: not coalesced
                        pending[f"{address}#{counts['accepted']}"] = args
                    else:
                        pending[address] = args
        now = time.monotonic()
        if (pending or queries or logs) and (now - last_flush >= FLUSH_S or sock not in ready):
            updates = [(a.split("#")[0], args) for a, args in pending.items()] + [(a, ("?", s)) for a, s in queries]
            conn.send(("updates", updates, dict(counts), logs))
            pending, queries, logs = {}, [], []
            last_flush = now
        elif now - last_flush > 0.25:
            conn.send(("updates", [], dict(counts), []))
            last_flush = now

