"""Audio I/O through pedalboard: round trips, resampling against a computed sine, bad inputs, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from export.core.audio_io import atomic_output, check_audio, read_audio, read_mono, resample, write_audio
from export.core.errors import LatentbridgeError


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# integer formats: within two quantisation steps (pedalboard scales by 2**(b-1)-1 on write, 2**(b-1) on read)
@pytest.mark.parametrize("fmt,tol", [("wav16", 2 / 2**15), ("wav24", 2 / 2**23 + 1e-7), ("wav32f", 1e-7),
                                     ("flac", 2 / 2**23 + 1e-7)])
def test_write_read_round_trip(tmp_path: Path, fmt: str, tol: float) -> None:
    audio = np.stack([sine(440, 16000, 0.25), sine(660, 16000, 0.25, 0.25)])
    path = tmp_path / ("x.flac" if fmt == "flac" else "x.wav")
    write_audio(path, audio, 16000, fmt=fmt)
    back, rate = read_audio(path)
    assert rate == 16000 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= tol


def test_read_resamples_and_mixes_to_mono(tmp_path: Path) -> None:
    stereo = np.stack([sine(300, 48000, 1.0), sine(300, 48000, 1.0)])
    write_audio(tmp_path / "s.wav", stereo, 48000, fmt="wav32f")
    mono = read_mono(tmp_path / "s.wav")
    assert mono.ndim == 1 and abs(len(mono) - 16000) <= 1
    reference = sine(300, 16000, 1.0)[: len(mono)]
    assert np.max(np.abs(mono[500:-500] - reference[500:-500])) < 0.05


def test_resample_keeps_length_and_frequency() -> None:
    x = sine(1000, 44100, 1.0)
    y = resample(x, 44100, 16000)
    assert y.shape == (16000,)
    peak_bin = int(np.argmax(np.abs(np.fft.rfft(y))))
    assert peak_bin == 1000
    assert np.max(np.abs(y[200:-200] - sine(1000, 16000, 1.0)[200:-200])) < 0.05


@pytest.mark.parametrize("bad,msg", [(np.zeros((1, 0)), "empty"), (np.array([0.0, np.nan]), "NaN"),
                                     (np.array([np.inf, 0.0]), "NaN or Inf"), (np.zeros((1, 2, 3)), "shape")])
def test_check_audio_rejects_bad_input(bad: np.ndarray, msg: str) -> None:
    with pytest.raises(LatentbridgeError, match=msg):
        check_audio(bad)


def test_corrupt_and_missing_files_give_one_line_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(LatentbridgeError, match="cannot decode") as info:
        read_audio(corrupt)
    assert "\n" not in str(info.value)
    with pytest.raises(LatentbridgeError, match="no such audio file"):
        read_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    write_audio(tmp_path / "one.wav", np.zeros((1, 1), np.float32), 16000)
    empty.write_bytes(b"")
    with pytest.raises(LatentbridgeError):
        read_audio(empty)


def test_outputs_are_atomic_and_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    write_audio(target, sine(440, 16000, 0.1), 16000)
    before = target.read_bytes()
    with pytest.raises(LatentbridgeError, match="already exists"):
        write_audio(target, sine(880, 16000, 0.1), 16000)
    assert target.read_bytes() == before
    with pytest.raises(RuntimeError):
        with atomic_output(target, force=True) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    write_audio(target, sine(880, 16000, 0.1), 16000, force=True)
    assert target.read_bytes() != before


def test_format_and_suffix_must_agree(tmp_path: Path) -> None:
    with pytest.raises(LatentbridgeError, match="needs a .flac"):
        write_audio(tmp_path / "x.wav", sine(440, 16000, 0.1), 16000, fmt="flac")
    with pytest.raises(LatentbridgeError, match="unknown audio format"):
        write_audio(tmp_path / "x.wav", sine(440, 16000, 0.1), 16000, fmt="mp3")


def test_fit_length_mono_at_and_check_outputs(tmp_path: Path) -> None:
    from export.core.audio_io import check_outputs, fit_length, mono_at

    x = np.arange(5, dtype=np.float32)
    assert fit_length(x, 3).tolist() == [0, 1, 2] and fit_length(x, 7).tolist() == [0, 1, 2, 3, 4, 0, 0]
    stereo = np.stack([np.ones(160, np.float32), -np.ones(160, np.float32) * 0.5])
    assert np.allclose(mono_at(stereo, 16000), 0.25) and mono_at(stereo, 16000).dtype == np.float32
    source, out = tmp_path / "in.wav", tmp_path / "out.wav"
    source.write_bytes(b"x")
    check_outputs([out], [source], force=False)
    with pytest.raises(LatentbridgeError, match="is an input file"):
        check_outputs([source], [source], force=True)
    out.write_bytes(b"y")
    with pytest.raises(LatentbridgeError, match="already exists"):
        check_outputs([out], [source], force=False)
    check_outputs([out], [source], force=True)
