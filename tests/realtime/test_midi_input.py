"""MIDI input on a real JACK server (`jackd -d dummy`): ports found by a part of their name or made virtual,
messages taken in order with their arrival times, one-line errors for unknown ports, the port listing.

The module has a server of its own: the session's server has just seen engines of earlier tests come and go, and
a clean-clone run once got no MIDI at all through it for over 10 s right after them (later tests' MIDI went
through). A failure here prints this server's log and connections."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import rtmidi
from jack_player import jack_env, jackd_log, running_jackd

from export.core.errors import LatentbridgeError
from realtime.midi_input import MidiInput, device_table


@pytest.fixture(scope="module")
def midi_server() -> Iterator[str]:
    with running_jackd() as name:
        yield name


@pytest.fixture
def on_jack(midi_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", midi_server)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    yield midi_server


def server_state(server: str) -> str:
    """The server's connections and the tail of its log, for a failure's message."""
    ports = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, env=jack_env(server), timeout=10)
    log = jackd_log(server).read_text(errors="replace")[-1500:]
    return f"jack_lsp -c:\n{ports.stdout}{ports.stderr}\njackd log:\n{log}"


def drain_until(port: MidiInput, count: int, server: str) -> list[tuple[bytes, float]]:
    """What the port got, waiting up to 20 s for `count` messages; fails with the server's state if none came."""
    got: list[tuple[bytes, float]] = []
    deadline = time.monotonic() + 20
    while len(got) < count and time.monotonic() < deadline:
        got += port.drain()
        time.sleep(0.01)
    assert got, f"no MIDI message arrived within 20 s\n{server_state(server)}"
    return got


def test_a_port_found_by_name_delivers_every_message_in_order(on_jack: str) -> None:
    sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="lbtest-keys")
    sender.open_virtual_port("out")
    try:
        assert "lbtest-keys:out" in device_table()
        port = MidiInput("LBTEST-KEYS")  # a part of the name, any case
        assert port.api == "JACK" and port.port == "lbtest-keys:out"
        time.sleep(0.2)
        sent = [[0x90, 60 + i, 100] if i % 2 == 0 else [0x80, 60 + i - 1, 0] for i in range(40)]
        for message in sent:
            sender.send_message(message)
            time.sleep(0.002)
        got = drain_until(port, len(sent), on_jack)
        assert [list(m) for m, _ in got] == sent
        times = [t for _, t in got]
        assert times == sorted(times) and times[-1] - times[0] > 0.05
        assert port.received == len(sent) and port.drain() == []
        port.close()
    finally:
        sender.delete()


def test_a_virtual_port_takes_connections(on_jack: str) -> None:
    port = MidiInput("virtual")
    sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="lbtest-virtual")
    try:
        assert port.port == "latentbridge-midi:latentbridge"
        names = sender.get_ports()
        sender.open_port(names.index("latentbridge-midi:latentbridge"))
        time.sleep(0.2)
        sender.send_message([0xB0, 74, 99])
        assert [list(m) for m, _ in drain_until(port, 1, on_jack)] == [[0xB0, 74, 99]]
    finally:
        sender.delete()
        port.close()


def test_an_unknown_port_is_a_one_line_error_listing_the_ports(on_jack: str) -> None:
    sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="lbtest-listed")
    sender.open_virtual_port("out")
    try:
        with pytest.raises(LatentbridgeError) as err:
            MidiInput("no-such-keyboard")
        message = str(err.value)
        assert "no JACK MIDI input port matches 'no-such-keyboard'" in message and "lbtest-listed:out" in message
        assert "\n" not in message
    finally:
        sender.delete()
