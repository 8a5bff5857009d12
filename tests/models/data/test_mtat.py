"""`dataset clips` and MTATDataset: MTAT's CSV layout, tags checked against the MIDI files and the audio
(independently of clip_tags), distortion measured against a dry re-render, determinism, the reader on our
output and on a hand-built MTAT-style folder (quoted and unquoted CSV, mp3), errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import read_mono, write_audio
from export.core.errors import LatentbridgeError
from models.data import clip_tags
from models.data.gm_programs import FAMILIES, GM_PROGRAMS, SOURCES
from models.data.mtat_reader import MTATDataset
from models.data.soundfonts import find_default_soundfonts

RATE = 16000
SECONDS = 4
CLIPS = 12
SEED = 9  # its 12 clips of 4 s include distorted and clean, drums and none, vocals, effect-free clips
TAGGED_EFFECTS = {"Reverb": "reverb", "Distortion": "distorted", "Chorus": "chorus", "Delay": "delay",
                  "Phaser": "phaser"}
CREST_DROP = 1.4  # dry crest factor / final crest factor: measured 1.6..3.5 with Distortion, 0.5..1.2 without
SPLIT_OF_FOLDER = {**dict.fromkeys("0123456789ab", "train"), "c": "valid", **dict.fromkeys("def", "test")}


@pytest.fixture(scope="module")
def fonts() -> list[Path]:
    found = find_default_soundfonts()
    if not found:
        pytest.skip("no General MIDI SoundFont (apt-get install fluid-soundfont-gm timgm6mb-soundfont)")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return found


def render(out: Path, *extra: str, seed: int = SEED, clips: int = CLIPS, workers: int = 2) -> Path:
    assert main(["dataset", "clips", "--out", str(out), "--clips", str(clips), "--duration", str(SECONDS),
                 "--seed", str(seed), "--workers", str(workers), "--json", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def root(fonts: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("clips") / "out")


def log(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "render_log.jsonl").read_text().splitlines()]


def csv_rows(root: Path) -> tuple[list[str], list[list[str]]]:
    lines = (root / "annotations_final.csv").read_text().splitlines()
    table = [[field[1:-1] for field in line.split("\t")] for line in lines]
    return table[0], table[1:]


def midi_facts(path: Path) -> dict:
    """What a MIDI file says, parsed with mido alone."""
    midi = mido.MidiFile(str(path))
    facts: dict = {"programs": {}, "notes": {}, "melody": []}
    for track in midi.tracks:
        name = next((m.name for m in track if m.type == "track_name"), "")
        for m in track:
            if m.type == "set_tempo":
                facts["tempo"] = m.tempo
            elif m.type == "key_signature":
                facts["key"] = m.key
            elif m.type == "time_signature":
                facts["meter"] = (m.numerator, m.denominator)
            elif m.type == "program_change":
                facts["programs"][m.channel] = m.program
            elif m.type == "note_on" and m.velocity > 0:
                facts["notes"][m.channel] = facts["notes"].get(m.channel, 0) + 1
                if name == "melody":
                    facts["melody"].append(m.note)
    return facts


def dry_render(midi_path: Path, soundfont: str) -> np.ndarray:
    """The whole MIDI file through one tinysoundfont synth, no effects: events driven from mido's timeline."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=RATE)
    synth.sfload(soundfont)
    n, pos, now, blocks = SECONDS * RATE, 0, 0.0, []
    for m in mido.MidiFile(str(midi_path)):
        now += m.time
        if m.is_meta:
            continue
        at = min(n, int(round(now * RATE)))
        if at > pos:
            blocks.append(np.frombuffer(synth.generate(at - pos), dtype=np.float32))
            pos = at
        if m.type == "note_on" and m.velocity > 0:
            synth.noteon(m.channel, m.note, m.velocity)
        elif m.type in ("note_on", "note_off"):
            synth.noteoff(m.channel, m.note)
        elif m.type == "program_change":
            synth.program_change(m.channel, m.program, m.channel == 9)
        elif m.type == "control_change":
            synth.control_change(m.channel, m.control, m.value)
    blocks.append(np.frombuffer(synth.generate(n - pos), dtype=np.float32))
    return np.concatenate(blocks).reshape(-1, 2).mean(axis=1)


