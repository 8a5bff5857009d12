"""The C test player (tests/jack_fixture/jack_file_player.c) on a JACK server of its own: it reports how far it
had recorded when the server reported each xrun, so the engine tests compare what it heard only before the first.
A client that stalls on purpose (python-jack, 60 ms in one 5.3-ms cycle) makes the xrun."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from jack_player import Player, running_jackd

RATE = 48000
STALL_AFTER = RATE // 2  # the player plays silence, then a constant: the stalling client stalls once it hears it


def test_the_player_reports_where_the_server_reported_an_xrun() -> None:
    jack = pytest.importorskip("jack")
    with running_jackd() as server:
        client = jack.Client("stall", servername=server, no_start_server=True)
        inport, outport = client.inports.register("in_0"), client.outports.register("out_0")
        stalled = threading.Event()

        @client.set_process_callback
        def process(frames: int) -> None:
            heard = inport.get_array()
            outport.get_array()[:] = heard
            if not stalled.is_set() and heard.max() > 0.25:
                stalled.set()
                time.sleep(0.06)  # 11 periods: the server finds this client unfinished

        with client:
            signal = np.concatenate([np.zeros(STALL_AFTER, np.float32), np.full(RATE, 0.5, np.float32)])
            player = Player(server, signal, 3.0, engine="stall")
            try:
                player.start()
                assert player.done.wait(30)
            finally:
                player.close()
    print(f"xruns: {player.xruns} at recorded frames {player.xrun_at}")
    assert stalled.is_set()
    assert player.xruns >= 1 and len(player.xrun_at) == min(player.xruns, 64)
    # a stalling machine may add xruns anywhere; what it cannot do is report the one made here before it happened
    # (unless more than the 64 the player places came first)
    assert all(-1 <= at <= player.frames for at in player.xrun_at)
    assert max(player.xrun_at) >= STALL_AFTER or player.xruns > len(player.xrun_at)
