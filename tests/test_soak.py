"""Ten minutes of the default morph preset on a real JACK server: no late block, no xrun of the engine's, and
its resident memory grows by less than 10 MB. Behind the `soak` marker (`pytest -m soak`), not in CI."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from jack_player import Player, jackd_log, plucks, read_status, server_xruns, start_engine
from test_live_session import check_engine_kept_up

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
        player.start()
        first = read_status(tmp_path)["blocks"] + 3 * 48000 // 256  # the player connects in the first seconds
        time.sleep(30)
        start_rss = rss_mb(proc.pid)
        assert player.done.wait(seconds + 60)
        end_rss = rss_mb(proc.pid)
        server = server_xruns(jack_server, log_start)
    finally:
        player.close()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    status = read_status(tmp_path)
    print(f"soak: {status['blocks']} blocks, late {status['late_blocks']}, xruns {status['xruns']}, "
          f"worker {status['worker_fraction']}, RSS {start_rss:.1f} -> {end_rss:.1f} MB")
    check_engine_kept_up(status, first, first + int((seconds - 4) * 48000) // 256, server)
    assert end_rss - start_rss < 10.0