def crest(x: np.ndarray) -> float:
    """Median peak/RMS over 50 ms frames louder than a tenth of the loudest."""
    frames = x[: x.size // 800 * 800].reshape(-1, 800).astype(np.float64)
    level, peak = np.sqrt(np.mean(frames ** 2, axis=1)), np.max(np.abs(frames), axis=1)
    loud = level > 0.1 * level.max()
    return float(np.median(peak[loud] / level[loud]))


def spectral_residual(audio: np.ndarray, reference: np.ndarray) -> float:
    """Relative distance of STFT magnitudes (1024-sample Hann frames, hop 512) after the best gain. Waveforms
    would not do: tinysoundfont updates envelopes in 64-sample blocks from each generate() call, so rendering
    channel by channel moves drum envelopes by a few ms against one whole-file render (up to 4 % residual)."""
    def magnitudes(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::512] * np.hanning(1024)
        return np.abs(np.fft.rfft(frames, axis=1))

    a, r = magnitudes(audio), magnitudes(reference)
    gain = np.sum(a * r) / np.sum(r * r)
    return float(np.sqrt(np.sum((a - gain * r) ** 2) / np.sum(a ** 2)))


def test_csv_is_mtat_layout(root: Path) -> None:
    lines = (root / "annotations_final.csv").read_text().splitlines()
    assert len(lines) == CLIPS + 1
    quoted = re.compile(r'^"[^"\t]*"$')
    for line in lines:
        fields = line.split("\t")
        assert len(fields) == len(clip_tags.TAGS) + 2 and all(quoted.match(f) for f in fields)
    header, rows = csv_rows(root)
    assert header == ["clip_id", *clip_tags.TAGS, "mp3_path"]
    records = log(root)
    splits = json.loads((root / "splits.json").read_text())
    for row, rec in zip(rows, records, strict=True):
        assert row[0] == rec["clip_id"] and set(row[1:-1]) <= {"0", "1"}
        assert [t for t, v in zip(clip_tags.TAGS, row[1:-1], strict=True) if v == "1"] == rec["tags"]
        assert re.fullmatch(r"[0-9a-f]/clip_\d{5}\.wav", row[-1]) and row[-1] == rec["mp3_path"]
        assert rec["clip_id"] in splits[SPLIT_OF_FOLDER[row[-1][0]]]
        assert (root / "midi" / f"{row[0]}.mid").is_file()
        from pedalboard.io import AudioFile

        with AudioFile(str(root / row[-1])) as f:
            assert (f.samplerate, f.num_channels, f.frames) == (RATE, 1, SECONDS * RATE)
            assert f.file_dtype == "int16"
    assert {s: len(splits[s]) for s in ("train", "valid", "test")} == {"train": 8, "valid": 1, "test": 3}


def test_vocabulary_is_documented() -> None:
    assert len(clip_tags.TAGS) >= 30 and len(set(clip_tags.TAGS)) == len(clip_tags.TAGS)
    assert set(FAMILIES) | set(SOURCES) <= set(clip_tags.TAGS)
    doc = clip_tags.__doc__ or ""
    assert all(re.search(rf"\b{t}\b", doc) for t in clip_tags.TAGS)


def test_fixture_covers_the_cases(root: Path) -> None:
    tags = [set(r["tags"]) for r in log(root)]
    for tag in ("distorted", "drums", "no_drums", "vocal", "no_vocal", "fast"):
        assert any(tag in t for t in tags), tag
    assert not all("distorted" in t for t in tags)


def test_tags_agree_with_the_midi_files(root: Path) -> None:
    for rec in log(root):
        tags, facts = set(rec["tags"]), midi_facts(root / "midi" / f"{rec['clip_id']}.mid")
        drums_play = facts["notes"].get(9, 0) > 0
        assert ("drums" in tags) == drums_play and ("no_drums" in tags) == (not drums_play)
        melodic = {ch: GM_PROGRAMS[p] for ch, p in facts["programs"].items() if ch != 9}
        assert all(facts["notes"].get(ch, 0) > 0 for ch in melodic)
        espeak = rec["vocal"] is not None
        families = {gm.family for gm in melodic.values()} | ({"vocal"} if espeak else set())
        assert tags & set(FAMILIES) == families
        sources = {gm.source for gm in melodic.values()} | ({"synthetic"} if espeak else set())
        if drums_play:
            sources.add("electronic" if facts["programs"][9] in (24, 25) else "acoustic")
        assert tags & set(SOURCES) == sources
        assert ("piano" in tags) == any(gm.program <= 3 for gm in melodic.values())
        bpm = 60e6 / facts["tempo"]
        assert ("fast" in tags) == (bpm >= clip_tags.FAST_BPM - 0.005)
        assert ("slow" in tags) == (bpm <= clip_tags.SLOW_BPM + 0.005)
        assert rec["mode"] == ("minor" if facts["key"].endswith("m") else "major")
        assert not tags & {"major", "minor"}  # reviewed out: relative keys share their chords
        assert ("triple_meter" in tags) == (facts["meter"] == (3, 4))
        assert ("solo" in tags) == (len(melodic) == 1 and not drums_play and not espeak)
        assert ("ensemble" in tags) == (len(melodic) + espeak >= 3)
        median = float(np.median(facts["melody"]))
        assert ("high_register" in tags) == (median >= clip_tags.HIGH_PITCH)
        assert ("low_register" in tags) == (median <= clip_tags.LOW_PITCH)


def test_measured_tags_agree_with_the_audio(root: Path) -> None:
    for rec in log(root):
        tags, audio = set(rec["tags"]), read_mono(root / rec["mp3_path"]).astype(np.float64)
        level = 20 * np.log10(np.sqrt(np.mean(audio ** 2)))
        power = np.zeros(1025)
        for start in range(0, audio.size - 2048 + 1, 1024):
            power += np.abs(np.fft.rfft(audio[start:start + 2048] * np.hanning(2048))) ** 2
        centroid = float(np.sum(np.linspace(0, RATE / 2, 1025) * power) / np.sum(power))
        assert abs(level - rec["measured"]["rms_dbfs"]) < 0.05
        assert abs(centroid - rec["measured"]["centroid_hz"]) < 0.01 * centroid
        if abs(level - clip_tags.LOUD_DBFS) > 0.05 and abs(level - clip_tags.QUIET_DBFS) > 0.05:
            assert ("loud" in tags) == (level >= clip_tags.LOUD_DBFS)
            assert ("quiet" in tags) == (level <= clip_tags.QUIET_DBFS)
        if min(abs(centroid - clip_tags.BRIGHT_HZ), abs(centroid - clip_tags.DARK_HZ)) > 0.01 * centroid:
            assert ("bright" in tags) == (centroid >= clip_tags.BRIGHT_HZ)
            assert ("dark" in tags) == (centroid <= clip_tags.DARK_HZ)
        assert np.max(np.abs(audio)) <= 0.99


def test_effects_against_a_dry_rerender(root: Path) -> None:
    """Distorted clips lose crest factor against the MIDI rendered without effects; effect-free clips without
    vocals are that dry render up to the level; tagged effects and vocals change it."""
    checked_plain = 0
    for rec in log(root):
        audio = read_mono(root / rec["mp3_path"]).astype(np.float64)
        dry = dry_render(root / "midi" / f"{rec['clip_id']}.mid", rec["soundfont_path"]).astype(np.float64)
        chains = [rec["mix_effects"], *(p["effects"] for p in rec["parts"])]
        names = {e["name"] for chain in chains for e in chain}
        drop = crest(dry) / crest(audio)
        if "distorted" in rec["tags"]:
            assert "Distortion" in names and drop >= CREST_DROP, (rec["clip_id"], drop)
        else:
            assert "Distortion" not in names and drop < CREST_DROP, (rec["clip_id"], drop)
        for effect, tag in TAGGED_EFFECTS.items():
            assert (effect in names) == (tag in rec["tags"])
        residual = spectral_residual(audio, dry)
        if not names and rec["vocal"] is None:  # measured <= 0.006 over 200 clips of 30 s
            assert residual < 0.02, (rec["clip_id"], residual)
            checked_plain += 1
        elif names & set(TAGGED_EFFECTS) or rec["vocal"] is not None:  # measured >= 0.058
            assert residual > 0.03, (rec["clip_id"], residual)
    assert checked_plain >= 1


def test_deterministic_and_vocals_only_add_vocals(root: Path, tmp_path: Path) -> None:
    again = render(tmp_path / "again", workers=1)
    names = ["annotations_final.csv", "render_log.jsonl", "splits.json",
             *(str(p.relative_to(root)) for p in sorted(root.glob("*/*.*")))]
    for name in names:
        assert (again / name).read_bytes() == (root / name).read_bytes(), name
    quiet = render(tmp_path / "no_vocals", "--no-vocals")
    for rec, other in zip(log(root), log(quiet), strict=True):
        same = (quiet / other["mp3_path"]).read_bytes() == (root / rec["mp3_path"]).read_bytes()
        assert other["vocal"] is None and same == (rec["vocal"] is None)
        assert not {"sung", "spoken", "male_voice", "female_voice"} & set(other["tags"])
        midi = f"midi/{rec['clip_id']}.mid"
        assert (quiet / midi).read_bytes() == (root / midi).read_bytes()
    other_seed = render(tmp_path / "seed", seed=SEED + 1, clips=2)
    for rec in log(other_seed):
        assert (other_seed / rec["mp3_path"]).read_bytes() != (root / rec["mp3_path"]).read_bytes()
        midi = f"midi/{rec['clip_id']}.mid"
        assert (other_seed / midi).read_bytes() != (root / midi).read_bytes()


def test_reader_on_our_output(root: Path) -> None:
    data = MTATDataset(root)
    records = log(root)
    assert len(data) == CLIPS and data.tag_names == clip_tags.TAGS and data.skipped == 0
    _, rows = csv_rows(root)
    assert np.array_equal(data.label_matrix(), np.array([[int(v) for v in r[1:-1]] for r in rows], np.uint8))
    assert data.label_matrix().dtype == np.uint8
    for i, rec in enumerate(records):
        clip, audio = data[i]
        assert clip.clip_id == rec["clip_id"] and clip.tags == tuple(rec["tags"])
        assert audio.dtype == np.float32 and audio.shape == (SECONDS * RATE,)
        assert np.array_equal(audio, read_mono(root / rec["mp3_path"]))
    counts = data.label_matrix().sum(axis=0)
    top = data.top_tags(5)
    assert [counts[data.tag_names.index(t)] for t in top] == sorted(counts, reverse=True)[:5]
    splits = json.loads((root / "splits.json").read_text())
    for split in ("train", "valid", "test"):
        assert [c.clip_id for c in MTATDataset(root, split=split).clips] == splits[split]
    subset = MTATDataset(root, split="test", tags=["drums", "vocal"])
    assert subset.tag_names == ("drums", "vocal") and subset.label_matrix().shape == (3, 2)
    assert all(set(c.tags) <= {"drums", "vocal"} for c in subset.clips)


MTAT_TAGS = ("no voice", "singer", "guitar", "classical", "female vocal")


def sine(seconds: float = 1.0, rate: int = RATE, hz: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def write_mp3(path: Path, audio: np.ndarray, rate: int) -> None:
    from pedalboard.io import AudioFile, get_supported_write_formats

    if ".mp3" not in get_supported_write_formats():
        pytest.skip("this pedalboard build cannot write mp3")
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", samplerate=rate, num_channels=1, quality=128) as f:
        f.write(audio[None, :])


def mtat_folder(root: Path, quoted: bool = True, rows: list[list[str]] | None = None) -> Path:
    """Three clips: an mp3 at 22.05 kHz (train), a wav (valid) and a wav named .mp3 in the CSV (test)."""
    write_mp3(root / "0" / "artist-album-01-song-0-29.mp3", sine(1.0, 22050), 22050)
    write_audio(root / "c" / "artist-album-02-tune-30-59.wav", sine(1.0, RATE, 330.0)[None, :], RATE)
    write_audio(root / "f" / "artist-album-03-air-0-29.wav", sine(1.0, RATE, 550.0)[None, :], RATE)
    rows = rows or [["clip_id", *MTAT_TAGS, "mp3_path"],
                    ["2", "1", "0", "1", "1", "0", "0/artist-album-01-song-0-29.mp3"],
                    ["6", "0", "1", "0", "1", "1", "c/artist-album-02-tune-30-59.wav"],
                    ["10", "0", "1", "1", "0", "1", "f/artist-album-03-air-0-29.mp3"]]
    q = '"' if quoted else ""
    text = "".join("\t".join(f"{q}{v}{q}" for v in r) + "\r\n" for r in rows)
    (root / "annotations_final.csv").write_text(text)
    return root


def peak_hz(audio: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(audio))) * RATE / audio.size)


