"""A real JACK server streams audio through PortAudio's JACK host API (via sounddevice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

STREAM_SCRIPT = r"""
import json, time, numpy as np, sounddevice as sd
apis = [h["name"] for h in sd.query_hostapis()]
jack = next(i for i, h in enumerate(sd.query_hostapis()) if "JACK" in h["name"])
dev = next(d for d in sd.query_devices() if d["hostapi"] == jack)
frames = [0]
peak = [0.0]
phase = [0]
def callback(indata, outdata, n, t, status):
    k = np.arange(phase[0], phase[0] + n)
    outdata[:, 0] = 0.5 * np.sin(2 * np.pi * 1000 * k / 48000)
    phase[0] += n
    frames[0] += n
    peak[0] = max(peak[0], float(np.abs(outdata).max()))
with sd.Stream(device=(dev["index"], dev["index"]), samplerate=48000, blocksize=256,
               channels=1, callback=callback):
    time.sleep(0.6)
print(json.dumps({"apis": apis, "frames": frames[0], "peak": peak[0], "device": dev["name"]}))
"""


def test_duplex_stream_runs_on_jack_dummy(jack_server: str) -> None:
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server, JACK_NO_AUDIO_RESERVATION="1")
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-1000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "JACK Audio Connection Kit" in report["apis"]
    # 0.6 s at 48 kHz in 256-frame periods: at least half of it must have been processed
    assert report["frames"] >= 0.3 * 48000
    assert report["frames"] % 256 == 0
    assert abs(report["peak"] - 0.5) < 1e-3
