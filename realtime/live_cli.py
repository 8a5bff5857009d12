"""`latentbridge live`, `latentbridge devices` and `latentbridge presets list`: the live engine's command lines.

`live` opens the preset's chain at the device rate, starts the duplex stream, the OSC server (127.0.0.1:9000
unless told otherwise) and OSCQuery, shows a one-line status (and `--status-json`), and stops cleanly on
Ctrl-C or after `--duration`, writing `--record` and the last status. Runs on ONNX Runtime only. The stream's
callback is native C (`--audio-backend native`, the default where it loads) or sounddevice's Python one.
`--ableton-tempo [HOST:PORT]` follows Live's tempo through AbletonOSC (`realtime.tempo_sync`; Live's replies
come to `--ableton-reply-port`, 11001) and moves the preset's `tempo_sync` parameters with it.
`--midi-in PORT` plays MIDI into the chain (JACK MIDI when a JACK server runs, else ALSA; `virtual` makes a port
of our own): notes to its MIDI stages (the `midi-pad` preset), CCs through the preset's `midi_map` and MIDI learn
(/latentbridge/midi/learn), all recorded by `--record-osc` for `render --automation`. `midi-devices` lists ports.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from export.core.errors import LatentbridgeError


def run_live(args: argparse.Namespace) -> int:
    from plugin_host.presets import load_chain
    from realtime import devices
    from realtime.control_log import ControlLog
    from realtime.engine import HELPER_PRIORITY, Engine, EngineConfig, realtime_priority
    from realtime.osc_control import OscControl
    from realtime.oscquery import OscQueryServer
    from realtime.recorder import Recorder
    from realtime.status_report import status_line, write_status

    if args.blocksize < 16 or args.blocksize > 8192:
        raise LatentbridgeError(f"--blocksize must be in [16, 8192], got {args.blocksize}")
    if args.samplerate < 8000 or args.samplerate > 384000:
        raise LatentbridgeError(f"--samplerate must be in [8000, 384000], got {args.samplerate}")
    if args.osc_host not in ("127.0.0.1", "localhost", "::1") and not args.osc_allow:
        raise LatentbridgeError("--osc-host other than 127.0.0.1 needs an allow-list: --osc-allow CIDR")
    allow = args.osc_allow or None
    reply = _host_port(args.osc_reply, "--osc-reply") if args.osc_reply else None
    live = _host_port(args.ableton_tempo, "--ableton-tempo") if args.ableton_tempo else None
    if not 0 <= args.ableton_reply_port < 65536:
        raise LatentbridgeError(f"--ableton-reply-port must be in [0, 65535], got {args.ableton_reply_port}")
    chain = load_chain(args.preset, args.samplerate)  # model and preset errors come before any device work
    realtime_priority(HELPER_PRIORITY)  # this thread and all it starts (status, OSC pump, recorders, OSCQuery)
    devices.name_jack_client()
    api = devices.hostapi_index(args.hostapi) if args.hostapi else None
    inp = devices.find_device(args.input_device, "input", api)
    out = devices.find_device(args.output_device, "output", api)
    devices.check_settings(inp, out, args.samplerate, args.channels)
    config = EngineConfig(args.samplerate, args.blocksize, args.channels, inp, out, prefill=args.prefill,
                          audio_backend=_audio_backend(args.audio_backend))
    recorder = None
    if args.record:
        recorder = Recorder(args.record, args.samplerate, args.blocksize, args.channels, args.force)
    input_recorder = None
    if args.record_input:
        input_recorder = Recorder(args.record_input, args.samplerate, args.blocksize, args.channels, args.force)
    control_log = None
    if args.record_osc:
        control_log = ControlLog(args.record_osc, args.samplerate, args.blocksize, args.preset, args.force)
    router = None
    if args.midi_in:
        from realtime.midi_input import MidiInput, MidiRouter

        router = MidiRouter(MidiInput(args.midi_in))
    engine = Engine(chain, config, recorder, input_recorder, control_log, router)
    engine.warm_up(load_chain(args.preset, args.samplerate))

    def load_preset(name: str) -> None:
        engine.swap_chain(load_chain(name, args.samplerate), name)

    osc = OscControl(lambda: engine.chain, load_preset, args.osc_host, args.osc_port, allow, reply, engine.defer,
                     router.request if router is not None else None)
    query = None if args.oscquery_port < 0 else OscQueryServer(lambda: engine.chain, osc.port, args.oscquery_port,
                                                               advertise=not args.no_zeroconf,
                                                               tempo=lambda: osc.tempo_bpm)
    tempo = None
    if live is not None:
        from realtime.tempo_sync import TempoSync

        tempo = TempoSync(osc.set_tempo, live, args.ableton_reply_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    meters = None
    if reply is not None:
        meters = threading.Thread(target=_send_meters, args=(engine, osc, stop), name="osc-meters", daemon=True)
        meters.start()
    engine.start()
    osc.start()
    if query is not None:
        query.start()
    if tempo is not None:
        tempo.start()
    started = time.monotonic()
    try:
        while not stop.is_set() and (args.duration is None or time.monotonic() - started < args.duration):
            status = _status(engine, osc, query, tempo)
            if args.status_json:
                write_status(args.status_json, status)
            if not args.quiet:
                print("\r" + status_line(status, _tags(engine))[:160].ljust(160), end="", file=sys.stderr, flush=True)
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if tempo is not None:
            tempo.stop()
        engine.stop()
        if router is not None:
            router.close()
        stop.set()
        if meters is not None:  # the final counts, once the engine has stopped: what the last status says
            meters.join(timeout=2.0)
            _send_status(engine, osc)
        osc.stop()
        if query is not None:
            query.stop()
        status = {**_status(engine, osc, query, tempo), "state": "stopped"}
        if args.status_json:
            write_status(args.status_json, status)
        if not args.quiet:
            print("\n" + status_line(status), file=sys.stderr)
        for path in (args.record, args.record_input, args.record_osc):
            if path:
                print(f"recorded {path}", file=sys.stderr)
    return 0


def _audio_backend(choice: str | None) -> str:
    """The backend asked for; by default the native stream where it loads, else sounddevice with a notice."""
    from realtime.native_stream import unavailable

    why = unavailable() if choice in (None, "native") else None
    if choice == "native" and why is not None:
        raise LatentbridgeError(f"--audio-backend native: {why}")
    if choice is None and why is not None:
        print(f"latentbridge: using the sounddevice audio callback: {why}", file=sys.stderr)
        return "sounddevice"
    return choice or "native"


METER_HZ = 20.0  # meters and status to --osc-reply (the ceiling is 30 Hz)


def _send_meters(engine: Any, osc: Any, stop: threading.Event) -> None:
    """Output peak, late blocks, xruns and latency at METER_HZ; each tagger's probabilities when they change."""
    seen: dict[str, int] = {}
    while not stop.wait(1.0 / METER_HZ):
        osc.send("/latentbridge/meter/output_db", engine.take_peak_db())
        _send_status(engine, osc)
        for stage in engine.chain.stages:
            if stage.kind == "tagger" and seen.get(stage.name) != stage.analyses:
                seen[stage.name] = stage.analyses
                for tag, p in stage.tags.items():
                    osc.send(f"/latentbridge/{stage.name}/tags/{tag.replace(' ', '_')}", p)


