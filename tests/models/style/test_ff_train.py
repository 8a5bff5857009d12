"""`latentbridge style train`: steps, resume to the same step count, export with a model card; and the style loss
falling on a small case."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from style_models import music

from export.app.cli import main
from export.core.audio_io import write_audio
from models.style.feedforward import FeedForwardConfig
from models.style.ff_cli import load_style_audio
from models.style.ff_data import content_source
from models.style.ff_train import StyleTask, StyleTrainSettings


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    content = tmp_path / "content"
    content.mkdir()
    for i in range(3):
        write_audio(content / f"c{i}.wav", music(1.0, seed=i)[None], 16000, "wav16")
    rng = np.random.default_rng(5)
    style = tmp_path / "style.wav"  # bright: noise through a high shelf
    noise = np.diff(rng.standard_normal(16000), prepend=0.0) * 0.1
    write_audio(style, noise[None].astype(np.float32), 16000, "wav16")
    return content, style


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_resume_export_and_card(tmp_path: Path, files: tuple[Path, Path], one_thread: None) -> None:
    content, style = files
    run = tmp_path / "run"
    base = ["style", "train", "--style", str(style), "--content-data", str(content), "--out", str(run), "--batch", "2",
            "--clip-seconds", "0.5", "--clips-per-source", "4", "--judge-clips", "0"]
    assert main([*base, "--steps", "2"]) == 0
    assert [r["step"] for r in rows(run)] == ["1", "2"]
    assert main([*base, "--steps", "2"]) == 2  # exists: needs --resume or --force
    assert main([*base, "--steps", "4", "--resume"]) == 0
    assert [r["step"] for r in rows(run)] == ["1", "2", "3", "4"]
    card = json.loads((run / "run.json").read_text())
    assert (card["kind"], card["steps"], card["file"]) == ("style", 4, "run.style_gains.onnx")
    assert card["style_files"][0]["sha256"] and card["wall_time_s"] > 0 and card["hardware"]["torch_threads"] == 1
    assert (run / card["file"]).stat().st_size < 1_000_000


def test_the_style_loss_falls_on_a_small_case(files: tuple[Path, Path], one_thread: None) -> None:
    content, style = files
    settings = StyleTrainSettings(batch=2, clip_s=0.5, clips_per_source=2)
    task = StyleTask(FeedForwardConfig(), settings, [str(style)], load_style_audio([str(style)]),
                     [content_source(content)], seed=0)
    task.prepare(0, 1)
    optimiser = torch.optim.Adam(task.model.parameters(), lr=1e-2)
    styles = []
    for _ in range(25):
        loss = task.loss(task.model, 0, 0, 1, torch.device("cpu"))  # the same batch every step
        styles.append(task.last[1])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert styles[-1] < 0.8 * styles[0], styles


def test_the_judge_summary_shares_the_gram_fall_by_totals() -> None:
    """A clip the optimisation barely moves cannot swamp the share: totals, the per-clip median and the count of
    clips at half or more, beside the per-kind means."""
    from models.style.ff_export import summary

    def row(clip: str, method: str, before: float, after: float, kind: str = "music") -> dict[str, object]:
        return {"clip": clip, "kind": kind, "method": method, "gram_before": before, "gram_after": after,
                "moved": 0.3, "pitch_agreement": 0.9}
    rows = [row("a", "feedforward", 1.0, 0.6), row("a", "nsynth-100", 1.0, 0.5),
            row("b", "feedforward", 1.0, 1.1), row("b", "nsynth-100", 1.0, 0.99),
            row("c", "feedforward", 2.0, 1.2), row("c", "nsynth-100", 2.0, 1.0)]
    out = summary(rows)
    share = out["feedforward_gram_fall_share"]
    assert share["total"] == pytest.approx((0.4 - 0.1 + 0.8) / (0.5 + 0.01 + 1.0))
    assert share["per_clip_median"] == pytest.approx(0.8) and share["clips_at_half_or_more"] == 2
    assert share["clips"] == 3 and out["feedforward/music"]["clips"] == 3
    assert out["feedforward/music"]["gram_fall"] == pytest.approx((0.4 - 0.1 + 0.8) / 3)
