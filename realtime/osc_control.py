"""OSC control of a running engine, addresses generated from the chain's parameter tables.

    /latentbridge/<stage>/<param> f          normalised 0..1 (the parameter's curve maps it to native units)
    /latentbridge/<stage>/<param>/value f    native units (clamped to the range)
    /latentbridge/<stage>/bypass i           per stage; /latentbridge/bypass i for the whole chain
    /latentbridge/<stage>/target s           morph target: FAMILY, FAMILY:MIDI or an audio file
    /latentbridge/<stage>/corner/{a,b,c,d} s  XY-pad corners;  /latentbridge/<stage>/xy f f  the pad position
    /latentbridge/preset/load s              a bundled preset name or a preset file
    /latentbridge/tempo f                    the tempo in BPM (20..999): moves the preset's `tempo_sync` parameters
    /latentbridge/midi/learn s               MIDI learn: the next CC that moves drives "stage/parameter"
    /latentbridge/midi/forget s              drop the CCs driving "stage/parameter" (both need live --midi-in)
    /latentbridge/query                      replies with every parameter's value, then /latentbridge/query/done

Packets are received, checked and coalesced in a separate process (`realtime.osc_receiver`); this side applies
what it forwards from a pump thread, outside the audio path: numbers are clamped into range by the
parameters, bad targets or presets are refused with a log line. Replies (`reply_to`, else the asking client
for queries): `<address>/value f` and `<address>/display s` on every change. A tempo (from this address or
from AbletonOSC through `set_tempo`) sets each synced parameter to its beats at that tempo, clamped into range,
as the same deferred change an OSC message makes; it is kept across preset loads and, once one is known,
reported as `/latentbridge/tempo/value` by queries.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

from pythonosc.udp_client import SimpleUDPClient

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.parameters import tempo_value
from realtime import osc_receiver
from realtime.control_log import PendingChange, bypass_change, command_change, parameter_change
from realtime.tempo_sync import bpm_problem

PREFIX = "/latentbridge"
LOCALHOST = ["127.0.0.0/8", "::1/128"]
log = logging.getLogger("latentbridge.osc")


def address_table(chain: Chain) -> dict[str, str]:
    """Every address the chain answers to -> its kind (see `osc_receiver.KINDS`)."""
    table = {f"{PREFIX}/bypass": "bypass", f"{PREFIX}/query": "query", f"{PREFIX}/preset/load": "preset",
             f"{PREFIX}/tempo": "tempo", f"{PREFIX}/midi/learn": "midi", f"{PREFIX}/midi/forget": "midi"}
    for stage, param in chain.parameters():
        table[f"{PREFIX}/{stage}/{param.spec.name}"] = "normalised"
        table[f"{PREFIX}/{stage}/{param.spec.name}/value"] = "value"
    for s in chain.stages:
        table[f"{PREFIX}/{s.name}/bypass"] = "bypass"
        for command in s.commands:
            table[f"{PREFIX}/{s.name}/{command}"] = "command"
        if {"x", "y"} <= set(s.params):
            table[f"{PREFIX}/{s.name}/xy"] = "xy"
    return table


def check_allow(cidrs: list[str]) -> list[str]:
    import ipaddress

    try:
        return [str(ipaddress.ip_network(c, strict=False)) for c in cidrs]
    except ValueError as exc:
        raise LatentbridgeError(f"--osc-allow: {exc}") from exc


class OscControl:
    """See the module docstring. `chain()` returns the engine's current chain; `load_preset(name)` swaps one in;
    `defer(change)` has the engine apply a change between two blocks (without it, changes apply at once);
    `midi(kind, target, chain)` takes MIDI learn/forget requests (`MidiRouter.request`; None: no MIDI input)."""

    def __init__(self, chain: Callable[[], Chain], load_preset: Callable[[str], None], host: str = "127.0.0.1",
                 port: int = 9000, allow: list[str] | None = None, reply_to: tuple[str, int] | None = None,
                 defer: Callable[[PendingChange], None] | None = None,
                 midi: Callable[[str, str, Chain], None] | None = None) -> None:
        self.chain, self.load_preset, self.midi = chain, load_preset, midi
        self.defer = defer if defer is not None else self._apply_now
        self.reply = SimpleUDPClient(*reply_to) if reply_to else None
        self.counts: dict[str, int] = {}
        self.local_errors = 0
        self.tempo_bpm: float | None = None
        self._tempo_lock = threading.Lock()  # set_tempo runs on the pump and on the AbletonOSC thread
        self._clamp_logged: set[tuple[str, str]] = set()
        self.table = address_table(chain())
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sessions inherited
        self.conn, child = context.Pipe()
        self.process = context.Process(target=osc_receiver.serve, name="latentbridge-osc", daemon=True,
                                       args=(child, host, port, check_allow(allow or LOCALHOST), self.table))
        self.process.start()
        if not self.conn.poll(30):
            self.process.kill()
            raise LatentbridgeError("the OSC receiver did not start")
        kind, value = self.conn.recv()
        if kind == "error":
            raise LatentbridgeError(value)
        self.port = int(value)
        self._thread = threading.Thread(target=self._pump, name="osc-pump", daemon=True)

    def _apply_now(self, change: PendingChange) -> None:
        change(self.chain())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()

    def _pump(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            _, updates, counts, logs = message
            for line in logs:
                log.warning(line)
            for address, args in updates:
                try:
                    self.apply(address, args)
                except LatentbridgeError as exc:
                    self.local_errors += 1
                    log.warning("OSC %s: %s", address, exc)
            self.counts = {**counts, "refused_here": self.local_errors}

    def apply(self, address: str, args: tuple[Any, ...]) -> None:
        """Apply one checked message (kinds from `address_table`)."""
        kind = self.table.get(address)
        chain = self.chain()
        parts = address[len(PREFIX) + 1:].split("/")
        if kind == "query":
            self.send_all(args[1] if len(args) == 2 else None)
        elif kind == "preset":
            with self._tempo_lock:
                self.load_preset(args[0])
                self.table = address_table(self.chain())
                self.conn.send(("table", self.table))
                self._follow_tempo()  # the new preset's synced parameters take the current tempo
        elif kind == "tempo":
            self.set_tempo(float(args[0]))
        elif kind == "midi":
            if self.midi is None:
                raise LatentbridgeError("no MIDI input (start live with --midi-in PORT)")
            self.midi(parts[1], str(args[0]), chain)
        elif kind == "bypass":
            if parts != ["bypass"]:
                chain.stage(parts[0])  # unknown stages are refused here, not in the worker
            self.defer(bypass_change(None if parts == ["bypass"] else parts[0], float(args[0]) >= 0.5))
        elif kind == "command":
            self.defer(command_change(chain, parts[0], "/".join(parts[1:]), args[0]))
        elif kind == "xy":
            for name, v in zip(("x", "y"), args, strict=True):
                self._set(chain, parts[0], name, float(v), normalised=True)
        elif kind in ("normalised", "value"):
            self._set(chain, parts[0], parts[1], float(args[0]), normalised=kind == "normalised")

    def _set(self, chain: Chain, stage: str, name: str, value: float, normalised: bool) -> None:
        param = chain.parameter(stage, name)
        self._take(stage, name, param.spec.clamp(param.spec.from_normalised(value) if normalised else value))

    def _take(self, stage: str, name: str, taken: float) -> None:
        """Defer one parameter change (native units, in range) and report it when it changes the value."""
        param = self.chain().parameter(stage, name)
        before = param.target
        self.defer(parameter_change(stage, name, taken))
        if taken != before and self.reply is not None:
            address = f"{PREFIX}/{stage}/{name}"
            self.reply.send_message(f"{address}/value", taken)
            self.reply.send_message(f"{address}/display", param.spec.display(taken))

    def set_tempo(self, bpm: float) -> None:
        """A new tempo (BPM): every `tempo_sync` parameter of the chain follows it (one-line error if invalid)."""
        why = bpm_problem((bpm,))
        if why is not None:
            raise LatentbridgeError(why)
        with self._tempo_lock:
            changed = bpm != self.tempo_bpm
            self.tempo_bpm = float(bpm)
            self._follow_tempo()
        if changed and self.reply is not None:
            self.reply.send_message(f"{PREFIX}/tempo/value", self.tempo_bpm)
            self.reply.send_message(f"{PREFIX}/tempo/display", f"{self.tempo_bpm:.1f} BPM")

    def _follow_tempo(self) -> None:
        if self.tempo_bpm is None:
            return
        chain = self.chain()
        for (stage, name), beats in chain.tempo_sync.items():
            spec = chain.parameter(stage, name).spec
            value = tempo_value(spec.unit, beats, self.tempo_bpm)
            taken = spec.clamp(value)
            if taken != value and (stage, name) not in self._clamp_logged:
                self._clamp_logged.add((stage, name))
                log.warning("tempo %.1f BPM: %s/%s = %g %s is outside [%g, %g]; clamped (logged once)",
                            self.tempo_bpm, stage, name, value, spec.unit, spec.low, spec.high)
            self._take(stage, name, taken)

    def send_all(self, client: Any = None) -> None:
        """Every parameter's value (and display text) to the reply address, or back to the asking client."""
        target = self.reply if self.reply is not None else (SimpleUDPClient(client[0], client[1]) if client else None)
        if target is None:
            return
        for stage, param in self.chain().parameters():
            address = f"{PREFIX}/{stage}/{param.spec.name}"
            target.send_message(f"{address}/value", param.target)
            target.send_message(f"{address}/display", param.spec.display(param.target))
        if self.tempo_bpm is not None:
            target.send_message(f"{PREFIX}/tempo/value", self.tempo_bpm)
            target.send_message(f"{PREFIX}/tempo/display", f"{self.tempo_bpm:.1f} BPM")
        target.send_message(f"{PREFIX}/query/done", 1)

    def send(self, address: str, *values: Any) -> None:
        if self.reply is not None:
            self.reply.send_message(address, list(values) if len(values) != 1 else values[0])

