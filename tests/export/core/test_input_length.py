"""Every command that reads audio keeps the length a file really holds: a truncated WAV (the header promises 2 s, the
data holds 0.667 s) is read as 0.667 s with one warning line, never padded with silence to the header's length;
a WAV of 0 frames is the one-line "audio is empty" error (exit 2, nothing written)."""

from __future__ import annotations

import json
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from export.app import cli
from export.core.audio_io import read_audio, write_audio

RATE = 44100
HELD = 29_400  # 0.667 s of the 2 s the header declares


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    """`latentbridge` with the dream command registered (as tests/test_dream.py does)."""
    if "models.dream.cli" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "models.dream.cli"))
    return cli.main


def truncated_wav(path: Path) -> Path:
    """A 2-s stereo 44.1-kHz 24-bit WAV (a decaying 196-Hz tone with harmonics) cut after HELD frames."""
    t = np.arange(2 * RATE) / RATE
    tone = sum(np.sin(2 * np.pi * 196.0 * k * t) / k for k in range(1, 6)) * np.exp(-t)
    audio = (0.4 * np.stack([tone, 0.5 * tone]) / np.abs(tone).max()).astype(np.float32)
    write_audio(path, audio, RATE, "wav24")
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"data") + 8 + HELD * 2 * 3])
    return path


def empty_wav(path: Path) -> Path:
    """A valid WAV header with 0 frames."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"")
    return path


def commands(source: Path, tmp_path: Path) -> dict[str, tuple[list[str], Path, int]]:
    """name -> (argv, output file, output channels)."""
    style = tmp_path / "style.wav"
    if not style.exists():
        t = np.arange(RATE) / RATE
        write_audio(style, (0.3 * np.sign(np.sin(2 * np.pi * 330.0 * t)))[None].astype(np.float32), RATE)
    out = tmp_path / "out"
    return {
        "morph": (["morph", str(source), "--target", "reed", "--amount", "0.5", "--out", str(out / "morph.wav")],
                  out / "morph.wav", 2),
        "render": (["render", str(source), "--preset", "effects-only", "--workers", "1", "--out",
                    str(out / "render")], out / "render" / f"{source.stem}.wav", 2),
        "style": (["style", "--content", str(source), "--style", str(style), "--out", str(out / "style.wav"),
                   "--method", "stft-gram", "--iterations", "1"], out / "style.wav", 1),
        "dream": (["dream", str(source), "--out", str(out / "dream.wav"), "--tag", "guitar", "--steps", "1"],
                  out / "dream.wav", 2),
    }


@pytest.mark.parametrize("command", ["morph", "render", "style", "dream"])
def test_a_truncated_input_keeps_its_real_length(tmp_path: Path, main: Callable[[list[str]], int],
                                                 capsys: pytest.CaptureFixture[str], one_thread: None,
                                                 command: str) -> None:
    source = truncated_wav(tmp_path / "in.wav")
    argv, out, channels = commands(source, tmp_path)[command]
    assert main(argv) == 0
    got, rate = read_audio(out)
    assert rate == RATE and got.shape == (channels, HELD)  # not the header's 88 200 frames
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"latentbridge: warning: {source}: truncated: the header says 2.000 s, the data holds "
                        "0.667 s; reading 0.667 s"]
    if command == "render":
        assert json.loads(out.with_suffix(".json").read_text())["frames"] == HELD


@pytest.mark.parametrize("command", ["morph", "render", "style", "dream"])
def test_a_wav_of_zero_frames_is_empty_audio(tmp_path: Path, main: Callable[[list[str]], int],
                                             capsys: pytest.CaptureFixture[str], command: str) -> None:
    source = empty_wav(tmp_path / "empty.wav")
    argv, out, _ = commands(source, tmp_path)[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"latentbridge: error: {source}: audio is empty (0 samples)"
    assert not out.exists() and not out.with_suffix(".json").exists()
