"""`dataset notes` / `dataset plot`: official layout and fields, WAV format, instrument splits, determinism,
pitch and velocity against the labels, silent/clipped drops, measured qualities, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import read_audio
from models.data import note_qualities as nq
from models.data.gm_programs import FAMILIES, GM_PROGRAMS, QUALITIES, SOURCES
from models.data.instrument_splits import SPLITS, all_instruments, assign_splits, split_quotas
from models.data.note_synth import NOTE_SAMPLES, NoteSynth
from models.data.soundfonts import find_default_soundfonts

FIELDS = ("note", "note_str", "instrument", "instrument_str", "pitch", "velocity", "sample_rate", "qualities",
          "qualities_str", "instrument_family", "instrument_family_str", "instrument_source",
          "instrument_source_str")
RATE = 16000


def soundfont(name: str) -> Path:
    found = {p.name: p for p in find_default_soundfonts()}
    if name not in found:
        pytest.skip(f"{name} not installed (apt-get install fluid-soundfont-gm timgm6mb-soundfont)")
    return found[name]


def examples(root: Path) -> dict[str, dict[str, dict]]:
    return {s: json.loads((root / s / "examples.json").read_text()) for s in SPLITS}


def f0_autocorrelation(x: np.ndarray, rate: int = RATE) -> float:
    """f0 of the held part: the first autocorrelation peak within 90 % of the best, refined by a parabola."""
    seg = x[rate // 2: int(2.5 * rate)].astype(np.float64)
    seg -= seg.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(seg, 2 * len(seg))) ** 2)[: len(seg)]
    ac /= ac[0]
    lo, hi = rate // 2000, rate // 30
    r = ac[lo:hi]
    k = next(i for i in range(1, len(r) - 1) if r[i] >= 0.9 * r.max() and r[i - 1] <= r[i] >= r[i + 1])
    lag = lo + k
    y0, y1, y2 = ac[lag - 1], ac[lag], ac[lag + 1]
    return rate / (lag + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every flute and reed of TimGM6mb (given by path) at pitches 60..64, velocities 25 and 127."""
    out = tmp_path_factory.mktemp("grid") / "notes"
    assert main(["dataset", "notes", "--out", str(out), "--soundfont", str(soundfont("TimGM6mb.sf2")),
                 "--families", "flute,reed", "--pitches", "60:64", "--velocities", "25,127",
                 "--workers", "1"]) == 0
    return out


def test_layout_and_official_fields(grid: Path) -> None:
    instruments = json.loads((grid / "instruments.json").read_text())
    seen = 0
    for split, notes in examples(grid).items():
        for key, ex in notes.items():
            seen += 1
            assert tuple(ex) == FIELDS and key == ex["note_str"]
            assert ex["note_str"] == f"{ex['instrument_str']}-{ex['pitch']:03d}-{ex['velocity']:03d}"
            assert ex["sample_rate"] == RATE and ex["velocity"] in (25, 127) and 60 <= ex["pitch"] <= 64
            assert FAMILIES[ex["instrument_family"]] == ex["instrument_family_str"] in ("flute", "reed")
            assert SOURCES[ex["instrument_source"]] == ex["instrument_source_str"]
            prefix = f"{ex['instrument_family_str']}_{ex['instrument_source_str']}_"
            assert ex["instrument_str"].startswith(prefix) and ex["instrument_str"][len(prefix):].isdigit()
            assert len(ex["qualities"]) == 10 and set(ex["qualities"]) <= {0, 1}
            assert ex["qualities_str"] == [q for q, f in zip(QUALITIES, ex["qualities"], strict=True) if f]
            info = instruments[ex["instrument_str"]]
            assert info["soundfont"] == "TimGM6mb.sf2" and info["split"] == split
            gm = GM_PROGRAMS[info["program"]]
            assert (gm.name, gm.family, gm.source) == (info["gm_name"], ex["instrument_family_str"],
                                                        ex["instrument_source_str"])
            assert (grid / split / "audio" / f"{key}.wav").is_file()
    assert seen == len(list(grid.glob("*/audio/*.wav"))) > 100
    assert not list(grid.parent.glob(".*"))  # no temporary directory left beside --out
    ids = [ex["note"] for notes in examples(grid).values() for ex in notes.values()]
    assert len(set(ids)) == len(ids)


