"""`dataset poly`: layout and WAV format, determinism, labels against the MIDI file and the audio, strum stagger,
guitar voicings, instrument splits and errors."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import read_audio
from models.data.instrument_splits import SPLITS, all_instruments, assign_splits
from models.data.poly_compose import STYLES
from models.data.poly_midi import read_midi
from models.data.poly_reader import read_poly
from models.data.poly_render import PhraseJob, phrase_splits, render_phrase
from models.data.poly_synth import PEAK_CEILING, PolySynth
from models.data.poly_voicings import guitar_pitches, guitar_voicing, playable
from models.data.soundfonts import find_default_soundfonts

RATE = 16000
FIELDS = ("name", "split", "seconds", "sample_rate", "soundfont", "style", "instruments", "gain_db", "notes")


def soundfont() -> Path:
    found = {p.name: p for p in find_default_soundfonts()}
    if "TimGM6mb.sf2" not in found:
        pytest.skip("TimGM6mb.sf2 not installed (apt-get install timgm6mb-soundfont)")
    return found["TimGM6mb.sf2"]


def render(out: Path, limit: int, *extra: str) -> Path:
    assert main(["dataset", "poly", "--out", str(out), "--soundfont", str(soundfont()), "--limit", str(limit),
                 "--workers", "1", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("poly") / "poly", 24)


def phrase_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/phrase_*"))}


def job(tmp_path: Path, style: str, program: int, family: str, index: int = 0) -> dict:
    """Render one phrase of `style` for one instrument; its labels JSON with the audio added."""
    (tmp_path / "train").mkdir(exist_ok=True)
    name = f"{style}_{program}_{index}"
    render_phrase(PhraseJob(index, name, "train", style, str(soundfont()), (("x", program, family),), 4.0, 0,
                            -8.0, str(tmp_path)))
    data = json.loads((tmp_path / "train" / f"{name}.json").read_text())
    data["audio"] = read_audio(tmp_path / "train" / f"{name}.wav")[0][0]
    return data


def test_layout_format_and_index(rendered: Path) -> None:
    index = json.loads((rendered / "phrases.json").read_text())
    assert index["sample_rate"] == RATE and index["seed"] == 0 and set(index["splits"]) == set(SPLITS)
    assert all(index["splits"][s] for s in SPLITS) and len(index["phrases"]) == 24
    for name, entry in index["phrases"].items():
        data = json.loads((rendered / entry["split"] / f"{name}.json").read_text())
        assert tuple(data) == FIELDS and data["name"] == name and data["sample_rate"] == RATE
        assert data["style"] == entry["style"] in STYLES and entry["notes"] == len(data["notes"]) > 0
        assert [i["program"] for i in data["instruments"]] == entry["programs"]
        assert [i["channel"] for i in data["instruments"]] == list(range(len(entry["programs"])))
        audio, rate = read_audio(rendered / entry["split"] / f"{name}.wav")
        assert rate == RATE and audio.shape == (1, int(4.0 * RATE)) and entry["seconds"] == 4.0
        assert np.abs(audio).max() <= PEAK_CEILING + 1e-4 and data["gain_db"] <= -8.0
        for n in data["notes"]:
            assert 21 <= n["pitch"] <= 108 and 1 <= n["velocity"] <= 127
            assert 0 <= n["onset"] < n["offset"] <= 3.5  # the last 0.5 s is the release tail
    summary = json.loads((rendered / "summary.json").read_text())
    assert summary["phrases"] == 24 and sum(summary["polyphony"].values()) == pytest.approx(1, abs=1e-3)


def test_deterministic_and_limit_is_a_prefix(rendered: Path, tmp_path: Path) -> None:
    first, second = render(tmp_path / "a", 4), render(tmp_path / "b", 4)
    files = phrase_files(first)
    assert len(files) == 12 and files == phrase_files(second)
    assert (first / "phrases.json").read_bytes() == (second / "phrases.json").read_bytes()
    prefix = {k: v for k, v in phrase_files(rendered).items() if int(k.split("_")[-1].split(".")[0]) < 4}
    assert prefix == files


def test_labels_agree_with_the_midi_file(rendered: Path) -> None:
    for phrase in read_poly(rendered):
        midi_path = phrase.audio_path.with_suffix(".mid")
        assert read_midi(midi_path).notes == phrase.notes
        midi = mido.MidiFile(str(midi_path))
        assert midi.type == 1 and len(midi.tracks) == 1 + len(phrase.programs)
        assert [m.program for t in midi.tracks for m in t if m.type == "program_change"] == list(phrase.programs)
        assert any(m.type == "set_tempo" for m in midi.tracks[0])


def test_bends_are_recorded_in_json_and_midi(tmp_path: Path) -> None:
    phrases = (job(tmp_path, "line", 73, "flute", i) for i in range(40))
    bent = next(d for d in phrases if any(n["bend"] for n in d["notes"]))
    midi = mido.MidiFile(str(tmp_path / "train" / f"{bent['name']}.mid"))
    wheel = [m for m in midi.tracks[1] if m.type == "pitchwheel"]
    assert wheel and wheel[-1].pitch == 0
    for n in bent["notes"]:
        for t, semis in n["bend"]:
            assert n["onset"] <= t < n["offset"] and abs(semis) <= 2.0
    onsets = [n["onset"] for n in bent["notes"]]
    ends = [n["offset"] for n in bent["notes"]]
    assert onsets == sorted(onsets) and all(end <= start for end, start in zip(ends, onsets[1:], strict=False))


def f0_autocorrelation(seg: np.ndarray) -> float:
    seg = seg.astype(np.float64) - seg.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(seg, 2 * len(seg))) ** 2)[: len(seg)]
    ac /= ac[0]
    lo, hi = RATE // 2000, RATE // 30
    r = ac[lo:hi]
    k = next(i for i in range(1, len(r) - 1) if r[i] >= 0.9 * r.max() and r[i - 1] <= r[i] >= r[i + 1])
    lag = lo + k
    y0, y1, y2 = ac[lag - 1], ac[lag], ac[lag + 1]
    return RATE / (lag + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))


@pytest.mark.parametrize(("program", "family"), [(73, "flute"), (0, "keyboard")])
def test_single_line_pitch_is_in_the_audio(tmp_path: Path, program: int, family: str) -> None:
    checked = 0
    for index in range(3):
        data = job(tmp_path, "line", program, family, index)
        for n in data["notes"]:
            if n["bend"] or n["offset"] - n["onset"] < 0.2:
                continue
            seg = data["audio"][int((n["onset"] + 0.05) * RATE): int((n["offset"] - 0.02) * RATE)]
            assert abs(12 * np.log2(f0_autocorrelation(seg) / (440 * 2 ** ((n["pitch"] - 69) / 12)))) < 0.5
            checked += 1
    assert checked >= 5


def level_db(spec: np.ndarray, freqs: np.ndarray, f: float) -> float:
    band = (freqs > f * 2 ** (-0.4 / 12)) & (freqs < f * 2 ** (0.4 / 12))
    return float(20 * np.log10(spec[band].max() + 1e-12))


@pytest.mark.parametrize(("style", "program", "family"), [("block", 0, "keyboard"), ("strum", 25, "guitar")])
def test_chord_notes_are_in_the_audio(tmp_path: Path, style: str, program: int, family: str) -> None:
    """Every labelled note has a spectral peak at its fundamental or octave well above the floor; semitone
    neighbours that no sounding note explains are clearly weaker."""
    data = job(tmp_path, style, program, family)
    notes, hits, misses = data["notes"], [], []
    freqs = np.fft.rfftfreq(1 << 16, 1 / RATE)
    for n in notes:
        t0 = n["onset"] + 0.06
        t1 = min(n["offset"], t0 + 0.5)
        if t1 - t0 < 0.15:
            continue
        seg = data["audio"][int(t0 * RATE): int(t1 * RATE)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 1 << 16))
        floor = 20 * np.log10(np.median(spec[(freqs > 50) & (freqs < 4000)]) + 1e-12)
        sounding = {m["pitch"] for m in notes if m["onset"] < t1 and m["offset"] > t0}
        for pitch, into in [(n["pitch"], hits)] + [(p, misses) for p in (n["pitch"] - 1, n["pitch"] + 1)
                                                    if all(abs(p - q) not in (0, 12, 19, 24) for q in sounding)]:
            f = 440 * 2 ** ((pitch - 69) / 12)
            into.append(max(level_db(spec, freqs, f), level_db(spec, freqs, 2 * f)) - floor)
    assert len(hits) >= 8 and min(hits) > 25
    assert np.median(hits) > np.median(misses) + 15


def test_strums_are_staggered_guitar_voicings(tmp_path: Path) -> None:
    data = job(tmp_path, "strum", 24, "guitar")
    onsets = sorted({n["onset"] for n in data["notes"]})
    strums: list[list[float]] = [[onsets[0]]]
    for t in onsets[1:]:
        (strums[-1].append(t) if t - strums[-1][-1] < 0.06 else strums.append([t]))
    full = [s for s in strums if len(s) >= 4]
    assert len(full) >= 3
    for strum in full:
        gaps = np.diff(strum)
        assert np.all(gaps >= 0.005 - 1e-4) and np.all(gaps <= 0.040 + 1e-4)
        pitches = [next(n["pitch"] for n in data["notes"] if n["onset"] == t) for t in strum]
        assert pitches in (sorted(pitches), sorted(pitches, reverse=True))  # down or up strum
    rng = np.random.default_rng(0)
    for _ in range(300):
        frets = guitar_voicing(rng)
        assert playable(frets) and 4 <= len(guitar_pitches(frets)) <= 6


def test_no_test_instrument_in_train(rendered: Path) -> None:
    font = soundfont()
    synth = PolySynth(font, -8.0)
    instruments = [i for i in all_instruments([font]) if synth.has_program(i.gm.program)]
    expected = {i.name: assign_splits(instruments, 0)[i.id] for i in instruments}  # as `dataset notes` splits
    seen: dict[str, set[str]] = {s: set() for s in SPLITS}
    for phrase in read_poly(rendered):
        data = json.loads(phrase.audio_path.with_suffix(".json").read_text())
        names = {i["instrument"] for i in data["instruments"]}
        assert all(expected[n] == phrase.split for n in names)
        seen[phrase.split] |= names
    assert not seen["train"] & (seen["valid"] | seen["test"]) and not seen["valid"] & seen["test"]
    assert phrase_splits(10, (0.8, 0.1, 0.1), set(SPLITS)) == ["train", "valid", "test"] + ["train"] * 7


def test_errors_are_one_line(rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["dataset", "poly", "--soundfont", str(soundfont()), "--workers", "1", "--limit", "2"]
    assert main([*base, "--out", str(rendered)]) == 2
    assert "--force" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main([*base, "--out", str(other), "--force"]) == 2
    err = capsys.readouterr().err
    assert "not a previous `dataset poly` output" in err and err.count("\n") == 1
    for bad in (["--limit", "0"], ["--seconds", "0.2"], ["--phrases", "0"]):
        assert main([*base, "--out", str(tmp_path / "x"), *bad]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert main(["dataset", "poly", "--out", str(tmp_path / "y"), "--soundfont", str(tmp_path / "no.sf2")]) == 2
    assert "SoundFont not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_instruments_off_their_keys_are_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A phrase drawn onto an instrument the tuning report marks off its key is not written; every other phrase is
    byte for byte the render without the report, and the summary counts what was left out."""
    kept = render(tmp_path / "all", 12, "--skip-instruments", "none")
    phrases = read_poly(kept)
    program = phrases[0].programs[0]
    dropped = {p.name for p in phrases if program in p.programs}
    report = tmp_path / "tuning.json"
    report.write_text(json.dumps({"instruments": [
        {"soundfont": "TimGM6mb.sf2", "program": program, "off_key": True},
        {"soundfont": "TimGM6mb.sf2", "program": (program + 1) % 128, "off_key": False}]}))
    capsys.readouterr()
    skipped = render(tmp_path / "skip", 12, "--skip-instruments", str(report))
    assert "left out (instruments off their keys)" in capsys.readouterr().out
    assert {p.name for p in read_poly(skipped)} == {p.name for p in phrases} - dropped
    assert phrase_files(skipped) == {k: v for k, v in phrase_files(kept).items()
                                     if Path(k).stem not in dropped}
    off = json.loads((skipped / "summary.json").read_text())["left_out_off_key"]
    assert sum(off["phrases"].values()) == len(dropped) > 0 and off["soundfonts_not_checked"] == []
    assert all(name.startswith(f"TimGM6mb.sf2 {program} ") for name in off["instruments"])
    none = json.loads((kept / "summary.json").read_text())["left_out_off_key"]
    assert none["report"] is None and sum(none["phrases"].values()) == 0
    report.write_text("[1, 2]")
    assert main(["dataset", "poly", "--out", str(tmp_path / "bad"), "--soundfont", str(soundfont()),
                 "--skip-instruments", str(report)]) == 2
    err = capsys.readouterr().err
    assert "not a `dataset tuning` report" in err and err.count("\n") == 1 and not (tmp_path / "bad").exists()
