"""Held-out twins: a program that sounds the same in an extra training font as a held-out instrument of --data is
found (and only that one), and `train poly --extra-data` refuses it in one line before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.app.cli import main
from models.data.organ_fonts import Rank, Voicing, write_console
from models.data.soundfont_twins import held_out_twins, level_difference_db, train_twins

ORGAN = Voicing(16, "drawbar organ", (Rank(0.5, -6.0), Rank(1.0, 0.0), Rank(2.0, -9.0)), 0.005, 0.05)
ROCK = Voicing(18, "rock organ", (Rank(1.0, 0.0), Rank(1.5, -3.0)), 0.005, 0.05)
OTHER_ROCK = Voicing(18, "rock organ", (Rank(0.5, 0.0), Rank(1.0, -6.0), Rank(3.0, -3.0)), 0.005, 0.05)


def dataset(root: Path, font: Path, split: str, programs: list[int]) -> Path:
    """A `dataset poly` index naming one phrase of `programs` in `split`, rendered from `font`."""
    root.mkdir(parents=True)
    (root / "phrases.json").write_text(json.dumps({"splits": {split: ["p0"]}, "phrases": {
        "p0": {"split": split, "style": "block", "soundfont": font.name, "programs": programs}}}))
    (root / "summary.json").write_text(json.dumps({"soundfonts": str([str(font)])}))
    return root


def test_a_twin_of_a_held_out_instrument_is_named_and_refused(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    held_font, extra_font = tmp_path / "held.sf2", tmp_path / "extra.sf2"
    write_console(held_font, [ORGAN, ROCK])
    write_console(extra_font, [ORGAN, OTHER_ROCK])  # the same drawbar organ, another rock organ
    assert level_difference_db(held_font, extra_font, 16) < 0.1
    assert level_difference_db(held_font, extra_font, 18) > 3
    data = dataset(tmp_path / "data", held_font, "test", [16, 18])
    extra = dataset(tmp_path / "extra", extra_font, "train", [16, 18])
    twins, unchecked = held_out_twins(data, [extra])
    assert len(twins) == 1 and "program 16 (drawbar organ)" in twins[0] and unchecked == []
    elsewhere = dataset(tmp_path / "elsewhere", extra_font, "train", [18])
    assert held_out_twins(data, [elsewhere]) == ([], [])
    assert main(["train", "poly", "--data", str(data), "--extra-data", str(extra), "--out", str(tmp_path / "run"),
                 "--config", "poly_tiny", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "would train on held-out instruments" in err and "program 16" in err and "\n" not in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_font_no_longer_on_the_machine_is_reported_as_unchecked(tmp_path: Path) -> None:
    held_font = tmp_path / "held.sf2"
    write_console(held_font, [ORGAN])
    data = dataset(tmp_path / "data", held_font, "valid", [16])
    extra = dataset(tmp_path / "extra", tmp_path / "gone.sf2", "train", [16])
    twins, unchecked = held_out_twins(data, [extra])
    assert twins == [] and len(unchecked) == 1 and "gone.sf2" in unchecked[0]


def test_a_notes_render_names_its_held_out_instruments_with_a_train_twin(tmp_path: Path) -> None:
    """`dataset notes` splits by (SoundFont, program): the held-out drawbar organ of one font has a same-sounding
    train instrument in the other, the rock organs differ, and a font no longer on the machine is passed over."""
    held_font, train_font = tmp_path / "held.sf2", tmp_path / "train.sf2"
    write_console(held_font, [ORGAN, ROCK])
    write_console(train_font, [ORGAN, OTHER_ROCK])

    def entry(font: Path, program: int, split: str) -> dict[str, object]:
        return {"soundfont": font.name, "soundfont_path": str(font), "program": program, "split": split}

    (tmp_path / "instruments.json").write_text(json.dumps({
        "organ_electronic_000": entry(held_font, 16, "test"), "organ_electronic_001": entry(held_font, 18, "test"),
        "organ_electronic_002": entry(train_font, 16, "train"), "organ_electronic_003": entry(train_font, 18, "train"),
        "organ_electronic_004": entry(tmp_path / "gone.sf2", 16, "valid")}))
    assert train_twins(tmp_path, "test") == {"organ_electronic_000": "organ_electronic_002"}
    assert train_twins(tmp_path, "valid") == {}
    assert train_twins(tmp_path / "nsynth", "test") == {}  # no instruments.json: the real NSynth