@pytest.mark.parametrize("quoted", [True, False])
def test_reader_on_mtat_style_folder(tmp_path: Path, quoted: bool) -> None:
    data = MTATDataset(mtat_folder(tmp_path, quoted))
    assert data.tag_names == MTAT_TAGS and [c.clip_id for c in data.clips] == ["2", "6", "10"]
    assert data.label_matrix().tolist() == [[1, 0, 1, 1, 0], [0, 1, 0, 1, 1], [0, 1, 1, 0, 1]]
    assert data.clips[0].tags == ("no voice", "guitar", "classical")
    assert data.clips[2].audio_path == tmp_path / "f" / "artist-album-03-air-0-29.wav"
    clip, audio = data[0]  # mp3 at 22.05 kHz, decoded and resampled
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(audio.size - RATE) < 0.1 * RATE
    assert abs(peak_hz(audio) - 440.0) < 3.0
    assert abs(peak_hz(data[1][1]) - 330.0) < 3.0 and abs(peak_hz(data[2][1]) - 550.0) < 3.0
    assert [len(MTATDataset(tmp_path, split=s)) for s in ("train", "valid", "test")] == [1, 1, 1]
    assert data.top_tags(2) == ("singer", "guitar")
    chosen = MTATDataset(tmp_path, tags=["female vocal", "guitar"])
    assert chosen.label_matrix().tolist() == [[0, 1], [1, 0], [1, 1]]


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(LatentbridgeError, match="annotations_final.csv"):
        MTATDataset(tmp_path)
    header = ["clip_id", *MTAT_TAGS, "mp3_path"]
    good = ["2", "1", "0", "1", "1", "0", "0/artist-album-01-song-0-29.mp3"]
    cases = {"3 columns": [header, good, ["3", "1", "x.mp3"]],
             "'2' is not 0 or 1": [header, good, ["3", "2", "0", "0", "0", "0", "0/a.mp3"]],
             "header": [["id", *MTAT_TAGS, "path"], good]}
    for i, (message, rows) in enumerate(cases.items()):
        with pytest.raises(LatentbridgeError, match=message) as err:
            MTATDataset(mtat_folder(tmp_path / str(i), rows=rows))
        assert "\n" not in str(err.value)
    root = mtat_folder(tmp_path / "bad")
    with pytest.raises(LatentbridgeError, match="unknown split"):
        MTATDataset(root, split="dev")
    with pytest.raises(LatentbridgeError, match="no tag column 'rock'"):
        MTATDataset(root, tags=["rock"])
    (root / "c" / "artist-album-02-tune-30-59.wav").unlink()
    with pytest.raises(LatentbridgeError, match="no such audio file.*skip_bad"):
        MTATDataset(root)
    (root / "c" / "artist-album-02-tune-30-59.wav").write_bytes(b"")  # MTAT has a few empty mp3s
    (root / "f" / "artist-album-03-air-0-29.wav").write_bytes(b"RIFF not really a wave file" * 10)
    data = MTATDataset(root, skip_bad=True)
    assert data.skipped == 2 and [c.clip_id for c in data.clips] == ["2"]
    unchecked = MTATDataset(root)
    assert len(unchecked) == 3
    with pytest.raises(LatentbridgeError, match="cannot decode audio") as err:
        unchecked[1]
    assert "\n" not in str(err.value)


