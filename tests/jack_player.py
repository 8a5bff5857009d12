"""Test helpers for the live engine on a real JACK server: start `latentbridge live` as a subprocess, and a JACK
client (JACK-Client) that plays a signal into the engine's input port and records its output port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jack
import numpy as np

from realtime.engine import HELPER_PRIORITY, realtime_priority

PLAYER_PRIORITY = 65


def jack_env(server: str) -> dict[str, str]:
    return dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_AUDIO_RESERVATION="1")


def start_engine(server: str, tmp: Path, preset: str, seconds: float, *extra: str) -> subprocess.Popen[str]:
    """`latentbridge live` on JACK with status JSON and both recordings in `tmp`; returns when it runs."""
    status = tmp / "status.json"
    cmd = [sys.executable, "-m", "export.cli", "live", "--preset", preset, "--hostapi", "JACK",
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


class Player:
    """Plays `audio` (float32 mono at the server rate) from `start()` on and records what comes back."""

    def __init__(self, server: str, audio: np.ndarray, record_seconds: float, engine: str = "latentbridge") -> None:
        # this thread shares the interpreter lock with the JACK callback: keep it from being preempted while
        # holding it (as the engine does with its helper threads), and restore it in close()
        self.policy = os.sched_getscheduler(0), os.sched_getparam(0)
        realtime_priority(HELPER_PRIORITY)
        self.client = jack.Client("lbtest-player", servername=server, no_start_server=True)
        self.out = self.client.outports.register("out")
        self.inp = self.client.inports.register("in")
        self.audio = audio.astype(np.float32)
        self.recording = np.zeros(int(record_seconds * self.client.samplerate), np.float32)
        self.pos = -1  # not playing yet
        self.done = threading.Event()
        self.xruns = 0
        self.realtime_tried = False
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        self.client.connect(self.out, f"{engine}:in_0")
        self.client.connect(f"{engine}:out_0", self.inp)

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        if not self.realtime_tried:  # like any JACK client with --no-realtime: ask for SCHED_FIFO ourselves
            self.realtime_tried = True
            realtime_priority(PLAYER_PRIORITY)
        out = self.out.get_array()
        if self.pos < 0 or self.done.is_set():
            out[:] = 0.0
            return
        p = self.pos
        chunk = self.audio[p: p + frames]
        out[: chunk.shape[0]] = chunk
        out[chunk.shape[0]:] = 0.0
        room = self.recording.shape[0] - p
        if room > 0:
            self.recording[p: p + min(frames, room)] = self.inp.get_array()[: min(frames, room)]
        self.pos = p + frames
        if self.pos >= self.recording.shape[0]:
            self.done.set()

    def start(self) -> None:
        self.pos = 0

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
        os.sched_setscheduler(0, *self.policy)


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
