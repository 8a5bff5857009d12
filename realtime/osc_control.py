"""OSC control of a running engine (python-osc), addresses generated from the chain's parameter tables.

    /latentbridge/<stage>/<param> f          normalised 0..1 (the parameter's curve maps it to native units)
    /latentbridge/<stage>/<param>/value f    native units (clamped to the range)
    /latentbridge/<stage>/bypass i           per stage; /latentbridge/bypass i for the whole chain
    /latentbridge/<stage>/target s           morph target: FAMILY, FAMILY:MIDI or an audio file
    /latentbridge/<stage>/corner/{a,b,c,d} s  XY-pad corners;  /latentbridge/<stage>/xy f f  the pad position
    /latentbridge/preset/load s              a bundled preset name or a preset file
    /latentbridge/query                      replies with every parameter's value

Packets are parsed here, not by python-osc's dispatcher (which sleeps until a bundle's future timetag):
every message is applied on arrival, so nothing stalls or piles up. Packets from addresses outside the
allow-list, malformed packets, unknown addresses, wrong types and NaN are dropped and counted, each address
logged once; out-of-range numbers are clamped. Nothing raises into the server loop or the audio path.
Replies (`reply_to`): `<address>/value f` and `<address>/display s` on every change, query answers.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socketserver
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError
from pythonosc.udp_client import SimpleUDPClient

from export.errors import LatentbridgeError
from plugin_host.chain import Chain

PREFIX = "/latentbridge"
log = logging.getLogger("latentbridge.osc")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(cidrs: list[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(c, strict=False) for c in cidrs]
    except ValueError as exc:
        raise LatentbridgeError(f"--osc-allow: {exc}") from exc


def _number(args: tuple[Any, ...]) -> float | None:
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int | float):
        return None
    value = float(args[0])
    return value if math.isfinite(value) else None


class OscControl:
    """See the module docstring. `chain()` returns the engine's current chain; `load_preset(name)` swaps one in."""

    def __init__(self, chain: Callable[[], Chain], load_preset: Callable[[str], None], host: str = "127.0.0.1",
                 port: int = 9000, allow: list[Network] | None = None, reply_to: tuple[str, int] | None = None) -> None:
        self.chain, self.load_preset = chain, load_preset
        self.allow = allow if allow is not None else [ipaddress.ip_network("127.0.0.0/8"),
                                                      ipaddress.ip_network("::1/128")]
        self.reply = SimpleUDPClient(*reply_to) if reply_to else None
        self.counts: Counter[str] = Counter()  # accepted, refused, malformed, unknown, bad_value
        self._logged: set[str] = set()
        control = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                control.handle_packet(self.request[0], self.client_address)

        class Server(socketserver.UDPServer):
            allow_reuse_address = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                return control.allowed(client_address[0])

        try:
            self.server = Server((host, port), Handler)
        except OSError as exc:
            raise LatentbridgeError(f"cannot listen for OSC on {host}:{port} ({exc.strerror or exc})") from exc
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="osc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def allowed(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ok = False
        else:
            ok = any(ip in net for net in self.allow)
        if not ok:
            self.counts["refused"] += 1
        return ok

    def _drop(self, kind: str, address: str, why: str) -> None:
        self.counts[kind] += 1
        if address not in self._logged and len(self._logged) < 1000:
            self._logged.add(address)
            log.warning("OSC %s: %s (logged once per address)", address, why)

    def handle_packet(self, data: bytes, client: Any = None) -> None:
        try:
            messages = OscPacket(data).messages
        except (ParseError, ValueError, IndexError, TypeError):
            self._drop("malformed", "<packet>", "not an OSC packet")
            return
        for timed in messages:  # timetags are not waited for: applied on arrival
            try:
                self.handle(timed.message.address, tuple(timed.message.params), client)
            except LatentbridgeError as exc:
                self._drop("bad_value", timed.message.address, str(exc))

    def handle(self, address: str, args: tuple[Any, ...], client: Any = None) -> None:
        """Apply one message (see the module docstring); raises LatentbridgeError only for bad string values."""
        if not address.startswith(PREFIX + "/"):
            self._drop("unknown", address, "not under /latentbridge")
            return
        parts = address[len(PREFIX) + 1:].split("/")
        chain = self.chain()
        if parts == ["query"]:
            self.counts["accepted"] += 1
            self.send_all(client)
            return
        if parts == ["bypass"] or (len(parts) == 2 and parts[1] == "bypass"):
            value = _number(args)
            if value is None:
                self._drop("bad_value", address, "needs one number (0 or 1)")
                return
            target = chain if parts == ["bypass"] else self._stage(chain, parts[0], address)
            if target is not None:
                target.bypassed = value >= 0.5
                self.counts["accepted"] += 1
            return
        if parts == ["preset", "load"]:
            if len(args) != 1 or not isinstance(args[0], str):
                self._drop("bad_value", address, "needs one string")
                return
            self.load_preset(args[0])
            self.counts["accepted"] += 1
            return
        stage = self._stage(chain, parts[0], address) if parts[0] != "chain" else None
        if stage is not None and len(parts) >= 2 and "/".join(parts[1:]) in stage.commands:
            if len(args) != 1 or not isinstance(args[0], str):
                self._drop("bad_value", address, "needs one string")
                return
            stage.command("/".join(parts[1:]), args[0])
            self.counts["accepted"] += 1
            return
        if stage is not None and parts[1:] == ["xy"] and {"x", "y"} <= set(stage.params):
            values = [_number((a,)) for a in args]
            if len(values) != 2 or None in values:
                self._drop("bad_value", address, "needs two numbers")
                return
            for name, v in zip(("x", "y"), values, strict=True):
                self._set(chain, parts[0], name, v, normalised=True)
            self.counts["accepted"] += 1
            return
        if len(parts) in (2, 3) and (len(parts) == 2 or parts[2] == "value"):
            params = chain.params if parts[0] == "chain" else (stage.params if stage is not None else None)
            if params is None:
                return
            if parts[1] not in params:
                self._drop("unknown", address, "no such parameter")
                return
            value = _number(args)
            if value is None:
                self._drop("bad_value", address, "needs one finite number")
                return
            self._set(chain, parts[0], parts[1], value, normalised=len(parts) == 2)
            self.counts["accepted"] += 1
            return
        self._drop("unknown", address, "no such address")

    def _stage(self, chain: Chain, name: str, address: str) -> Any:
        for s in chain.stages:
            if s.name == name:
                return s
        self._drop("unknown", address, f"no stage {name!r}")
        return None

    def _set(self, chain: Chain, stage: str, name: str, value: float, normalised: bool) -> None:
        param = chain.parameter(stage, name)
        before = param.target
        taken = param.set_normalised(value) if normalised else param.set(value)
        if taken != before:
            self._send_value(stage, name, taken, param.spec.display(taken))

    def _send_value(self, stage: str, name: str, value: float, display: str) -> None:
        if self.reply is not None:
            address = f"{PREFIX}/{stage}/{name}"
            self.reply.send_message(f"{address}/value", value)
            self.reply.send_message(f"{address}/display", display)

    def send_all(self, client: Any = None) -> None:
        """Every parameter's value (and display text) to the reply address, or back to the asking client."""
        target = self.reply
        if target is None and client is not None:
            target = SimpleUDPClient(client[0], client[1])
        if target is None:
            return
        for stage, param in self.chain().parameters():
            address = f"{PREFIX}/{stage}/{param.spec.name}"
            target.send_message(f"{address}/value", param.target)
            target.send_message(f"{address}/display", param.spec.display(param.target))
        target.send_message(f"{PREFIX}/query/done", 1)

    def send(self, address: str, *values: Any) -> None:
        if self.reply is not None:
            self.reply.send_message(address, list(values) if len(values) != 1 else values[0])
