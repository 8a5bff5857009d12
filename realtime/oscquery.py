"""OSCQuery: the engine's OSC address space as an HTTP JSON tree (on 127.0.0.1) and a zeroconf
`_oscjson._tcp` advertisement, so controllers can discover every parameter.

GET / returns the tree (FULL_PATH, CONTENTS, TYPE, RANGE, VALUE, DESCRIPTION, ACCESS, UNIT): each parameter
appears as /latentbridge/<stage>/<param> (normalised 0..1, what OSC Send and TouchOSC send) with a `value`
child in native units; /latentbridge/tempo is in BPM, with a VALUE once a tempo is known. GET /any/path returns
that node; GET /?HOST_INFO returns NAME, OSC_PORT, OSC_TRANSPORT and EXTENSIONS. VALUE is read from the live
chain at request time, so it always agrees with `/latentbridge/query`.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from realtime.osc_control import PREFIX
from realtime.tempo_sync import MAX_BPM, MIN_BPM

log = logging.getLogger("latentbridge.oscquery")
READ_WRITE = 3


def _leaf(path: str, type_: str, low: Any, high: Any, value: Any, description: str, unit: str = "") -> dict[str, Any]:
    node = {"FULL_PATH": path, "TYPE": type_, "ACCESS": READ_WRITE, "DESCRIPTION": description,
            "VALUE": [value], "RANGE": [{"MIN": low, "MAX": high}]}
    if unit:
        node["UNIT"] = [unit]
    return node


def tree(chain: Chain, tempo_bpm: float | None = None) -> dict[str, Any]:
    """The OSCQuery namespace of `chain` (see the module docstring)."""
    stages: dict[str, Any] = {}
    for stage_name, param in chain.parameters():
        spec = param.spec
        path = f"{PREFIX}/{stage_name}/{spec.name}"
        node = _leaf(path, "f", 0.0, 1.0, spec.to_normalised(param.target),
                     f"{spec.description or spec.name} (normalised 0..1, {spec.curve} curve)")
        node["CONTENTS"] = {"value": _leaf(f"{path}/value", "f", spec.low, spec.high, param.target,
                                           f"{spec.description or spec.name} in native units", spec.unit)}
        stage = stages.setdefault(stage_name, {"FULL_PATH": f"{PREFIX}/{stage_name}", "CONTENTS": {}})
        stage["CONTENTS"][spec.name] = node
    for s in chain.stages:
        stage = stages.setdefault(s.name, {"FULL_PATH": f"{PREFIX}/{s.name}", "CONTENTS": {}})
        stage["CONTENTS"]["bypass"] = _leaf(f"{PREFIX}/{s.name}/bypass", "i", 0, 1, int(s.bypassed), "bypass")
        for command in s.commands:
            texts = getattr(s, "texts", {})
            node = {"FULL_PATH": f"{PREFIX}/{s.name}/{command}", "TYPE": "s", "ACCESS": READ_WRITE,
                    "VALUE": [texts.get(command, "")], "DESCRIPTION": "FAMILY, FAMILY:MIDI or an audio file"}
            head, _, tail = command.partition("/")
            if tail:
                group = stage["CONTENTS"].setdefault(head, {"FULL_PATH": f"{PREFIX}/{s.name}/{head}", "CONTENTS": {}})
                group["CONTENTS"][tail] = node
            else:
                stage["CONTENTS"][command] = node
        if {"x", "y"} <= set(s.params):
            x, y = s.params["x"], s.params["y"]
            stage["CONTENTS"]["xy"] = {"FULL_PATH": f"{PREFIX}/{s.name}/xy", "TYPE": "ff", "ACCESS": READ_WRITE,
                                       "VALUE": [x.spec.to_normalised(x.target), y.spec.to_normalised(y.target)],
                                       "RANGE": [{"MIN": 0.0, "MAX": 1.0}] * 2, "DESCRIPTION": "XY pad position"}
    tempo = _leaf(f"{PREFIX}/tempo", "f", MIN_BPM, MAX_BPM, tempo_bpm,
                  "tempo in BPM; moves the preset's tempo_sync parameters", "BPM")
    if tempo_bpm is None:
        del tempo["VALUE"]
    root = {"FULL_PATH": PREFIX, "CONTENTS": {
        **stages,
        "bypass": _leaf(f"{PREFIX}/bypass", "i", 0, 1, int(chain.bypassed), "bypass the whole chain"),
        "query": {"FULL_PATH": f"{PREFIX}/query", "ACCESS": 2, "DESCRIPTION": "reply with every value"},
        "tempo": tempo,
        "preset": {"FULL_PATH": f"{PREFIX}/preset", "CONTENTS": {"load": {
            "FULL_PATH": f"{PREFIX}/preset/load", "TYPE": "s", "ACCESS": 2, "VALUE": [chain.name],
            "DESCRIPTION": "load a bundled preset or a preset file"}}},
    }}
    return {"FULL_PATH": "/", "DESCRIPTION": "latentbridge", "CONTENTS": {PREFIX.strip("/"): root}}


def find(node: dict[str, Any], path: str) -> dict[str, Any] | None:
    for part in [p for p in path.split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer:
    def __init__(self, chain: Callable[[], Chain], osc_port: int, port: int = 0, host: str = "127.0.0.1",
                 advertise: bool = True, tempo: Callable[[], float | None] | None = None) -> None:
        self.chain, self.osc_port = chain, osc_port
        self.tempo = tempo if tempo is not None else (lambda: None)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                if url.query == "HOST_INFO":
                    body: Any = server.host_info()
                else:
                    body = find(tree(server.chain(), server.tempo()), url.path)
                if body is None:
                    self.send_error(404, "no such OSC address")
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        try:
            self.http = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise LatentbridgeError(f"cannot serve OSCQuery on {host}:{port} ({exc.strerror or exc})") from exc
        self.port = self.http.server_address[1]
        self._thread = threading.Thread(target=self.http.serve_forever, name="oscquery", daemon=True)
        self.zeroconf: Any = None
        self.advertise = advertise

    def host_info(self) -> dict[str, Any]:
        return {"NAME": "latentbridge", "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                "OSC_IP": "127.0.0.1",
                "EXTENSIONS": {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "UNIT": True,
                               "TAGS": False, "LISTEN": False, "PATH_CHANGED": False}}

    def start(self) -> None:
        self._thread.start()
        if self.advertise:
            self._advertise()

    def _advertise(self) -> None:
        try:
            from zeroconf import ServiceInfo, Zeroconf

            self.zeroconf = Zeroconf(interfaces=["127.0.0.1"])
            info = ServiceInfo("_oscjson._tcp.local.", "latentbridge._oscjson._tcp.local.",
                               addresses=[socket.inet_aton("127.0.0.1")], port=self.port,
                               server=f"latentbridge-{self.port}.local.")
            self.zeroconf.register_service(info)
            self.info = info
        except Exception as exc:  # noqa: BLE001 (no multicast here must not stop the engine)
            log.warning("zeroconf advertisement unavailable (%s); OSCQuery still serves on port %d", exc, self.port)
            self.zeroconf = None

    def stop(self) -> None:
        if self.zeroconf is not None:
            self.zeroconf.unregister_all_services()
            self.zeroconf.close()
        self.http.shutdown()
        self.http.server_close()
