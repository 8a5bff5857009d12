"""read_poly on a `dataset poly` render and on a hand-made folder of WAV + MIDI pairs; its one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError
from models.data.poly_midi import NoteLabel
from models.data.poly_reader import PolyPhrase, read_poly
from models.data.soundfonts import find_default_soundfonts

RATE = 16000


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = {p.name: p for p in find_default_soundfonts()}
    if "TimGM6mb.sf2" not in found:
        pytest.skip("TimGM6mb.sf2 not installed (apt-get install timgm6mb-soundfont)")
    out = tmp_path_factory.mktemp("poly") / "poly"
    assert main(["dataset", "poly", "--out", str(out), "--soundfont", str(found["TimGM6mb.sf2"]),
                 "--limit", "4", "--workers", "1"]) == 0
    return out


@pytest.fixture
def copy(rendered: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "poly"))


def test_reads_a_render_by_split(rendered: Path) -> None:
    index = json.loads((rendered / "phrases.json").read_text())
    everything = read_poly(rendered)
    assert [p.name for p in everything] == sorted(index["phrases"])
    for split, names in index["splits"].items():
        phrases = read_poly(rendered, split)
        assert [p.name for p in phrases] == sorted(names)
        for p in phrases:
            entry = index["phrases"][p.name]
            assert isinstance(p, PolyPhrase) and p.split == split and p.audio_path.is_file()
            assert (p.style, list(p.programs), p.seconds, len(p.notes)) == (entry["style"], entry["programs"],
                                                                            entry["seconds"], entry["notes"])
            assert p.soundfont == entry["soundfont"] and p.soundfont.endswith(".sf2")
            assert all(isinstance(n, NoteLabel) for n in p.notes)


def write_pair(folder: Path, name: str) -> None:
    """2 s of audio and a type-1 file at 480 ticks per beat with a tempo change at 1 s (120 -> 60 bpm), a
    +-12 semitone bend range, a bend, a drum hit, a running-status note-off and a note never released."""
    folder.mkdir(parents=True, exist_ok=True)
    write_audio(folder / f"{name}.wav", np.zeros((1, 2 * RATE), np.float32), RATE)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0),
                           mido.MetaMessage("set_tempo", tempo=1_000_000, time=960)])
    keys = mido.MidiTrack([
        mido.Message("program_change", channel=2, program=33, time=0),
        mido.Message("control_change", channel=2, control=101, value=0, time=0),
        mido.Message("control_change", channel=2, control=100, value=0, time=0),
        mido.Message("control_change", channel=2, control=6, value=12, time=0),
        mido.Message("note_on", channel=2, note=40, velocity=90, time=0),
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
        mido.Message("note_on", channel=2, note=47, velocity=70, time=480),  # 0.5 s
        mido.Message("pitchwheel", channel=2, pitch=4096, time=240),  # 0.75 s: +6 semitones
        mido.Message("note_on", channel=2, note=40, velocity=0, time=240),  # 1.0 s
        mido.Message("pitchwheel", channel=2, pitch=0, time=240),  # 1.5 s at 60 bpm
        mido.Message("note_off", channel=2, note=47, velocity=0, time=240),  # 2.0 s
        mido.Message("note_on", channel=2, note=52, velocity=60, time=0),  # held to the end
        mido.MetaMessage("end_of_track", time=240)])  # 2.5 s
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks += [meta, keys]
    midi.save(str(folder / f"{name}.mid"))


def test_reads_a_folder_of_wav_and_midi_pairs(tmp_path: Path) -> None:
    write_pair(tmp_path / "train", "take1")
    (tmp_path / "train" / "unpaired.wav").write_bytes((tmp_path / "train" / "take1.wav").read_bytes())
    for phrases in (read_poly(tmp_path, "train"), read_poly(tmp_path / "train")):
        assert len(phrases) == 1
        p = phrases[0]
        assert (p.name, p.style, p.programs, p.seconds) == ("take1", "midi", (33,), 2.0)
        assert p.audio_path == tmp_path / "train" / "take1.wav"
        assert p.notes == (NoteLabel(0.0, 1.0, 40, 90, 33, 2, ((0.0, 0.0), (0.75, 6.0))),
                           NoteLabel(0.5, 2.0, 47, 70, 33, 2, ((0.5, 0.0), (0.75, 6.0), (1.5, 0.0))),
                           NoteLabel(2.0, 2.5, 52, 60, 33, 2, ()))


def one_line_error(match: str, *args: object) -> None:
    with pytest.raises(LatentbridgeError, match=match) as info:
        read_poly(*args)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_bad_folders(tmp_path: Path) -> None:
    one_line_error("no such dataset directory", tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    one_line_error("no NAME.wav \\+ NAME.mid pairs", tmp_path / "empty")
    one_line_error("no 'train' folder", tmp_path / "empty", "train")
    write_pair(tmp_path / "bad", "take")
    (tmp_path / "bad" / "take.mid").write_bytes(b"MThd garbage")
    one_line_error("cannot read MIDI file", tmp_path / "bad")
    write_pair(tmp_path / "noaudio", "take")
    (tmp_path / "noaudio" / "take.wav").write_bytes(b"RIFF....WAVEjunk")
    one_line_error("cannot decode audio", tmp_path / "noaudio")


def test_bad_index_and_labels(copy: Path) -> None:
    index_path = copy / "phrases.json"
    index = json.loads(index_path.read_text())
    one_line_error("no split 'dev'", copy, "dev")
    name = index["splits"]["train"][0]
    label = copy / "train" / f"{name}.json"
    data = json.loads(label.read_text())
    label.write_text(json.dumps({**data, "notes": [{**data["notes"][0], "pitch": "C4"}]}))
    one_line_error("note 0 has a field of the wrong type", copy, "train")
    label.write_text(json.dumps({**data, "soundfont": 3}))
    one_line_error("field 'soundfont' is not a string", copy, "train")
    label.write_text(json.dumps({k: v for k, v in data.items() if k != "style"}))
    one_line_error("field 'style' missing", copy, "train")
    label.write_text("{not json")
    one_line_error("malformed JSON", copy, "train")
    label.unlink()
    one_line_error("no such file", copy, "train")
    (copy / "valid" / f"{index['splits']['valid'][0]}.wav").unlink()
    one_line_error("no such audio file", copy, "valid")
    index_path.write_text(json.dumps({"sample_rate": RATE}))
    one_line_error("no 'splits' object", copy)
    index_path.write_text("[1, 2")
    one_line_error("malformed JSON", copy, "test")