def test_cli_refuses_and_replaces(fonts: list[Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["dataset", "clips", "--out", str(out), "--clips", "1", "--duration", "2"]) == 2
    assert main(["dataset", "clips", "--out", str(out), "--clips", "1", "--duration", "2", "--force"]) == 2
    assert "not a previous" in capsys.readouterr().err and (out / "keep.txt").is_file()
    bad_args = (["--clips", "0"], ["--duration", "1"], ["--workers", "0"],
                ["--soundfont", str(tmp_path / "x.sf2")])
    for bad in bad_args:
        assert main(["dataset", "clips", "--out", str(tmp_path / "new"), *bad]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4 and not (tmp_path / "new").exists()
    made = render(tmp_path / "made", clips=1, workers=1)
    assert main(["dataset", "clips", "--out", str(made), "--clips", "2", "--duration", "2"]) == 2
    capsys.readouterr()
    render(made, "--force", clips=2, workers=1)
    summary = json.loads(capsys.readouterr().out)
    assert len(log(made)) == 2 and summary["clips"] == 2 and sum(summary["splits"].values()) == 2
    assert set(summary["tags"]) == set(clip_tags.TAGS)
    with pytest.raises(SystemExit):
        main(["dataset", "clips", "--help"])
    assert "Example: latentbridge dataset clips" in capsys.readouterr().out