def test_wavs_are_4s_16k_mono_16bit(grid: Path) -> None:
    from pedalboard.io import AudioFile

    for path in sorted(grid.glob("*/audio/*.wav"))[::17]:
        with AudioFile(str(path)) as f:
            assert (f.samplerate, f.num_channels, f.frames, f.file_dtype) == (RATE, 1, NOTE_SAMPLES, "int16")


def test_splits_hold_disjoint_instruments_per_family(grid: Path) -> None:
    sets = {s: {ex["instrument_str"] for ex in notes.values()} for s, notes in examples(grid).items()}
    assert not sets["train"] & sets["valid"] and not sets["train"] & sets["test"]
    assert not sets["valid"] & sets["test"]
    for split in SPLITS:  # both families have >= 3 instruments, so both appear in every split
        assert {name.split("_")[0] for name in sets[split]} == {"flute", "reed"}


def test_split_assignment_is_stratified_and_seeded() -> None:
    fonts = [Path("a.sf2"), Path("b.sf2")]
    instruments = all_instruments(fonts)
    first = assign_splits(instruments, seed=1)
    assert first == assign_splits(list(reversed(instruments)), seed=1)
    assert first != assign_splits(instruments, seed=2)
    for family in FAMILIES:
        members = [i for i in instruments if i.family == family]
        counts = {s: sum(first[i.id] == s for i in members) for s in SPLITS}
        assert min(counts.values()) >= 1 and counts["train"] >= 0.6 * len(members), (family, counts)
    assert len({i.name for i in instruments}) == len(instruments) == 2 * len(GM_PROGRAMS)


def test_rendered_pitch_matches_the_label(grid: Path) -> None:
    instruments = json.loads((grid / "instruments.json").read_text())
    checked = 0
    for split, notes in examples(grid).items():
        for key, ex in notes.items():
            sustained = instruments[ex["instrument_str"]]["gm_name"] in ("flute", "clarinet", "oboe")
            if sustained and ex["velocity"] == 127:
                audio, _ = read_audio(grid / split / "audio" / f"{key}.wav", mono=True)
                f0 = f0_autocorrelation(audio[0])
                expected = 440.0 * 2 ** ((ex["pitch"] - 69) / 12)
                assert abs(1200 * np.log2(f0 / expected)) < 50, (key, f0, expected)
                checked += 1
    assert checked == 15


def test_velocity_127_is_louder_than_25(grid: Path) -> None:
    notes = {k: (s, ex) for s, n in examples(grid).items() for k, ex in n.items()}
    pairs = 0
    for key, (split, ex) in notes.items():
        if ex["velocity"] == 25 and key.replace("-025", "-127") in notes:
            quiet, _ = read_audio(grid / split / "audio" / f"{key}.wav")
            loud, _ = read_audio(grid / split / "audio" / f"{key.replace('-025', '-127')}.wav")
            assert np.sqrt(np.mean(loud**2)) > 1.5 * np.sqrt(np.mean(quiet**2)), key
            pairs += 1
    assert pairs > 40


def test_render_does_not_depend_on_earlier_notes() -> None:
    path = soundfont("TimGM6mb.sf2")
    fresh = NoteSynth(path).render(73, 69, 100)
    busy = NoteSynth(path)
    busy.render(89, 60, 127)  # a pad with a long release, then a different program
    busy.render(48, 40, 127)
    assert np.array_equal(busy.render(73, 69, 100), fresh)


