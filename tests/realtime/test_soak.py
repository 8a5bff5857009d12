"""Ten minutes of the default morph preset on a real JACK server: no late block and no callback overrun (the
engine's totals over the stretch the player played), and its resident memory grows by less than 10 MB. Behind the
`soak` marker (`pytest -m soak`), not in CI: on a VM that stalls it fails whatever the engine does."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from jack_player import Player, fresh_status, jackd_log, plucks, read_status, server_xruns, start_engine
from live_checks import check_engine_kept_up

MINUTES = 10.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.soak
def test_ten_minutes_without_a_late_block_and_flat_memory(jack_server: str, tmp_path: Path) -> None:
    seconds = 60 * MINUTES
    proc = start_engine(jack_server, tmp_path, "morph-reed", seconds + 120)
    player = Player(jack_server, plucks(seconds + 2, every=1.0), seconds)
    log_start = jackd_log(jack_server).stat().st_size
    try:
        first = fresh_status(tmp_path, time.time())  # the player is connected
        player.start()
        time.sleep(30)
        start_rss = rss_mb(proc.pid)
        assert player.done.wait(seconds + 60)
        end_rss = rss_mb(proc.pid)
        server = server_xruns(jack_server, log_start)
        last = fresh_status(tmp_path, time.time())
    finally:
        player.close()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    status = read_status(tmp_path)
    print(f"soak: {status['blocks']} blocks, late {status['late_blocks']}, xruns {status['xruns']}, "
          f"worker {status['worker_fraction']}, RSS {start_rss:.1f} -> {end_rss:.1f} MB")
    assert last["blocks"] - first["blocks"] >= seconds * 48000 // 256  # the readings cover what the player played
    check_engine_kept_up(first, last, server)
    assert end_rss - start_rss < 10.0
