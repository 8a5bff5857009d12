"""`voices` / `max_voices` everywhere a user can give them: one-line errors, and a stage switched live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from plugin_host.neural_stage import MorphStage
from plugin_host.presets import build_chain, read_preset

RATE = 48000


def preset(tmp_path: Path, stage: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"stages:\n  - {stage}\n")
    return path


def test_bad_voice_options_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.wav"
    write_audio(source, np.zeros((1, 4800), np.float32) + 0.01, RATE, "wav16")
    out = tmp_path / "out.wav"
    for argv, message in ((["--voices", "poly", "--max-voices", "0"], "voice count must be an integer from 1 to 16"),
                          (["--voices", "poly", "--max-voices", "17"], "voice count must be an integer from 1 to 16")):
        assert main(["morph", str(source), "--target", "reed", "--amount", "0", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert not out.exists()
    with pytest.raises(SystemExit):  # argparse refuses an unknown mode with its usage line
        main(["morph", str(source), "--target", "reed", "--amount", "0", "--out", str(out), "--voices", "chords"])
    assert main(["render", str(source), "--preset", "effects-only", "--out", str(tmp_path / "r"), "--voices",
                 "poly"]) == 2
    assert "has no resynth or morph stage" in capsys.readouterr().err
    with pytest.raises(LatentbridgeError, match="stages/0/voices"):
        read_preset(preset(tmp_path, "{name: m, kind: morph, target: reed, voices: chords}"))
    with pytest.raises(LatentbridgeError, match="voice count must be an integer from 1 to 16"):
        build_chain(read_preset(preset(tmp_path, "{name: m, kind: morph, target: reed, max_voices: 17}")), RATE)


def test_the_voices_command_switches_a_stage_and_refuses_nonsense() -> None:
    stage = MorphStage("m", RATE, "reed")
    assert stage.describe()["voices"] == "mono" and stage.describe()["max_voices"] == 6
    with pytest.raises(LatentbridgeError, match="voices must be one of mono, poly"):
        stage.prepare_command("voices", "chords")
    stage.command("voices", "poly")
    assert stage.poly.mode == "poly"
    block = (0.1 * np.sin(2 * np.pi * 220 * np.arange(RATE // 4) / RATE)).astype(np.float32)
    assert np.isfinite(stage.process(block)).all()
    stage.command("voices", "mono")
    assert stage.describe()["voices"] == "mono"
