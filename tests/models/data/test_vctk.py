"""`dataset speech` (espeak-ng speakers in the VCTK layout) and VCTKDataset on ours and real layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from export.core.audio_io import read_audio, write_audio
from export.core.errors import LatentbridgeError
from models.data import cli as data_cli
from models.data.espeak_voice import EspeakVoice, median_f0, speak
from models.data.sentences import sentences
from models.data.vctk_reader import VCTKDataset, parse_speaker_info
from models.data.vctk_render import ACCENTS, FIRST_ID, make_script, make_speakers, trim_silence

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

SPEAKERS, UTTERANCES, SEED = 4, 3, 7


def _main(argv: list[str]) -> int:
    """The real console entry point, with only the `speech` renderer registered (others may be absent)."""
    from export.app.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data_cli, "RENDERERS", {"speech": data_cli.RENDERERS["speech"]})
        return main(argv)


def _render(out: Path, seed: int = SEED, *extra: str) -> int:
    return _main(["dataset", "speech", "--out", str(out), "--speakers", str(SPEAKERS),
                  "--utterances", str(UTTERANCES), "--seed", str(seed), "--workers", "2", *extra])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speech") / "ds"
    assert _render(out) == 0
    return out


def test_layout_and_naming(rendered: Path) -> None:
    ids = [f"p{FIRST_ID + i}" for i in range(SPEAKERS)]
    assert sorted(p.name for p in (rendered / "wav48").iterdir()) == ids
    assert sorted(p.name for p in (rendered / "txt").iterdir()) == ids
    for spk in ids:
        names = [f"{spk}_{n:03d}" for n in range(1, UTTERANCES + 1)]
        assert sorted(p.name for p in (rendered / "wav48" / spk).iterdir()) == [f"{n}.wav" for n in names]
        assert sorted(p.name for p in (rendered / "txt" / spk).iterdir()) == [f"{n}.txt" for n in names]
        audio, rate = read_audio(rendered / "wav48" / spk / f"{spk}_001.wav")
        assert rate == 16000 and audio.shape[0] == 1 and audio.shape[1] > 8000
    lines = (rendered / "speaker-info.txt").read_text().splitlines()
    assert lines[0].split() == ["ID", "AGE", "GENDER", "ACCENTS", "REGION"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == [i[1:] for i in ids]
    assert [r[2] for r in rows] == ["M", "F", "M", "F"]
    assert "16 kHz" in (rendered / "README.txt").read_text()
    meta = json.loads((rendered / "latentbridge.json").read_text())
    assert meta["sample_rate"] == 16000 and meta["seed"] == SEED
    expected = make_speakers(SPEAKERS, SEED)
    assert [(s["id"], s["voice"], s["pitch"], s["speed"]) for s in meta["speakers"]] == \
        [(s.id, s.voice, s.pitch, s.speed) for s in expected]
    assert not [p for p in rendered.parent.iterdir() if p.name.startswith(".")]  # no partial leftovers


def test_transcripts_match_script(rendered: Path) -> None:
    script = make_script(make_speakers(SPEAKERS, SEED), UTTERANCES, SEED)
    assert len({text for _, _, text in script}) == len(script)
    for spk, utt, text in script:
        assert (rendered / "txt" / spk.id / f"{utt}.txt").read_text() == text + "\n"


def test_trim_silence_keeps_a_short_pad() -> None:
    audio = np.zeros(16000, np.float32)
    audio[4000:6000] = 0.5
    audio[3000] = audio[9000] = 0.001  # below -50 dBFS: counts as silence
    trimmed = trim_silence(audio)
    assert trimmed.size == 2000 + 2 * 1600 and np.array_equal(trimmed, audio[2400:7600])
    assert trim_silence(np.zeros(100, np.float32)).size == 100


def test_audio_is_the_spoken_sentence_lightly_trimmed(rendered: Path) -> None:
    spk, utt, text = make_script(make_speakers(SPEAKERS, SEED), UTTERANCES, SEED)[UTTERANCES + 1]
    raw = speak(text, EspeakVoice(spk.voice, spk.pitch, spk.speed))
    written = read_audio(rendered / "wav48" / spk.id / f"{utt}.wav")[0][0]
    expected = trim_silence(raw)
    assert written.size == expected.size <= raw.size - 0.15 * 16000  # espeak-ng's ~0.35 s tail is cut
    assert np.max(np.abs(written - expected)) < 1e-4  # same audio up to 16-bit rounding


def test_sentences_are_deterministic_and_varied() -> None:
    first = sentences(3, 200)
    assert first == sentences(3, 200) and first != sentences(4, 200)
    assert len(set(first)) == 200
    assert len({s.split()[0] for s in first}) > 15
    assert all(s[0].isupper() and s[-1] in ".?" for s in first)


def test_render_is_deterministic(rendered: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert _render(again) == 0
    for wav in sorted((rendered / "wav48").rglob("*.wav")):
        assert (again / wav.relative_to(rendered)).read_bytes() == wav.read_bytes()
    for name in ("speaker-info.txt", "latentbridge.json"):
        assert (again / name).read_text() == (rendered / name).read_text()
    assert make_speakers(8, SEED) != make_speakers(8, SEED + 1)


def test_median_f0_measures_a_known_pitch() -> None:
    t = np.arange(16000) / 16000
    for hz in (85.0, 140.0, 230.0):
        pulses = np.sign(np.sin(2 * np.pi * hz * t)) * 0.3 + 0.1 * np.sin(2 * np.pi * 2 * hz * t)
        assert median_f0(pulses.astype(np.float32)) == pytest.approx(hz, rel=0.01)
    assert median_f0(np.zeros(16000, np.float32)) == 0.0


def test_female_speakers_are_higher_pitched(rendered: Path) -> None:
    data = VCTKDataset(rendered)
    per_speaker: dict[str, list[float]] = {}
    for i in range(len(data)):
        utt, audio = data[i]
        per_speaker.setdefault(utt.speaker, []).append(median_f0(audio))
    f0 = {spk: float(np.median(v)) for spk, v in per_speaker.items()}
    male = [f0[s] for s, info in data.speakers.items() if info.gender == "M"]
    female = [f0[s] for s, info in data.speakers.items() if info.gender == "F"]
    assert np.median(female) - np.median(male) >= 30
    assert min(female) > max(male)
    meta = json.loads((rendered / "latentbridge.json").read_text())
    for row in meta["speakers"]:
        assert row["median_f0_hz"] == pytest.approx(f0[row["id"]], abs=8)


@pytest.mark.parametrize("language", sorted(ACCENTS))
def test_every_accent_takes_the_gender_variant(language: str) -> None:
    text = "Mara carried the lantern home."
    male = median_f0(speak(text, EspeakVoice(f"{language}+m3", 50, 170)))
    female = median_f0(speak(text, EspeakVoice(f"{language}+f3", 50, 170)))
    assert female - male >= 50, (language, male, female)


def _tone(hz: float, rate: int, seconds: float = 0.25) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(audio: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * rate / audio.size)


def _release_080(root: Path) -> Path:
    (root / "txt" / "p225").mkdir(parents=True)
    write_audio(root / "wav48" / "p225" / "p225_001.wav", _tone(440, 48000), 48000)
    write_audio(root / "wav48" / "p225" / "p225_002.wav", _tone(660, 48000), 48000)
    write_audio(root / "wav48" / "p362" / "p362_001.wav", _tone(220, 48000), 48000)
    (root / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n")
    (root / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION\n"
                                           "225  23  F    English    Southern  England\n"
                                           "362  29  M    American\n"
                                           "\n")
    return root


def test_reader_on_080_layout(tmp_path: Path) -> None:
    data = VCTKDataset(_release_080(tmp_path))
    assert data.release == "0.80" and len(data) == 3
    assert [u.utterance_id for u in data.utterances] == ["p225_001", "p225_002", "p362_001"]
    utt, audio = data[0]
    assert (utt.speaker, utt.gender, utt.accent, utt.text) == ("p225", "F", "English", "Please call Stella.")
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(audio.size - 4000) <= 16
    assert _peak_hz(audio) == pytest.approx(440, abs=8)
    assert data[1][0].text == ""  # no transcript: kept, empty
    assert data.speakers["p225"].region == "Southern England"
    assert (data.speakers["p362"].accent, data.speakers["p362"].region) == ("American", "")
    assert [u.speaker for u in VCTKDataset(tmp_path, gender="M").utterances] == ["p362"]
    assert len(VCTKDataset(tmp_path, speakers=["225"])) == 2


def test_reader_on_092_layout(tmp_path: Path) -> None:
    for spk, hz in (("p225", 300.0), ("p226", 500.0)):
        (tmp_path / "txt" / spk).mkdir(parents=True)
        (tmp_path / "txt" / spk / f"{spk}_001.txt").write_text(f"Words of {spk}.\n")
        write_audio(tmp_path / "wav48_silence_trimmed" / spk / f"{spk}_001_mic1.flac", _tone(hz, 48000),
                    48000, fmt="flac")
        write_audio(tmp_path / "wav48_silence_trimmed" / spk / f"{spk}_001_mic2.flac", _tone(2 * hz, 48000),
                    48000, fmt="flac")
    (tmp_path / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION  COMMENTS\n"
                                               "p225  23  F    English    Southern  England\n"
                                               "p226  22  M    English    Surrey  (mic2 files unavailable)\n"
                                               "p280  25  F\n")
    data = VCTKDataset(tmp_path)
    assert data.release == "0.92" and [u.utterance_id for u in data.utterances] == ["p225_001", "p226_001"]
    utt, audio = data[0]
    assert (utt.gender, utt.text) == ("F", "Words of p225.") and utt.audio_path.name == "p225_001_mic1.flac"
    assert _peak_hz(audio) == pytest.approx(300, abs=8)
    assert _peak_hz(VCTKDataset(tmp_path, mic="mic2")[1][1]) == pytest.approx(1000, abs=8)
    assert list(VCTKDataset(tmp_path, gender="M").speakers) == ["p226"]
    assert parse_speaker_info(tmp_path / "speaker-info.txt")["p280"].accent == ""
    assert data.speakers["p226"].region == "Surrey (mic2 files unavailable)"


def test_reader_on_our_layout(rendered: Path) -> None:
    data = VCTKDataset(rendered)
    assert len(data) == SPEAKERS * UTTERANCES
    assert list(data.speakers) == [f"p{FIRST_ID + i}" for i in range(SPEAKERS)]
    utt, audio = data[0]
    assert utt.text == (rendered / "txt" / "p900" / "p900_001.txt").read_text().strip() != ""
    assert np.array_equal(audio, read_audio(utt.audio_path)[0][0])
    assert {u.gender for u in VCTKDataset(rendered, gender="F").utterances} == {"F"}


def test_reader_errors(tmp_path: Path) -> None:
    root = _release_080(tmp_path / "a")
    with pytest.raises(LatentbridgeError, match="mic"):
        VCTKDataset(root, mic="mic3")
    with pytest.raises(LatentbridgeError, match="gender"):
        VCTKDataset(root, gender="X")
    with pytest.raises(LatentbridgeError, match="unknown speaker p999"):
        VCTKDataset(root, speakers=["p999"])
    (root / "wav48" / "p225" / "p225_002.wav").write_bytes(b"RIFF not really a wave file")
    data = VCTKDataset(root)
    with pytest.raises(LatentbridgeError, match="cannot decode"):
        data[1]
    (root / "wav48" / "p225" / "p225_001.wav").unlink()
    with pytest.raises(LatentbridgeError, match="no such audio file"):
        data[0]
    for bad, what in (("226  x  F  English\n", "AGE"), ("226  22  Q  English\n", "GENDER"),
                      ("speaker 22 F\n", "ID")):
        (root / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION\n" + bad)
        with pytest.raises(LatentbridgeError, match=f"speaker-info.txt:2: malformed.*{what}") as err:
            VCTKDataset(root)
        assert "\n" not in str(err.value)
    (root / "speaker-info.txt").unlink()
    with pytest.raises(LatentbridgeError, match="speaker-info.txt"):
        VCTKDataset(root)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION\n")
    with pytest.raises(LatentbridgeError, match="wav48"):
        VCTKDataset(tmp_path / "b")


def test_cli_options_and_errors(rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["dataset", "speech", "--out", str(tmp_path / "x"), "--speakers", "0"]) == 2
    assert _main(["dataset", "speech", "--out", str(tmp_path / "x"), "--utterances", "0"]) == 2
    assert _main(["dataset", "speech", "--out", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert not (tmp_path / "x").exists()
    capsys.readouterr()
    assert _render(rendered) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("not ours")
    assert _render(other, SEED, "--force") == 2  # never replaces a directory it did not write
    assert (other / "keep.txt").exists()
    out = tmp_path / "one"
    assert _main(["dataset", "speech", "--out", str(out), "--speakers", "1", "--utterances", "1",
                  "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["utterances"] == 1 and summary["speakers"][0]["gender"] == "M"
    assert _main(["dataset", "speech", "--out", str(out), "--speakers", "2", "--utterances", "1",
                  "--force"]) == 0
    assert "median F0 by gender" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "wav48").iterdir()) == ["p900", "p901"]