def test_limit_is_deterministic_spread_and_the_same_with_two_workers(tmp_path: Path) -> None:
    soundfont("FluidR3_GM.sf2")
    outs = []
    for run, workers in enumerate(("1", "2")):
        out = tmp_path / f"run{run}"
        assert main(["dataset", "notes", "--out", str(out), "--limit", "60", "--seed", "5",
                     "--workers", workers]) == 0
        outs.append(out)
    first, second = examples(outs[0]), examples(outs[1])
    assert first == second
    assert [(outs[0] / s / "examples.json").read_bytes() for s in SPLITS] == \
        [(outs[1] / s / "examples.json").read_bytes() for s in SPLITS]
    assert sum(len(n) for n in first.values()) == 60 and all(first[s] for s in SPLITS)
    assert len({ex["instrument_family_str"] for ex in first["train"].values()}) == len(FAMILIES)
    key = sorted(first["train"])[0]
    assert (outs[0] / "train" / "audio" / f"{key}.wav").read_bytes() == \
        (outs[1] / "train" / "audio" / f"{key}.wav").read_bytes()


def test_silent_renders_are_dropped_counted_and_topped_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    original = NoteSynth.render

    def silent_at_low_velocity(self: NoteSynth, program: int, pitch: int, velocity: int) -> np.ndarray:
        audio = original(self, program, pitch, velocity)
        return audio * 1e-4 if velocity == 25 else audio  # ~ -90 dBFS: near-silent

    monkeypatch.setattr(NoteSynth, "render", silent_at_low_velocity)
    out = tmp_path / "notes"
    assert main(["dataset", "notes", "--out", str(out), "--soundfont", str(soundfont("TimGM6mb.sf2")),
                 "--families", "flute", "--velocities", "25,127", "--limit", "30", "--workers", "1",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    notes = [ex for n in examples(out).values() for ex in n.values()]
    assert summary["notes"] == len(notes) == 30  # dropped notes were replaced by the next candidates
    assert summary["dropped"]["silent"] > 0 and all(ex["velocity"] == 127 for ex in notes)


def test_drop_rule_on_synthetic_notes() -> None:
    t = np.arange(NOTE_SAMPLES) / RATE
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    assert nq.drop_reason(np.zeros(NOTE_SAMPLES, np.float32)) == "silent"
    assert nq.drop_reason(sine * 10 ** (-65 / 20)) == "silent"  # peak -65 dBFS
    assert nq.drop_reason(sine * 10 ** (-55 / 20)) is None  # quiet but real
    click = np.zeros(NOTE_SAMPLES, np.float32)
    click[100] = 0.01  # peak -40 dBFS but RMS -88 dBFS
    assert nq.drop_reason(click) == "silent"
    assert nq.drop_reason(sine * 1.2) == "clipped"
    assert nq.drop_reason(sine * 0.9) is None


def _names(audio: np.ndarray, pitch: int) -> set[str]:
    return set(nq.quality_names(nq.measure_qualities(audio.astype(np.float32), pitch)))


def test_qualities_on_synthetic_envelopes() -> None:
    t = np.arange(NOTE_SAMPLES) / RATE
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    held = t < 3.0
    decaying = sine * np.exp(-t / 0.3)  # -29 dB per second
    assert {"percussive", "fast_decay"} <= _names(decaying, 69) and "long_release" not in _names(decaying, 69)
    steady = sine * held
    assert not {"percussive", "fast_decay", "long_release"} & _names(steady, 69)
    slow_attack = sine * np.minimum(t / 0.5, 1) * np.exp(-t / 0.5)  # decays but swells in over 0.5 s
    assert "percussive" not in _names(slow_attack, 69)
    ringing = sine * np.where(held, 1.0, np.exp(-(t - 3.0) / 1.0))  # -4.3 dB 0.5 s after the key-up
    assert "long_release" in _names(ringing, 69) and "percussive" not in _names(ringing, 69)
    f0 = 220.0
    # 35 harmonics with power 1/k: centroid = 35 / H(35) = 8.4 f0
    buzz = sum(np.sin(2 * np.pi * k * f0 * t) / np.sqrt(k) for k in range(1, 36)) * 0.1 * held
    assert "bright" in _names(buzz, 57) and "dark" not in _names(buzz, 57)
    # a sawtooth (power 1/k^2, centroid 2.5 f0) is neither by this rule
    saw = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 36)) * 0.2 * held
    assert not {"bright", "dark"} & _names(saw, 57)
    assert "dark" in _names(0.5 * np.sin(2 * np.pi * f0 * t) * held, 57)
    never = set(QUALITIES) - set(nq.MEASURED)
    assert never == {"distortion", "multiphonic", "nonlinear_env", "reverb", "tempo-synced"}
    assert not never & (_names(buzz, 57) | _names(decaying, 69) | _names(ringing, 69))


