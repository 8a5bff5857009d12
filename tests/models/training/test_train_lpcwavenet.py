"""`latentbridge train lpcwavenet`: learns on tiny rendered notes guided by a frozen tiny autoencoder, resumes on
the same loss curve (noise injection included), loads back for `eval autoencoder --wavenet`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from export.app.cli import main
from models.training.checkpoint import load_checkpoint, load_model
from models.wavenet.lpc_decoder import LPCWaveNet

NOTES = ["--per-instrument", "2", "--pitches", "36:84", "--velocities", "25,50,75,100,127", "--note-seconds", "0.5"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lpc")
    assert main(["dataset", "notes", "--out", str(root / "notes"), "--limit", "40", "--workers", "1"]) == 0
    assert main(["train", "autoencoder", "--data", str(root / "notes"), "--config", "tiny", "--out", str(root / "ae"),
                 "--steps", "2", "--batch", "2", "--crop-seconds", "0.25", "--cache", str(root / "cache"),
                 *NOTES]) == 0
    return root / "notes", root / "ae"


def _train(setup: tuple[Path, Path], out: Path, *extra: str) -> int:
    notes, ae = setup
    return main(["train", "lpcwavenet", "--data", str(notes), "--config", "tiny_lpc", "--autoencoder", str(ae),
                 "--out", str(out), "--batch", "2", "--crop", "512", "--lr", "3e-3",
                 "--cache", str(out.parent / "cache"), *NOTES, *extra])


def _losses(out: Path) -> list[tuple[int, float]]:
    with (out / "log.csv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_learns_resumes_on_the_same_curve_and_loads_back(setup: tuple[Path, Path], tmp_path: Path) -> None:
    assert _train(setup, tmp_path / "a", "--steps", "1") == 0  # one step
    assert load_checkpoint(tmp_path / "a", "lpcwavenet")["step"] == 1
    assert _train(setup, tmp_path / "a", "--steps", "10", "--resume") == 0
    assert _train(setup, tmp_path / "b", "--steps", "10") == 0
    resumed, straight = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert [s for s, _ in resumed] == list(range(1, 11)) and resumed == straight
    assert sum(v for _, v in straight[-3:]) < sum(v for _, v in straight[:3])  # it learns
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    model, state = load_model(tmp_path / "a")
    assert isinstance(model, LPCWaveNet) and state["kind"] == "lpcwavenet" and not model.training
    assert _train(setup, tmp_path / "a", "--steps", "12", "--resume", "--batch", "3") == 2  # settings differ
