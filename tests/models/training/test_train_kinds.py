"""`latentbridge train {tagger,classifier,spectral,wavenet}`: each learns, resumes on the same loss curve,
loads back. Fixtures are rendered at test time (NSynth-layout notes, MTAT-layout clips, VCTK-layout speech).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from export.app.cli import main
from models.training.checkpoint import config_hash, load_checkpoint, load_model


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    assert main(["dataset", "notes", "--out", str(root / "notes"), "--limit", "60", "--workers", "1"]) == 0
    assert main(["dataset", "clips", "--out", str(root / "clips"), "--clips", "16", "--duration", "2",
                 "--workers", "1", "--no-vocals"]) == 0
    assert main(["dataset", "speech", "--out", str(root / "speech"), "--speakers", "2", "--utterances", "2",
                 "--workers", "1"]) == 0
    return {"tagger": root / "clips", "classifier": root / "notes", "spectral": root / "notes",
            "wavenet": root / "speech"}


EXTRA = {"tagger": ["--min-count", "1", "--batch", "4"], "classifier": ["--per-instrument", "4", "--batch", "4"],
         "spectral": ["--per-instrument", "4", "--batch", "2"],
         "wavenet": ["--config", "tiny_speech", "--batch", "2", "--crop", "512"]}


def _train(kind: str, data: Path, out: Path, *extra: str) -> int:
    return main(["train", kind, "--data", str(data), "--config", "tiny", "--out", str(out), "--lr", "3e-3",
                 "--cache", str(out.parent / f"cache-{kind}"), *EXTRA[kind], *extra])


def _losses(out: Path) -> list[tuple[int, float]]:
    with (out / "log.csv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


@pytest.mark.parametrize("kind", ["tagger", "classifier", "spectral", "wavenet"])
def test_learns_and_resumes_on_the_same_curve(kind: str, data: dict[str, Path], tmp_path: Path) -> None:
    assert _train(kind, data[kind], tmp_path / "a", "--steps", "12") == 0
    assert _train(kind, data[kind], tmp_path / "a", "--steps", "24", "--resume") == 0
    assert _train(kind, data[kind], tmp_path / "b", "--steps", "24") == 0
    resumed, straight = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert [s for s, _ in resumed] == list(range(1, 25))
    assert resumed == straight
    assert sum(v for _, v in straight[-6:]) < sum(v for _, v in straight[:6])  # it learns
    a, b = load_checkpoint(tmp_path / "a", kind), load_checkpoint(tmp_path / "b", kind)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    model, state = load_model(tmp_path / "a")
    assert state["kind"] == kind and config_hash(model.cfg) == state["config_hash"]
    assert not model.training


def test_tagger_config_carries_the_learnt_tag_names(data: dict[str, Path], tmp_path: Path) -> None:
    assert _train("tagger", data["tagger"], tmp_path / "t", "--steps", "1") == 0
    model, _ = load_model(tmp_path / "t", "tagger")
    names = model.cfg.tag_names
    assert len(names) == model.cfg.n_tags >= 3
    assert "drums" in names or "no_drums" in names
    assert model.predict_clip(np.zeros(model.cfg.n_samples, np.float32)).shape == (len(names),)
    # the rule, from annotations_final.csv directly: the train split's (hex folders 0-b) 50 most frequent tags
    # (ties in column order) with at least --min-count 1 positive and not on every clip
    with (data["tagger"] / "annotations_final.csv").open(newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        rows = [r for r in reader if r["mp3_path"][0] in "0123456789ab"]
        columns = [t for t in reader.fieldnames or [] if t not in ("clip_id", "mp3_path")]
    counts = {t: sum(int(r[t]) for r in rows) for t in columns}
    ranked = sorted(columns, key=lambda t: (-counts[t], columns.index(t)))[:50]
    assert names == tuple(t for t in ranked if 1 <= counts[t] < len(rows))


def test_kind_mismatch_and_corrupt_checkpoint_are_one_line_errors(data: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from export.core.errors import LatentbridgeError

    assert _train("classifier", data["classifier"], tmp_path / "c", "--steps", "1") == 0
    with pytest.raises(LatentbridgeError, match="a classifier checkpoint, not a tagger one"):
        load_checkpoint(tmp_path / "c", "tagger")
    bad = tmp_path / "bad" / "checkpoint.pt"
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LatentbridgeError, match="cannot read checkpoint"):
        load_checkpoint(bad)


def test_note_wavenet_is_conditioned_on_a_frozen_autoencoder(data: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Training the WaveNet decoder leaves the autoencoder it is conditioned on as trained: checked on the
    autoencoder instance the training loop really used (caught on its way into `train`), after the steps."""
    from models.training import loop
    from models.training.train_wavenet import NoteWaveNetTask
    from models.wavenet.model import WaveNet

    notes = ["--per-instrument", "2", "--pitches", "36:84", "--velocities", "25,50,75,100,127",
             "--note-seconds", "0.5"]
    ae = tmp_path / "ae"
    assert main(["train", "autoencoder", "--data", str(data["classifier"]), "--config", "tiny", "--out", str(ae),
                 "--steps", "2", "--batch", "2", "--crop-seconds", "0.25", *notes]) == 0
    tasks = []
    real_train = loop.train

    def train(task: object, opts: loop.LoopOptions) -> dict[str, object]:
        tasks.append(task)
        return real_train(task, opts)
    monkeypatch.setattr(loop, "train", train)
    out = tmp_path / "wn"
    assert main(["train", "wavenet", "--data", str(data["classifier"]), "--config", "tiny_notes", "--autoencoder",
                 str(ae), "--out", str(out), "--steps", "3", "--batch", "2", "--crop", "512", *notes]) == 0
    state = load_checkpoint(out, "wavenet")
    assert state["extra"]["autoencoder"] == str(ae) and state["step"] == 3
    (task,) = tasks
    assert isinstance(task, NoteWaveNetTask)
    used, trained = task.autoencoder, load_checkpoint(ae, "autoencoder")["model"]
    after = used.state_dict()
    assert after.keys() == trained.keys() and all(torch.equal(after[k], v) for k, v in trained.items())
    assert not used.training and not any(p.requires_grad for p in used.parameters())  # frozen, dropout off
    own = {id(p) for p in task.model.parameters()}
    assert not any(id(p) in own for p in used.parameters())  # not among what the optimizer steps ...
    assert set(state["model"]) == set(WaveNet(task.cfg).state_dict())  # ... nor what the checkpoint saves
    loss = task.loss(task.model, 3, 0, 1, torch.device("cpu"))
    loss.backward()  # the loss reaches the WaveNet and stops at the autoencoder's z
    assert all(p.grad is None for p in used.parameters())
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in task.model.parameters())
    assert main(["train", "wavenet", "--data", str(data["classifier"]), "--config", "tiny", "--autoencoder",
                 str(ae), "--out", str(tmp_path / "bad"), "--steps", "1", *notes]) == 2
