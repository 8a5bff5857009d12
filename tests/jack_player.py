"""Test helpers for the live engine on a real JACK server: start `latentbridge live` as a subprocess, and a JACK
client (in C) that plays a signal into the engine's input port and records its output port."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def jackd_log(server: str) -> Path:
    """Where the test fixtures keep a JACK server's output (JACK names the late client at each xrun)."""
    return Path(tempfile.gettempdir()) / f"{server}.log"


@dataclass
class ServerXruns:
    """The xruns a JACK server logged in a stretch of its log: the clients it named as not finished in time,
    and how often its own timer woke late (the dummy driver's thread, not any client)."""

    blamed: list[str]
    timer: int


def server_xruns(server: str, since: int) -> ServerXruns:
    """Xruns logged from byte `since` of the server's log on (`jackd_log(server).stat().st_size` earlier)."""
    with jackd_log(server).open("rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    blamed = [line.split("client = ")[1].split(" was not finished")[0] for line in lines
              if "JackEngine::XRun: client = " in line]
    return ServerXruns(blamed, sum("JackTimedDriver::Process XRun" in line for line in lines))


@contextlib.contextmanager
def running_jackd(*server_options: str) -> Iterator[str]:
    """`jackd --no-realtime [server_options] -d dummy -r 48000 -p 256` under a unique server name; yields it."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    name = f"lbtest-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    log = jackd_log(name)
    with log.open("wb") as sink:  # a file, not a pipe nobody reads: a full pipe would stall the server
        proc = subprocess.Popen(["jackd", "--no-realtime", *server_options, "-n", name, "-d", "dummy", "-r", "48000",
                                 "-p", "256"], stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_wait", "-c", "-s", name], capture_output=True, env=env,
                             text=True).stdout.strip() != "running":
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jackd did not start: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.1)
        # --no-realtime keeps jackd from needing privileges; where they exist anyway, give its threads SCHED_FIFO
        # as a real-time server would have (a preempted server thread is an xrun for every client)
        if shutil.which("chrt"):
            subprocess.run(["chrt", "-a", "-f", "-p", "50", str(proc.pid)], capture_output=True)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.unlink(missing_ok=True)


def jack_env(server: str) -> dict[str, str]:
    return dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_AUDIO_RESERVATION="1")


def start_engine(server: str, tmp: Path, preset: str, seconds: float, *extra: str) -> subprocess.Popen[str]:
    """`latentbridge live` on JACK with status JSON and both recordings in `tmp`; returns when it runs."""
    status = tmp / "status.json"
    cmd = [sys.executable, "-m", "export.app.cli", "live", "--preset", preset, "--hostapi", "JACK",
           "--samplerate", "48000", "--blocksize", "256", "--duration", str(seconds), "--quiet",
           "--status-json", str(status), "--record", str(tmp / "out.wav"), "--record-input", str(tmp / "in.wav"),
           "--oscquery-port", "0", "--no-zeroconf", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=jack_env(server))
    deadline = time.monotonic() + 60
    while not status.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the engine did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return proc


def read_status(tmp: Path) -> dict[str, Any]:
    for _ in range(50):
        try:
            return json.loads((tmp / "status.json").read_text())
        except (json.JSONDecodeError, FileNotFoundError):
            time.sleep(0.02)
    raise AssertionError("no readable status JSON")


PLAYER_SOURCE = Path(__file__).parent / "jack_fixture" / "jack_file_player.c"


@functools.cache
def player_binary() -> Path:
    """Compile the C test player once per test session (needs gcc and libjack's headers)."""
    out = Path(tempfile.mkdtemp(prefix="lbtest-player-")) / "jack_file_player"
    cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-D_DEFAULT_SOURCE", str(PLAYER_SOURCE), "-o", str(out),
           "-ljack", "-lpthread"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"cannot build the JACK test player: {done.stderr.strip()[-500:]}")
    return out


class Player:
    """Plays `audio` (float32 mono at the server rate) from `start()` on and records what comes back, through a
    JACK client written in C (`jack_fixture/jack_file_player.c`): its process callback never waits for this
    interpreter, so the player itself cannot cause the xruns the engine tests count."""

    def __init__(self, server: str, audio: np.ndarray, record_seconds: float, engine: str = "latentbridge") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lbtest-play-"))
        audio.astype(np.float32).tofile(self.dir / "play.f32")
        self.frames = int(record_seconds * 48000)
        self.recording = np.zeros(self.frames, np.float32)
        self.xruns = 0
        self.xrun_at: list[int] = []  # frames recorded when the server reported each xrun (-1: before start)
        self.done = threading.Event()
        self.proc = subprocess.Popen(
            [str(player_binary()), server, "lbtest-player", str(self.dir / "play.f32"), str(self.dir / "rec.f32"),
             str(self.frames), f"{engine}:in_0", f"{engine}:out_0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=jack_env(server))
        ready = self.proc.stdout.readline().split() if self.proc.stdout else []
        if ready[:1] != ["ready"] or int(ready[1]) != 48000:
            self.proc.kill()
            raise AssertionError(f"the JACK test player did not start: {ready} {self.proc.communicate()[1][-500:]}")
        threading.Thread(target=self._wait_done, daemon=True).start()

    def _wait_done(self) -> None:
        line = self.proc.stdout.readline().split() if self.proc.stdout else []
        if line[:1] == ["done"]:
            self.xruns, self.xrun_at = int(line[1]), [int(at) for at in line[2:]]
        self.done.set()

    def _send(self, line: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def start(self) -> None:
        self._send("start")

    def close(self) -> None:
        """Stop (if still playing), wait for the player to exit and load its recording."""
        if not self.done.is_set():
            self._send("stop")
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        got = np.fromfile(self.dir / "rec.f32", np.float32) if (self.dir / "rec.f32").exists() else np.zeros(0)
        self.recording[: got.shape[0]] = got
        shutil.rmtree(self.dir, ignore_errors=True)


def plucks(seconds: float, rate: int = 48000, every: float = 0.5, seed: int = 0) -> np.ndarray:
    """Plucked harmonic tones (random pitch 150-400 Hz) every `every` seconds: sharp onsets, clear pitch."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), np.float32)
    n = int(0.45 * rate)
    t = np.arange(n) / rate
    for start in np.arange(0.25, seconds - every, every):
        f0 = rng.uniform(150, 400)
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8)) * np.exp(-t / 0.12)
        i = int(start * rate)
        out[i: i + n] += 0.3 * tone.astype(np.float32)
    return out


def onsets(audio: np.ndarray, rate: int = 48000, hop: int = 64, rise_db: float = 20.0) -> np.ndarray:
    """Sample positions where the short-time energy first rises `rise_db` above the floor after a quiet gap."""
    frames = audio[: audio.shape[0] // hop * hop].reshape(-1, hop)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    floor = np.percentile(db, 10)
    above = db > floor + rise_db
    found, quiet = [], np.inf
    for i, a in enumerate(above):
        if a and quiet >= 0.1 * rate / hop:
            found.append(i * hop)
        quiet = 0 if a else quiet + 1
    return np.array(found)


def fresh_status(tmp: Path, after: float) -> dict[str, Any]:
    """The first status the engine wrote after `after` (a `time.time()`; it rewrites the file twice a second)."""
    deadline = time.monotonic() + 10.0
    while (status := read_status(tmp))["time"] <= after:
        assert time.monotonic() < deadline, "the engine stopped writing its status"
        time.sleep(0.05)
    return status