def _send_status(engine: Any, osc: Any) -> None:
    osc.send("/latentbridge/status/late_blocks", engine.late)
    osc.send("/latentbridge/status/xruns", engine.xruns)
    osc.send("/latentbridge/status/latency_ms", 1000.0 * engine.added_latency_samples / engine.config.samplerate)


def _tags(engine: Any) -> list[tuple[str, float]]:
    for stage in engine.chain.stages:
        if stage.kind == "tagger":
            return stage.top(3)
    return []


def _status(engine: Any, osc: Any, query: Any, tempo: Any) -> dict[str, Any]:
    return {**engine.status(), "state": "running", "osc": {"port": osc.port, **dict(osc.counts)},
            "oscquery_port": query.port if query is not None else None, "tempo_bpm": osc.tempo_bpm,
            "ableton": tempo.status() if tempo is not None else None, "time": time.time()}


def _host_port(text: str, flag: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise LatentbridgeError(f"{flag} must be HOST:PORT, got {text!r}")
    return host, int(port)


def run_devices(args: argparse.Namespace) -> int:
    from realtime import devices

    if args.jack_name:
        devices.name_jack_client()
    print(devices.device_table())
    return 0


def run_midi_devices(args: argparse.Namespace) -> int:
    from realtime.midi_input import device_table

    print(device_table())
    return 0


def run_presets(args: argparse.Namespace) -> int:
    from plugin_host.presets import bundled_names, read_preset

    for name in bundled_names():
        preset = read_preset(name)
        kinds = " -> ".join(s["name"] for s in preset["stages"])
        print(f"{name:<16} {kinds:<40} {preset.get('description', '')}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    live = subparsers.add_parser("live", help="play through a preset's chain in real time, steered over OSC",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example: latentbridge live --preset morph-reed --hostapi JACK")
    live.add_argument("--preset", default="morph-reed", help="bundled preset name or YAML/JSON file")
    live.add_argument("--input-device", default=None, help="input device index or name part (default: default)")
    live.add_argument("--output-device", default=None, help="output device index or name part")
    live.add_argument("--hostapi", default=None, help="host API name part, e.g. JACK, ALSA")
    live.add_argument("--samplerate", type=int, default=48000, help="device rate in Hz (default 48000)")
    live.add_argument("--blocksize", type=int, default=256, help="frames per device block (default 256)")
    live.add_argument("--channels", type=int, choices=(1, 2), default=1, help="device channels (default 1)")
    live.add_argument("--prefill", type=int, default=4, help="blocks the worker runs ahead of playback (default 4)")
    live.add_argument("--audio-backend", choices=("native", "sounddevice"), default=None,
                      help="the stream's callback: native C, which never waits for the interpreter lock (default "
                           "where it loads), or sounddevice's Python callback")
    live.add_argument("--record", type=Path, default=None, help="write what was played to this WAV")
    live.add_argument("--record-input", type=Path, default=None, help="write what the device delivered to this WAV")
    live.add_argument("--record-osc", type=Path, default=None,
                      help="write every OSC change with the sample it took effect at (JSON); `render --automation` "
                           "replays it on the --record-input file")
    live.add_argument("--force", action="store_true", help="replace existing --record* files")
    live.add_argument("--status-json", type=Path, default=None, help="rewrite the status here (2 Hz)")
    live.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    live.add_argument("--osc-host", default="127.0.0.1", help="OSC listen address (default 127.0.0.1)")
    live.add_argument("--osc-port", type=int, default=9000, help="OSC port (default 9000; 0 picks one)")
    live.add_argument("--osc-allow", action="append", default=[], metavar="CIDR",
                      help="allowed sender networks (default: localhost only); repeatable")
    live.add_argument("--osc-reply", default=None, metavar="HOST:PORT", help="send values and status here")
    live.add_argument("--ableton-tempo", nargs="?", const="127.0.0.1:11000", default=None, metavar="HOST:PORT",
                      help="follow Live's tempo through AbletonOSC (default address 127.0.0.1:11000): the preset's "
                           "tempo_sync parameters move with it")
    live.add_argument("--ableton-reply-port", type=int, default=11001, metavar="N",
                      help="UDP port AbletonOSC replies to (default 11001, its fixed reply port; 0 picks one)")
    live.add_argument("--oscquery-port", type=int, default=9001,
                      help="OSCQuery HTTP port on 127.0.0.1 (default 9001; 0 picks one, -1 turns it off)")
    live.add_argument("--no-zeroconf", action="store_true", help="do not advertise _oscjson._tcp")
    live.add_argument("--midi-in", default=None, metavar="PORT",
                      help="MIDI input port (a part of its name, see `latentbridge midi-devices`), or `virtual` for "
                           "a port of our own (latentbridge-midi:latentbridge)")
    live.add_argument("--quiet", action="store_true", help="no live status line")
    live.set_defaults(func=run_live)
    dev = subparsers.add_parser("devices", help="list audio devices by host API",
                                epilog="Example: latentbridge devices")
    dev.add_argument("--jack-name", action="store_true", help="register as the `latentbridge` JACK client")
    dev.set_defaults(func=run_devices)
    midi = subparsers.add_parser("midi-devices", help="list MIDI input ports by API (JACK, ALSA)",
                                 epilog="Example: latentbridge midi-devices")
    midi.set_defaults(func=run_midi_devices)
    presets = subparsers.add_parser("presets", help="bundled chain presets",
                                    epilog="Example: latentbridge presets list")
    actions = presets.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the bundled presets",
                       epilog="Example: latentbridge presets list").set_defaults(func=run_presets)
