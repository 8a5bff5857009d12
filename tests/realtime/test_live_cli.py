"""`latentbridge live / devices / presets` from the command line: bad devices, rates, presets and models give a
one-line error and a non-zero exit, never a traceback (a real JACK server provides the devices)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jack
import pytest
from jack_player import jack_env, running_jackd


def run(server: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "export.app.cli", *args], capture_output=True, text=True,
                          env=jack_env(server), timeout=120)


def one_line_error(out: subprocess.CompletedProcess[str], message: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("latentbridge: error: "), out.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in out.stderr


LIVE = ("live", "--hostapi", "JACK", "--duration", "1", "--quiet", "--osc-port", "0", "--oscquery-port", "-1")


def test_missing_and_corrupt_presets_and_models(jack_server: str, tmp_path: Path) -> None:
    one_line_error(run(jack_server, *LIVE, "--preset", "nope"), "unknown preset 'nope'")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [{name: m, kind: morph, target: reed, parameters: {amount: 4}}]")
    one_line_error(run(jack_server, *LIVE, "--preset", str(bad)), "outside [0, 1]")
    broken = tmp_path / "broken"
    for graph in ("controls", "encoder", "decoder"):
        Path(f"{broken}.{graph}.onnx").write_bytes(b"not a model")
    preset = tmp_path / "broken.yaml"
    preset.write_text(f"stages: [{{name: r, kind: resynth, model: {broken}}}]")
    one_line_error(run(jack_server, *LIVE, "--preset", str(preset)), "broken.controls.onnx")


def test_missing_device_unknown_host_api_and_unsupported_rate(jack_server: str) -> None:
    one_line_error(run(jack_server, *LIVE, "--input-device", "999"), "no input device 999")
    one_line_error(run(jack_server, *LIVE, "--output-device", "no-such-card"), "no output device matching")
    one_line_error(run(jack_server, *LIVE, "--hostapi", "Nope"), "no host API matching 'Nope'")
    one_line_error(run(jack_server, *LIVE, "--samplerate", "44100"), "cannot do 44100 Hz")
    one_line_error(run(jack_server, *LIVE, "--blocksize", "3"), "--blocksize must be in [16, 8192]")
    one_line_error(run(jack_server, *LIVE, "--osc-host", "0.0.0.0"), "needs an allow-list")


@pytest.mark.parametrize("backend", ["native", "sounddevice"])
def test_a_busy_device_is_a_one_line_error(backend: str) -> None:
    """A device that cannot take another stream: a JACK server (allowed 8 ports, 4 of them its own) whose
    other ports another client holds. PortAudio's own diagnostic print must not reach the user either."""
    with running_jackd("--port-max", "8") as server:
        holder = jack.Client("holder", servername=server, no_start_server=True)
        try:
            with pytest.raises(jack.JackError):
                for i in range(8):
                    holder.outports.register(f"held_{i}")
            out = run(server, *LIVE, "--preset", "effects-only", "--audio-backend", backend)
        finally:
            holder.close()
        one_line_error(out, "the JACK server refused the stream's ports")


def test_record_never_overwrites_without_force(jack_server: str, tmp_path: Path) -> None:
    existing = tmp_path / "take.wav"
    existing.write_bytes(b"keep me")
    one_line_error(run(jack_server, *LIVE, "--record", str(existing)), "exists (use --force")
    assert existing.read_bytes() == b"keep me"


def test_a_short_live_run_records_and_reports(jack_server: str, tmp_path: Path) -> None:
    out = run(jack_server, *LIVE, "--preset", "effects-only", "--record", str(tmp_path / "take.wav"),
              "--status-json", str(tmp_path / "status.json"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "take.wav").stat().st_size > 44 and (tmp_path / "status.json").is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_devices_lists_the_jack_host_api_and_presets_lists_the_bundled_ones(jack_server: str) -> None:
    out = run(jack_server, "devices")
    assert out.returncode == 0 and "JACK Audio Connection Kit:" in out.stdout
    out = run(jack_server, "presets", "list")
    assert out.returncode == 0
    for name in ("effects-only", "morph-reed", "xy-pad", "resynth"):
        assert name in out.stdout


@pytest.mark.parametrize("args, message", [(("--osc-reply", "nohost"), "HOST:PORT"),
                                           (("--osc-allow", "10.0.0.0/33", "--osc-host", "0.0.0.0"), "--osc-allow")])
def test_bad_osc_options(jack_server: str, args: tuple[str, ...], message: str) -> None:
    one_line_error(run(jack_server, *LIVE, *args), message)


def test_reply_address_gets_meters_status_and_tags(jack_server: str, tmp_path: Path) -> None:
    import socket

    from pythonosc.osc_packet import OscPacket

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(1)
    args = ["live", "--hostapi", "JACK", "--duration", "3", "--quiet", "--osc-port", "0", "--oscquery-port", "-1",
            "--preset", "morph-tagged", "--osc-reply", f"127.0.0.1:{listener.getsockname()[1]}",
            "--status-json", str(tmp_path / "status.json")]
    proc = subprocess.Popen([sys.executable, "-m", "export.app.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=jack_env(jack_server))
    seen: dict[str, float] = {}
    counts: dict[str, list[int]] = {"late_blocks": [], "xruns": []}
    try:
        while True:  # everything until the engine has stopped and gone quiet
            try:
                data, _ = listener.recvfrom(65536)
            except TimeoutError:
                if proc.poll() is not None:
                    break
                continue
            for timed in OscPacket(data).messages:
                seen[timed.message.address] = timed.message.params[0]
                if timed.message.address.startswith("/latentbridge/status/"):
                    counts.get(timed.message.address.rsplit("/", 1)[1], []).append(timed.message.params[0])
    finally:
        proc.communicate(timeout=60)
        listener.close()
    assert proc.returncode == 0
    # the counts as they grew, the last sent once the engine had stopped: what its final status says
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "stopped"
    for name, values in counts.items():
        assert len(values) > 10 and values == sorted(values) and values[-1] == status[name], (name, values[-3:])
    assert seen["/latentbridge/status/latency_ms"] == pytest.approx(status["added_latency_ms"], abs=0.01)
    assert seen["/latentbridge/meter/output_db"] <= 0.0
    tags = {a: p for a, p in seen.items() if a.startswith("/latentbridge/tags/tags/")}
    assert len(tags) > 10 and all(0.0 <= p <= 1.0 for p in tags.values())
