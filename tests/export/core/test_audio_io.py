"""Audio I/O through pedalboard: round trips, resampling against a computed sine, bad inputs, atomic writes."""

from __future__ import annotations

import struct
import wave
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


def truncate(path: Path, keep_frames: int, frame_bytes: int, extra: bytes = b"") -> None:
    """Cut a WAV written by `write_audio` after `keep_frames` frames of its data chunk (its header unchanged),
    then append `extra` bytes."""
    data = path.read_bytes()
    start = data.index(b"data") + 8
    path.write_bytes(data[: start + keep_frames * frame_bytes] + extra)


def wav_bytes(samples: bytes, declared: int, channels: int = 1, rate: int = 16000, extra: bytes = b"") -> bytes:
    """A 16-bit PCM WAV whose data chunk declares `declared` bytes and holds `samples`, then `extra` bytes."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", declared)
            + samples + extra)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("fmt,width", [("wav16", 2), ("wav24", 3), ("wav32f", 4)])
def test_truncated_wav_is_read_as_far_as_its_data_goes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       fmt: str, width: int) -> None:
    audio = np.stack([sine(440, 16000, 2.0), sine(660, 16000, 2.0, 0.25)])  # the header says 2.000 s
    path = tmp_path / "in.wav"
    write_audio(path, audio, 16000, fmt)
    full, _ = read_audio(path)
    assert capsys.readouterr().err == ""
    truncate(path, 10_667, 2 * width, extra=b"\x01")  # 0.667 s and a stray byte of an unfinished frame
    got, rate = read_audio(path)
    assert rate == 16000 and got.shape == (2, 10_667)
    np.testing.assert_array_equal(got, full[:, :10_667])
    err = capsys.readouterr().err
    assert err == (f"latentbridge: warning: {path}: truncated: the header says 2.000 s, the data holds 0.667 s; "
                   "reading 0.667 s\n")
    resampled, rate = read_audio(path, sample_rate=44100)  # resampling keeps the real length too
    assert rate == 44100 and resampled.shape == (2, resample(full[:, :10_667], 16000, 44100).shape[1])
    assert abs(resampled.shape[1] - 10_667 * 44100 / 16000) <= 1
    assert read_mono(path).shape == (10_667,)


def test_truncated_aiff_is_read_as_far_as_its_data_goes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pedalboard.io import AudioFile

    path = tmp_path / "in.aiff"
    with AudioFile(str(path), "w", samplerate=22050, num_channels=2, bit_depth=16) as f:
        f.write(np.stack([sine(440, 22050, 1.0), sine(660, 22050, 1.0)]))
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"SSND") + 16 + 7350 * 4])
    got, rate = read_audio(path)
    assert rate == 22050 and got.shape == (2, 7350)
    assert "truncated: the header says 1.000 s, the data holds 0.333 s" in capsys.readouterr().err


def test_wav_of_zero_frames_is_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    with wave.open(str(path), "wb") as w:  # a valid header, 0 frames
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"")
    for kwargs in ({}, {"sample_rate": 16000}):
        with pytest.raises(LatentbridgeError, match=r"empty.wav: audio is empty \(0 samples\)$"):
            read_audio(path, **kwargs)


def test_wav_data_then_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = (10_000 * np.sin(np.arange(1000) * 0.1)).astype("<i2").tobytes()
    path = tmp_path / "x.wav"
    # a complete data chunk followed by bytes that are no chunk: the header's 1000 frames, no warning
    path.write_bytes(wav_bytes(samples, 2000, extra=b"\x13\x37garbage" * 5))
    got, _ = read_audio(path)
    assert got.shape == (1, 1000) and capsys.readouterr().err == ""
    np.testing.assert_allclose(got[0], np.frombuffer(samples, "<i2") / 32768, atol=1e-4)
    # the header claims 2000 frames, the file holds 1000 and 80 bytes of garbage: those 1040 frames are read
    # (garbage can't be told from samples), never the 960 frames of silence pedalboard would add
    path.write_bytes(wav_bytes(samples, 4000, extra=b"garbage!" * 10))
    got, _ = read_audio(path)
    assert got.shape == (1, 1040)
    assert "the header says 0.125 s, the data holds 0.065 s" in capsys.readouterr().err
    # a streaming writer's "unknown size" (0xFFFFFFFF): what is there, no warning (pedalboard: 2**31 - 1 frames)
    path.write_bytes(wav_bytes(samples, 0xFFFFFFFF))
    got, _ = read_audio(path)
    assert got.shape == (1, 1000) and capsys.readouterr().err == ""


def test_nan_samples_in_a_file_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    write_audio(path, np.full((2, 100), 0.1, np.float32), 16000, "wav32f")
    path.write_bytes(path.read_bytes()[:-4] + np.array([np.inf], np.float32).tobytes())
    with pytest.raises(LatentbridgeError, match="NaN or Inf"):
        read_audio(path, sample_rate=44100)


def test_clipping_on_write_is_said_in_one_line_and_float_keeps_the_samples(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hot = np.array([[0.5, 1.5, -2.0, 0.25]], np.float32)
    write_audio(tmp_path / "hot.wav", hot, 16000, "wav16")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"latentbridge: warning: {tmp_path / 'hot.wav'}: 2 samples over full scale (peak +6.0 dBFS) "
                   "were clipped; the wav32f format keeps them"]
    back, _ = read_audio(tmp_path / "hot.wav")
    assert np.abs(back).max() <= 1.0 + 1 / 32767  # full scale, no wrap-around
    write_audio(tmp_path / "hot32.wav", hot, 16000, "wav32f")
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(read_audio(tmp_path / "hot32.wav")[0], hot)
    write_audio(tmp_path / "fine.wav", hot * 0.4, 16000, "wav16")
    assert capsys.readouterr().err == ""
