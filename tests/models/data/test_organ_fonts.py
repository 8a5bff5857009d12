"""`dataset organs`: the written SoundFonts load and sound at their registrations' pitches (a 16-foot stop an octave
below the key), stay band-limited at the top, render as `dataset poly` instruments, and the output is atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from export.core.pitch_units import midi_to_hz
from models.data.note_synth import NoteSynth
from models.data.organ_fonts import BAND_LIMIT_HZ, Rank, Voicing, write_console

RATE = 16000


def play(font: Path, program: int, key: int) -> np.ndarray:
    """A `dataset notes` note (held 3 s) at velocity 100."""
    return NoteSynth(font, 0.0).render(program, key, 100)


def level_db(audio: np.ndarray, hz: float) -> float:
    """The spectrum's peak within 2 Hz of `hz` over the held middle of the note, dB."""
    mid = audio[RATE // 4: RATE * 3 // 4]
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(mid.shape[0]), n=RATE * 4))
    at = int(round(hz * 4))
    return float(20 * np.log10(spectrum[at - 8: at + 9].max() + 1e-9))


def test_a_sixteen_foot_stop_sounds_an_octave_below_the_key(tmp_path: Path) -> None:
    font = tmp_path / "one.sf2"
    ranks = (Rank(0.5, -3.0), Rank(1.0, 0.0), Rank(1.5, -9.0))  # 16', 8', 5 1/3'
    write_console(font, [Voicing(18, "rock organ", ranks, 0.005, 0.05),
                         Voicing(16, "drawbar organ", (Rank(1.0, 0.0),), 0.005, 0.05)])
    key_hz = float(midi_to_hz(60))
    rock = play(font, 18, 60)
    levels = [level_db(rock, key_hz * r) for r in (0.5, 1.0, 1.5, 2.0, 0.75)]
    assert levels[1] - levels[0] == pytest.approx(3.0, abs=1.0)
    assert levels[1] - levels[2] == pytest.approx(9.0, abs=1.0)
    assert min(levels[:3]) - max(levels[3:]) > 40  # nothing between the drawn ranks
    plain = play(font, 16, 60)
    assert level_db(plain, key_hz) - level_db(plain, key_hz * 0.5) > 40


def test_top_keys_hold_no_partial_above_the_band_limit(tmp_path: Path) -> None:
    font = tmp_path / "bright.sf2"
    write_console(font, [Voicing(16, "drawbar organ", (Rank(1.0, 0.0), Rank(8.0, 0.0)), 0.005, 0.05)])
    audio = play(font, 16, 96)  # the 1-foot rank would sound at 16.7 kHz: its zone is left out
    spectrum = np.abs(np.fft.rfft(audio[RATE // 4: RATE * 3 // 4]))
    hz = np.fft.rfftfreq(RATE // 2, 1 / RATE)
    assert hz[np.argmax(spectrum)] == pytest.approx(float(midi_to_hz(96)), abs=3)
    near_nyquist = spectrum[hz > BAND_LIMIT_HZ].max()
    assert 20 * np.log10(near_nyquist / spectrum.max()) < -50


def test_fonts_render_as_poly_instruments_and_the_output_is_atomic(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fonts = tmp_path / "organs"
    assert main(["dataset", "organs", "--out", str(fonts), "--fonts", "2", "--seed", "3"]) == 0
    record = json.loads((fonts / "registrations.json").read_text())
    assert sorted(record["fonts"]) == ["organs_000.sf2", "organs_001.sf2"]
    programs = {v["program"] for v in record["fonts"]["organs_000.sf2"]}
    assert programs == {16, 17, 18, 19, 33}
    again = tmp_path / "again"
    assert main(["dataset", "organs", "--out", str(again), "--fonts", "2", "--seed", "3"]) == 0
    assert (again / "organs_001.sf2").read_bytes() == (fonts / "organs_001.sf2").read_bytes()
    assert main(["dataset", "organs", "--out", str(fonts), "--fonts", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["dataset", "organs", "--out", str(tmp_path / "none"), "--fonts", "0"]) == 2
    assert "--fonts 0" in capsys.readouterr().err
    poly = tmp_path / "poly"
    assert main(["dataset", "poly", "--out", str(poly), "--soundfont", str(fonts / "organs_000.sf2"),
                 "--ratios", "1,0,0", "--limit", "6", "--workers", "1"]) == 0
    index = json.loads((poly / "phrases.json").read_text())
    assert len(index["splits"]["train"]) == 6
    assert {p for phrase in index["phrases"].values() for p in phrase["programs"]} <= {16, 17, 18, 19, 33}