def test_missing_or_corrupt_soundfont_is_a_one_line_error(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dataset", "notes", "--out", str(tmp_path / "x"), "--soundfont", str(tmp_path / "nope.sf2")])
    err = capsys.readouterr().err
    assert code == 2 and "SoundFont not found" in err and err.count("\n") == 1
    (tmp_path / "bad.sf2").write_bytes(b"RIFF\x04\x00\x00\x00sfbk" + bytes(64))
    code = main(["dataset", "notes", "--out", str(tmp_path / "x"), "--soundfont", str(tmp_path / "bad.sf2")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot load SoundFont" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sf2"]  # nothing written


def test_limit_quotas_follow_the_ratios_and_cover_every_split() -> None:
    plenty = {"train": 10_000, "valid": 1_000, "test": 1_000}
    assert split_quotas(200, plenty, (0.8, 0.1, 0.1)) == {"train": 160, "valid": 20, "test": 20}
    assert split_quotas(3, plenty, (0.8, 0.1, 0.1)) == {"train": 1, "valid": 1, "test": 1}
    capped = split_quotas(200, {"train": 500, "valid": 5, "test": 40}, (0.8, 0.1, 0.1))
    assert capped == {"train": 173, "valid": 5, "test": 22}  # valid's shortfall shared 8:1 by the others
    assert split_quotas(10**6, plenty, (0.8, 0.1, 0.1)) == plenty


def test_preset_missing_instruments_are_skipped_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    original = NoteSynth.preset_name
    monkeypatch.setattr(NoteSynth, "preset_name", lambda self, p: None if p == 73 else original(self, p))
    out = tmp_path / "notes"
    assert main(["dataset", "notes", "--out", str(out), "--soundfont", str(soundfont("TimGM6mb.sf2")),
                 "--families", "flute", "--pitches", "60:61", "--velocities", "100", "--workers", "1",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [s["program"] for s in summary["skipped_instruments"]] == [73]
    programs = {v["program"] for v in json.loads((out / "instruments.json").read_text()).values()}
    assert programs == {p for p, g in GM_PROGRAMS.items() if g.family == "flute"} - {73}


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "notes"
    args = ["dataset", "notes", "--out", str(out), "--soundfont", str(soundfont("TimGM6mb.sf2")),
            "--families", "vocal", "--pitches", "60:60", "--velocities", "100", "--workers", "1"]
    assert main(args) == 0
    assert main(args) == 2 and "--force" in capsys.readouterr().err
    assert main([*args, "--force", "--seed", "4"]) == 0 and (out / "summary.json").is_file()
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me")
    assert main([*args[:2], "--out", str(other), *args[4:], "--force"]) == 2
    assert (other / "thesis.txt").read_text() == "keep me"
    capsys.readouterr()
    assert main(["dataset", "notes", "--out", str(tmp_path / "y"), "--families", "kazoo"]) == 2
    assert main(["dataset", "notes", "--out", str(tmp_path / "y"), "--pitches", "70:60"]) == 2
    assert capsys.readouterr().err.count("\n") == 2


def test_plot_writes_a_png_grid(grid: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image

    png = tmp_path / "notes.png"
    assert main(["dataset", "plot", str(grid), "--out", str(png), "--count", "4", "--json"]) == 0
    plotted = json.loads(capsys.readouterr().out)["notes"]
    assert len(plotted) == 4 and len({n.rsplit("-", 2)[0] for n in plotted}) == 4
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 400 and image[..., :3].std() > 0.05
    assert main(["dataset", "plot", str(grid), "--out", str(png)]) == 2
    assert main(["dataset", "plot", str(grid / "valid"), "--out", str(png), "--force", "--count", "1"]) == 0
