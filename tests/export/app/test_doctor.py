"""`latentbridge doctor` and the provider choice: everything present here, a fix when something is missing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from export.app.cli import main


def test_doctor_reports_everything_present(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {c["name"]: c for c in report["checks"]}
    for required in ("python", "python: onnxruntime-gpu", "python: pedalboard", "portaudio",
                     "portaudio jack support", "jack server", "soundfonts", "espeak-ng", "python: tinysoundfont"):
        assert by_name[required]["ok"], by_name[required]
    assert "CPUExecutionProvider" in by_name["onnxruntime providers"]["detail"]


def test_doctor_fails_with_a_fix_without_soundfonts(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LATENTBRIDGE_SF2_PATH", str(tmp_path))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "MISSING  soundfonts" in out
    assert "apt-get install fluid-soundfont-gm timgm6mb-soundfont" in out


ORT_SCRIPT = r"""
import numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto
from export.onnx.providers import preferred_providers
node = helper.make_node("Mul", ["x", "x"], ["y"])
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
sess = ort.InferenceSession(model.SerializeToString(), providers=preferred_providers())
print(sess.get_providers()[0], float(sess.run(None, {"x": np.array([3.0], np.float32)})[0][0]))
"""


def test_cpu_machine_runs_onnx_without_provider_warnings() -> None:
    out = subprocess.run([sys.executable, "-c", ORT_SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    provider, value = out.stdout.split()
    assert value == "9.0"
    from export.onnx.providers import cuda_device_count

    if cuda_device_count() == 0:
        assert provider == "CPUExecutionProvider"
        assert out.stderr.strip() == ""
