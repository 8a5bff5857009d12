"""NSynthDataset on our `dataset notes` output and on a hand-built official-release folder; its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from models.data.note_synth import NOTE_SAMPLES, NoteSynth
from models.data.nsynth_reader import FIELDS, NSynthDataset, NSynthExample
from models.data.soundfonts import find_default_soundfonts

RATE = 16000


def official_entry(note_str: str, note: int, instrument: int, family: tuple[int, str],
                   source: tuple[int, str], qualities: list[int]) -> dict:
    """An entry spelled like the official NSynth examples.json."""
    instrument_str, pitch, velocity = note_str.rsplit("-", 2)
    names = ["bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic", "nonlinear_env",
             "percussive", "reverb", "tempo-synced"]
    return {"note": note, "sample_rate": RATE, "pitch": int(pitch), "instrument_source": source[0],
            "instrument_family_str": family[1], "instrument_str": instrument_str, "note_str": note_str,
            "instrument_source_str": source[1], "velocity": int(velocity), "instrument_family": family[0],
            "instrument": instrument, "qualities": qualities,
            "qualities_str": [n for n, q in zip(names, qualities, strict=True) if q]}


def sine(freq: float, rate: int = RATE, seconds: float = 4.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    """A miniature of the official release: nsynth-valid/examples.json + audio/*.wav (one file at 48 kHz)."""
    split = tmp_path / "nsynth-valid"
    (split / "audio").mkdir(parents=True)
    entries = {
        "keyboard_electronic_001-021-127": official_entry("keyboard_electronic_001-021-127", 201034, 20,
                                                          (4, "keyboard"), (1, "electronic"), [0] * 10),
        "bass_synthetic_033-050-100": official_entry("bass_synthetic_033-050-100", 167283, 417, (0, "bass"),
                                                     (2, "synthetic"), [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
    }
    (split / "examples.json").write_text(json.dumps(entries))
    write_audio(split / "audio" / "keyboard_electronic_001-021-127.wav", sine(440.0), RATE)
    write_audio(split / "audio" / "bass_synthetic_033-050-100.wav", sine(220.0, 48000), 48000)
    return tmp_path


def test_reads_the_official_release_layout(release: Path) -> None:
    ds = NSynthDataset(release, "valid")
    assert len(ds) == 2 and [e.note_str for e in ds.examples] == ["bass_synthetic_033-050-100",
                                                                  "keyboard_electronic_001-021-127"]
    example, audio = ds[0]
    assert isinstance(example, NSynthExample)
    assert (example.note, example.instrument, example.pitch, example.velocity) == (167283, 417, 50, 100)
    assert example.qualities == (0, 1, 0, 0, 0, 0, 0, 0, 0, 0) and example.qualities_str == ("dark",)
    assert (example.instrument_family, example.instrument_family_str) == (0, "bass")
    assert example.audio_path == release / "nsynth-valid" / "audio" / "bass_synthetic_033-050-100.wav"
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(len(audio) - NOTE_SAMPLES) <= 2
    reference = sine(220.0)[: len(audio)]  # resampled from 48 kHz on read
    assert np.max(np.abs(audio[1000:-1000] - reference[1000:-1000])) < 0.05  # as in test_audio_io
    _, direct = NSynthDataset(release / "nsynth-valid")[1]
    assert np.max(np.abs(direct - sine(440.0))) < 2 / 2**15


def test_filters(release: Path) -> None:
    ds = NSynthDataset(release / "nsynth-valid", "valid")
    assert [e.pitch for e in ds.by_family("bass").examples] == [50]
    assert len(ds.by_source("electronic", "synthetic")) == 2 and len(ds.by_source("acoustic")) == 0
    assert [e.pitch for e in ds.by_pitch(21, 40).examples] == [21]
    assert [e.velocity for e in ds.by_velocity(127).examples] == [127]
    both = ds.filter(families=["keyboard", "bass"], pitches=(40, 60), velocities=[100])
    assert [e.note_str for e in both.examples] == ["bass_synthetic_033-050-100"]
    assert both.split_dir == ds.split_dir
    assert ds.instruments() == ["bass_synthetic_033", "keyboard_electronic_001"]
    assert len(ds.where(lambda e: e.instrument_family_str == "bass")) == 1


def test_reads_our_layout_and_matches_a_fresh_render(tmp_path: Path) -> None:
    fonts = {p.name: p for p in find_default_soundfonts()}
    if "TimGM6mb.sf2" not in fonts:
        pytest.skip("TimGM6mb.sf2 not installed")
    root = tmp_path / "notes"
    assert main(["dataset", "notes", "--out", str(root), "--soundfont", str(fonts["TimGM6mb.sf2"]),
                 "--families", "string,brass", "--limit", "12", "--workers", "1"]) == 0
    instruments = json.loads((root / "instruments.json").read_text())
    total = 0
    for split in ("train", "valid", "test"):
        ds = NSynthDataset(root, split)
        assert len(ds) == len(NSynthDataset(root / split)) == len(json.loads((root / split / "examples.json")
                                                                           .read_text()))
        total += len(ds)
    assert total == 12
    example, audio = NSynthDataset(root, "test")[0]
    assert audio.shape == (NOTE_SAMPLES,) and audio.dtype == np.float32
    program = instruments[example.instrument_str]["program"]
    fresh = NoteSynth(fonts["TimGM6mb.sf2"]).render(program, example.pitch, example.velocity)
    assert np.max(np.abs(audio - fresh)) < 2 / 2**15  # the WAV is the render, 16-bit quantised


def test_missing_examples_json(tmp_path: Path) -> None:
    with pytest.raises(LatentbridgeError, match="no examples.json"):
        NSynthDataset(tmp_path, "train")
    with pytest.raises(LatentbridgeError, match="no such dataset directory"):
        NSynthDataset(tmp_path / "nowhere", "train")


def test_root_without_split_names_the_splits(release: Path) -> None:
    with pytest.raises(LatentbridgeError, match="splits here: nsynth-valid"):
        NSynthDataset(release)


def test_malformed_json(release: Path) -> None:
    (release / "nsynth-valid" / "examples.json").write_text('{"a": {"note": 1,')
    with pytest.raises(LatentbridgeError, match="malformed JSON") as info:
        NSynthDataset(release, "valid")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", FIELDS)
def test_missing_field(release: Path, field: str) -> None:
    path = release / "nsynth-valid" / "examples.json"
    data = json.loads(path.read_text())
    del data["bass_synthetic_033-050-100"][field]
    path.write_text(json.dumps(data))
    with pytest.raises(LatentbridgeError, match=f"lacks field '{field}'"):
        NSynthDataset(release, "valid")


def test_wrong_field_type(release: Path) -> None:
    path = release / "nsynth-valid" / "examples.json"
    data = json.loads(path.read_text())
    data["bass_synthetic_033-050-100"]["pitch"] = "50"
    path.write_text(json.dumps(data))
    with pytest.raises(LatentbridgeError, match="'pitch' is not an integer"):
        NSynthDataset(release, "valid")


def test_corrupt_and_missing_wav(release: Path) -> None:
    ds = NSynthDataset(release, "valid")
    ds.examples[0].audio_path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(LatentbridgeError, match="cannot decode audio") as info:
        ds[0]
    assert "\n" not in str(info.value)
    ds.examples[1].audio_path.unlink()
    with pytest.raises(LatentbridgeError, match="no such audio file"):
        ds[1]
