"""Shared fixtures: a real JACK server (`jackd -d dummy`) for engine and audio-server tests; one torch thread."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """Start `jackd --no-realtime -d dummy` under a unique server name; yield that name."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    name = f"lbtest-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_wait", "-c", "-s", name], capture_output=True, env=env,
                             text=True).stdout.strip() != "running":
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"jackd did not start: {out[-500:]}")
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


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny training loops: on a shared 2-core machine a second torch thread only adds waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
