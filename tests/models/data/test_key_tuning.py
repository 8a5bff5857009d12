"""Instruments that sound off their keys: a rank tuned a fifth sharp is found (CREPE on the rendered notes), one in
tune and an organ an octave down (its key names the 8-foot pitch) are not; the report's round trip and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.app.cli import main
from export.core.errors import LatentbridgeError
from models.data.key_tuning import KeyTuning, measure, read_off_key, read_report
from models.data.organ_fonts import Rank, Voicing, write_console

PARTIALS = (1.0, 0.5, 0.3)
IN_TUNE = Voicing(0, "in tune", (Rank(1.0, 0.0, 0.0, PARTIALS),), 0.005, 0.05)
SHARP = Voicing(1, "a fifth sharp", (Rank(2 ** (7 / 12), 0.0, 0.0, PARTIALS),), 0.005, 0.05)
LOW_ORGAN = Voicing(16, "organ an octave down", (Rank(0.5, 0.0, 0.0, PARTIALS),), 0.005, 0.05)


@pytest.fixture(scope="module")
def font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tuning") / "three.sf2"
    write_console(path, [IN_TUNE, SHARP, LOW_ORGAN])
    return path


def test_a_rank_a_fifth_sharp_is_off_its_key_and_an_organ_s_sub_octave_is_not(font: Path) -> None:
    rows = {r.program: r for r in measure(font, [0, 1, 2, 16])}
    assert sorted(rows) == [0, 1, 16]  # program 2 is not in the font
    assert all(abs(o) < 0.2 for o in rows[0].offsets) and not rows[0].off_key
    assert all(abs(o - 7.0) < 0.2 for o in rows[1].offsets) and rows[1].off_key
    assert all(abs(o + 12.0) < 0.2 for o in rows[16].offsets) and not rows[16].off_key
    assert not KeyTuning("x.sf2", 5, "unpitched", (None, 7.0), (55, 67)).off_key
    assert not KeyTuning("x.sf2", 5, "disagrees", (7.0, 0.0), (55, 67)).off_key


def test_the_report_names_what_train_poly_skips_and_bad_reports_are_one_line_errors(
        font: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tuning.json"
    assert main(["dataset", "tuning", "--soundfont", str(font), "--programs", "0,1,16", "--out", str(out)]) == 0
    assert "1 off their keys" in capsys.readouterr().out
    assert read_off_key(out) == {("three.sf2", 1)} and read_report(out).checked == {"three.sf2"}
    assert main(["dataset", "tuning", "--soundfont", str(font), "--programs", "0", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and read_off_key(out) == {("three.sf2", 1)}
    assert main(["dataset", "tuning", "--soundfont", str(font), "--programs", "0-200", "--out",
                 str(tmp_path / "t2.json")]) == 2
    assert "programs are 0..127" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"instruments": [{"soundfont": "a.sf2"}]}')
    for path, message in ((tmp_path / "bad.json", "not a `dataset tuning` report"), (tmp_path / "none.json",
                                                                                      "no such file")):
        with pytest.raises(LatentbridgeError, match=message) as caught:
            read_off_key(path)
        assert "\n" not in str(caught.value)
