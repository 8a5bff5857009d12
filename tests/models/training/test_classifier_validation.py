"""`latentbridge train classifier --valid-every N`: family accuracy on valid-split instruments, best.pt, and the
same loss curve after a resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from export.app.cli import main
from models.training.checkpoint import load_model


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("classifier") / "notes"
    assert main(["dataset", "notes", "--out", str(root), "--limit", "80", "--workers", "1"]) == 0
    return root


def _train(notes: Path, out: Path, *extra: str) -> int:
    return main(["train", "classifier", "--data", str(notes), "--config", "tiny", "--out", str(out), "--lr", "3e-3",
                 "--per-instrument", "4", "--batch", "4", "--cache", str(out.parent / "cache"), "--valid-every", "5",
                 *extra])


def _losses(out: Path) -> list[tuple[int, float]]:
    with (out / "log.csv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_validates_keeps_the_best_and_resumes_on_the_same_curve(notes: Path, tmp_path: Path) -> None:
    assert _train(notes, tmp_path / "a", "--steps", "12") == 0
    assert _train(notes, tmp_path / "a", "--steps", "20", "--resume") == 0
    assert _train(notes, tmp_path / "b", "--steps", "20") == 0
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    _, state = load_model(tmp_path / "a" / "checkpoint.pt")
    history = state["extra"]["task_state"]["history"]
    assert [s for s, _ in history] == [5, 10, 15, 20] and all(0.0 <= a <= 1.0 for _, a in history)
    _, best = load_model(tmp_path / "a" / "best.pt")
    assert best["step"] == state["extra"]["task_state"]["best_step"]
    assert main(["train", "classifier", "--data", str(notes), "--config", "tiny", "--out", str(tmp_path / "a"),
                 "--lr", "3e-3", "--per-instrument", "4", "--batch", "4", "--steps", "30", "--resume"]) == 2
