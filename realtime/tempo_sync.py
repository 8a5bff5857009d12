"""Ableton Live's tempo through AbletonOSC (a Live remote script): asks for the song tempo, listens for changes
and hands every new tempo to a callback, on its own thread (never the audio path).

AbletonOSC listens on UDP 11000 and sends its replies to port 11001 of the sender's host: `/live/song/get/tempo`
and `/live/song/start_listen/tempo` are answered with `/live/song/get/tempo f` (BPM; again on every change until
`/live/song/stop_listen/tempo`), and `/live/startup` says the script has (re)started. Tempos are BPM; a value
that is not one finite number in [MIN_BPM, MAX_BPM] (what Live allows) is dropped and logged once. Imports only
the standard library, python-osc and `export.core.errors` (the OSC receiver process uses `bpm_problem`).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from export.core.errors import LatentbridgeError

MIN_BPM, MAX_BPM = 20.0, 999.0
LIVE_PORT, REPLY_PORT = 11000, 11001  # AbletonOSC's fixed ports
TEMPO = "/live/song/get/tempo"
POLL_S = 0.1  # how often the receiving thread looks at its stop flag
WARN_AFTER_S = 10.0  # no answer by then: say so once (and keep asking)
log = logging.getLogger("latentbridge.tempo")


def bpm_problem(args: tuple[Any, ...]) -> str | None:
    """None when `args` is one tempo Live could have, else why not."""
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int | float):
        return "needs one number (BPM)"
    if not (math.isfinite(args[0]) and MIN_BPM <= args[0] <= MAX_BPM):
        return f"tempo {args[0]} is not in [{MIN_BPM:g}, {MAX_BPM:g}] BPM"
    return None


def _dgram(address: str) -> bytes:
    return OscMessageBuilder(address).build().dgram


class TempoSync:
    """See the module docstring. `live` is AbletonOSC's (host, port); replies are read on `reply_port` (0 picks
    one, for tests: the real AbletonOSC always answers on 11001), on 127.0.0.1 when Live is on this machine, else
    on every interface, taking packets from Live's address only. `retry_s`: how often to ask until Live answers.
    `bpm` is the last tempo taken (None until one arrives); `on_tempo(bpm)` runs on every change."""

    def __init__(self, on_tempo: Callable[[float], None], live: tuple[str, int] = ("127.0.0.1", LIVE_PORT),
                 reply_port: int = REPLY_PORT, retry_s: float = 2.0) -> None:
        self.on_tempo, self.retry_s = on_tempo, retry_s
        try:
            self.live = (socket.gethostbyname(live[0]), int(live[1]))
        except OSError as exc:
            raise LatentbridgeError(f"AbletonOSC host {live[0]!r}: cannot resolve it ({exc})") from exc
        host = "127.0.0.1" if ipaddress.ip_address(self.live[0]).is_loopback else "0.0.0.0"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, reply_port))
        except OSError as exc:
            self.sock.close()
            raise LatentbridgeError(f"cannot listen for AbletonOSC replies on {host}:{reply_port} "
                                    f"({exc.strerror or exc}; another AbletonOSC client running?)") from exc
        self.sock.settimeout(POLL_S)
        self.reply_port = int(self.sock.getsockname()[1])
        self.bpm: float | None = None
        self.answered = False  # Live has answered since the last (re)start of AbletonOSC
        self.dropped = 0
        self._logged: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ableton-tempo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, tell Live to stop sending (`stop_listen`), close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._send("/live/song/stop_listen/tempo")
        self.sock.close()

    def status(self) -> dict[str, Any]:
        return {"live": f"{self.live[0]}:{self.live[1]}", "reply_port": self.reply_port, "answered": self.answered,
                "dropped": self.dropped}

    def _send(self, address: str) -> None:
        try:
            self.sock.sendto(_dgram(address), self.live)
        except OSError as exc:  # e.g. no route to a remote Live: keep trying, say it once
            self._once("send", f"AbletonOSC at {self.live[0]}:{self.live[1]}: cannot send ({exc.strerror or exc})")

    def _once(self, key: str, line: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s (logged once)", line)

    def _run(self) -> None:
        started, next_ask = time.monotonic(), 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if not self.answered and now >= next_ask:
                self._send("/live/song/start_listen/tempo")  # answered with the tempo now, and on every change
                self._send(TEMPO)
                next_ask = now + self.retry_s
            if self.bpm is None and now - started > WARN_AFTER_S:
                self._once("silent", f"no tempo from AbletonOSC at {self.live[0]}:{self.live[1]} yet (is Live "
                           f"running with the AbletonOSC control surface?); asking every {self.retry_s:g} s")
            try:
                data, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:  # e.g. an ICMP error reported on the socket: not fatal
                continue
            if sender[0] == self.live[0]:
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except (ParseError, ValueError, IndexError, TypeError, struct.error):
            self._once("malformed", "AbletonOSC: a packet that is not OSC was dropped")
            return
        for message in messages:
            args = tuple(message.params)
            if message.address == "/live/startup":  # Live (re)started the script: listen again
                self.answered = False
            elif message.address == "/live/error":
                self._once(f"error {args}", f"AbletonOSC reports: {' '.join(map(str, args))}")
            elif message.address == TEMPO:
                self._take(args)

    def _take(self, args: tuple[Any, ...]) -> None:
        why = bpm_problem(args)
        if why is not None:
            self.dropped += 1
            self._once("bad tempo", f"AbletonOSC {TEMPO}: {why}; dropped")
            return
        self.answered = True
        bpm = float(args[0])
        if bpm == self.bpm:
            return
        self.bpm = bpm
        try:
            self.on_tempo(bpm)
        except Exception as exc:  # noqa: BLE001 (a failing callback must not end the tempo thread)
            log.warning("tempo %.2f BPM: %s", bpm, exc)
