"""`latentbridge train autoencoder`: runs, checkpoints, resumes on the same loss curve, DDP on 2 processes.

The notes are rendered at test time; their controls come from a stand-in tracker (cached before the runs),
so these tests check the training loop, not the pitch tracker.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from export.app.cli import main
from models.autoencoder.configs import get_config
from models.autoencoder.model import Autoencoder
from models.training.checkpoint import config_hash, load_checkpoint, load_model
from models.training.note_batches import NoteSubset, build_cache

ROOT = Path(__file__).resolve().parents[3]
SUBSET = ["--per-instrument", "3", "--pitches", "40:80", "--velocities", "25,50,75,100,127",
          "--note-seconds", "0.5"]


def _stand_in_controls(self: Autoencoder, audio: torch.Tensor):
    frames = audio.shape[-1] // self.cfg.frame_hop
    x = audio[:, : frames * self.cfg.frame_hop].reshape(audio.shape[0], frames, -1)
    loud = 20 * torch.log10(x.square().mean(-1).sqrt() + 1e-5)
    return torch.full_like(loud, 220.0), torch.ones_like(loud), loud


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny rendered note set and its cache (built once with the stand-in controls)."""
    root = tmp_path_factory.mktemp("train")
    assert main(["dataset", "notes", "--out", str(root / "notes"), "--limit", "40", "--workers", "1"]) == 0
    model = Autoencoder(get_config("tiny"))
    model.compute_controls = _stand_in_controls.__get__(model)  # type: ignore[method-assign]
    subset = NoteSubset(per_instrument=3, pitches=(40, 80), velocities=(25, 50, 75, 100, 127), seconds=0.5)
    cache = build_cache(root / "notes", subset, model, root / "cache")
    assert len(cache) >= 4
    return root / "notes", root / "cache"


def _train(notes: tuple[Path, Path], out: Path, *extra: str) -> int:
    data, cache = notes
    return main(["train", "autoencoder", "--data", str(data), "--cache", str(cache), "--config", "tiny",
                 "--out", str(out), "--batch", "2", "--crop-seconds", "0.125", *SUBSET, *extra])


def _losses(out: Path) -> list[tuple[int, float]]:
    with (out / "log.csv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_resume_continues_the_same_loss_curve(notes: tuple[Path, Path], tmp_path: Path) -> None:
    assert _train(notes, tmp_path / "a", "--steps", "20") == 0
    assert load_checkpoint(tmp_path / "a")["step"] == 20
    assert _train(notes, tmp_path / "a", "--steps", "40", "--resume") == 0
    assert _train(notes, tmp_path / "b", "--steps", "40") == 0
    resumed, straight = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert [s for s, _ in resumed] == list(range(1, 41))
    assert resumed == straight
    assert sum(v for _, v in straight[-10:]) < sum(v for _, v in straight[:10])  # it learns
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    model, state = load_model(tmp_path / "a")
    assert state["config_hash"] == config_hash(get_config("tiny"))
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["config_hash"] == state["config_hash"]
    assert sum(p.numel() for p in model.parameters()) > 0


def test_refuses_to_overwrite_and_checks_resume_settings(notes: tuple[Path, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert _train(notes, tmp_path / "run", "--steps", "2") == 0
    assert _train(notes, tmp_path / "run", "--steps", "2") == 2
    assert "already exists" in capsys.readouterr().err
    assert _train(notes, tmp_path / "run", "--steps", "4", "--resume", "--seed", "7") == 2
    assert "same batch" in capsys.readouterr().err
    assert _train(notes, tmp_path / "none", "--steps", "4", "--resume") == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "autoencoder", "--help"])
    assert "Example: latentbridge train autoencoder" in capsys.readouterr().out


def test_ddp_two_processes_match_one_process_with_the_global_batch(notes: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    data, cache = notes
    args = ["train", "autoencoder", "--data", str(data), "--cache", str(cache), "--config", "tiny",
            "--crop-seconds", "0.125", "--steps", "3", *SUBSET]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path, GLOO_SOCKET_IFNAME="lo")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    for attempt in ("ddp", "ddp_again"):
        ddp_args = [*args, "--batch", "2", "--out", str(tmp_path / attempt)]
        ddp = subprocess.run([*torchrun, "-m", "export.app.cli", *ddp_args],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        # A rank killed by a signal inside gloo (seen once in ~15 clean-clone runs: SIGABRT, no Python error) is
        # the launcher's, not a wrong result: one fresh try, and its output stays in the report
        if ddp.returncode == 0 or "exitcode: -" not in ddp.stderr:
            break
        print(f"torchrun attempt {attempt} lost a rank to a signal:\n{ddp.stderr[:3000]}")
    assert ddp.returncode == 0, ddp.stderr[:2000] + "\n...\n" + ddp.stderr[-2000:]
    assert _train(notes, tmp_path / "single", "--steps", "3", "--batch", "4") == 0
    two, one = _losses(tmp_path / attempt), _losses(tmp_path / "single")
    assert [s for s, _ in two] == [1, 2, 3]
    for (_, a), (_, b) in zip(two, one, strict=True):
        assert a == pytest.approx(b, rel=1e-4)
    ckpt_ddp, ckpt_one = load_checkpoint(tmp_path / attempt), load_checkpoint(tmp_path / "single")
    assert ckpt_ddp["extra"]["world"] == 2
    torch.manual_seed(0)
    initial = Autoencoder(get_config("tiny")).state_dict()
    moved = sum(float((v - initial[k]).square().sum()) for k, v in ckpt_one["model"].items()) ** 0.5
    apart = sum(float((ckpt_ddp["model"][k] - v).square().sum()) for k, v in ckpt_one["model"].items()) ** 0.5
    assert moved > 1e-2
    assert apart < 0.05 * moved  # same updates up to summation order (Adam amplifies it for near-zero grads)


def test_sigterm_saves_a_checkpoint_at_the_last_step(notes: tuple[Path, Path], tmp_path: Path) -> None:
    data, cache = notes
    out = tmp_path / "term"
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    proc = subprocess.Popen([sys.executable, "-m", "export.app.cli", "train", "autoencoder", "--data", str(data),
                             "--cache", str(cache), "--config", "tiny", "--out", str(out), "--batch", "2",
                             "--crop-seconds", "0.125", "--steps", "100000", *SUBSET], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "log.csv").is_file() or len(_losses(out)) < 5:
            alive = proc.poll() is None and time.monotonic() < deadline
            assert alive, proc.stderr.read() if proc.stderr else "timed out"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    steps = [s for s, _ in _losses(out)]
    assert 5 <= steps[-1] < 100000
    assert load_checkpoint(out)["step"] == steps[-1]
