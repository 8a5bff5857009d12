"""The log-mel short-chunk ResNet tagger (`logmel_resnet*` configs): shapes, SpecAugment, training with mixup /
gain / validation / early stopping (learns, resumes on the same curve), ONNX export with the front end in the
graph, gradients to the audio (for `dream`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from export.app.cli import main
from export.core.errors import LatentbridgeError
from export.onnx.loader import open_model
from models.tagger.configs import TaggerConfig, get_config
from models.tagger.model import SampleCNN
from models.tagger.tag_drop import drop_tags_in_file
from models.training.checkpoint import load_model, save_checkpoint
from models.training.train_tagger import Augment, TagChoice, TaggerTask, Validation


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resnet") / "clips"
    assert main(["dataset", "clips", "--out", str(root), "--clips", "32", "--duration", "2", "--workers", "1",
                 "--no-vocals"]) == 0
    return root


@pytest.mark.parametrize("name", ["tiny_resnet", "logmel_resnet_small", "logmel_resnet"])
def test_frames_and_outputs_match_the_config(name: str) -> None:
    cfg = get_config(name)
    model = SampleCNN(cfg).eval()
    audio = torch.zeros(2, cfg.n_samples)
    with torch.no_grad():
        assert model.image(audio).shape == (2, cfg.bands, cfg.frontend_frames)
        assert model.features(audio).shape == (2, cfg.block_channels[-1], cfg.frames_out)
        assert model(audio).shape == (2, cfg.n_tags)
    assert TaggerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_bad_resnet_configs_are_one_line_errors() -> None:
    with pytest.raises(LatentbridgeError, match="resnet2d backbone needs"):
        TaggerConfig(backbone="resnet2d")
    with pytest.raises(LatentbridgeError, match="cannot be halved"):
        TaggerConfig(frontend="logmel", backbone="resnet2d", bands=8, block_channels=(4, 4, 4, 4))
    with pytest.raises(LatentbridgeError, match="backbone must be one of"):
        TaggerConfig(frontend="logmel", backbone="resnet3d")


def test_spec_augment_masks_in_training_only() -> None:
    cfg = get_config("tiny_resnet")
    model = SampleCNN(cfg)
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (8, cfg.n_samples)).astype(np.float32))
    torch.manual_seed(1)
    masked = model.image(audio)
    torch.manual_seed(1)
    assert torch.equal(masked, model.image(audio))  # drawn from the (seeded) torch RNG
    model.eval()
    plain = model.image(audio)
    zeroed = (masked == 0) & (plain != 0)
    assert zeroed.any()
    rows = zeroed.all(dim=2).sum(dim=1) + zeroed.all(dim=1).sum(dim=1)  # whole bands or whole frames
    assert int(rows.min()) >= 0 and int(zeroed.sum()) <= cfg.bands * cfg.frontend_frames * 8
    assert torch.equal(plain, model.image(audio))


def _train(clips: Path, out: Path, *extra: str) -> int:
    return main(["train", "tagger", "--data", str(clips), "--config", "tiny_resnet", "--out", str(out),
                 "--lr", "3e-3", "--batch", "8", "--min-count", "1", "--cache", str(out.parent / "cache"),
                 "--mixup", "0.5", "--gain-db", "6", "--valid-every", "5", "--warmup", "4", *extra])


def _losses(out: Path) -> list[tuple[int, float]]:
    with (out / "log.csv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_trains_with_augmentation_and_validation_and_resumes_on_the_same_curve(clips: Path,
                                                                              tmp_path: Path) -> None:
    assert _train(clips, tmp_path / "a", "--steps", "15") == 0
    assert _train(clips, tmp_path / "a", "--steps", "40", "--resume") == 0
    assert _train(clips, tmp_path / "b", "--steps", "40") == 0
    resumed, straight = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert resumed == straight
    assert sum(v for _, v in straight[-8:]) < sum(v for _, v in straight[:8])  # it learns
    model, state = load_model(tmp_path / "a" / "checkpoint.pt")
    assert model.cfg.backbone == "resnet2d" and state["step"] == 40
    assert state["extra"]["task_state"]["history"]  # validated
    best, best_state = load_model(tmp_path / "a" / "best.pt")
    assert best_state["step"] == state["extra"]["task_state"]["best_step"]


def test_mix_labels_and_early_stopping(clips: Path, tmp_path: Path) -> None:
    task = TaggerTask(get_config("tiny_resnet"), clips, tmp_path / "cache", TagChoice(min_count=1), 4, 0,
                      Augment(mixup=0.5), Validation(every=1, patience=4, lr_patience=2))
    names = task.cfg.tag_names
    a, b = np.zeros(len(names), np.float32), np.zeros(len(names), np.float32)
    for tag, side in (("drums", a), ("no_drums", b), ("no_vocal", a), ("no_vocal", b), ("solo", b),
                      ("fast", a), ("reverb", b)):
        if tag in names:
            side[names.index(tag)] = 1.0
    mixed = dict(zip(names, task.mix_labels(a, b), strict=True))
    expected = {"drums": 1.0, "no_drums": 0.0, "no_vocal": 1.0, "solo": 0.0, "reverb": 1.0}
    assert {t: mixed[t] for t in expected if t in mixed} == {t: v for t, v in expected.items() if t in names}
    scores = iter([0.6, 0.7, 0.65, 0.66, 0.69, 0.5])
    task.valid_audio = np.zeros((1, 1), np.float32)
    task.validate = lambda model: next(scores)  # type: ignore[method-assign]
    verdicts = [task.after_step(task.model, step) for step in range(1, 7)]
    assert verdicts == ["best", "best", None, None, None, "stop"]
    assert task.state()["lr_scale"] == 0.5 and task.state()["best_step"] == 2
    assert task.lr_scale(0) == 0.5


def _tiny_checkpoint(directory: Path) -> tuple[Path, SampleCNN]:
    torch.manual_seed(3)
    model = SampleCNN(get_config("tiny_resnet")).eval()
    for m in model.modules():  # non-trivial batch-norm statistics, so eval mode is really exercised
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = directory / "resnet" / "checkpoint.pt"
    save_checkpoint(path, "tagger", model, None, 0, 0)
    return path.parent, model


def test_onnx_export_keeps_the_log_mel_front_end_in_the_graph_and_matches_torch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    run, model = _tiny_checkpoint(tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["graph"] for r in rows] == ["tagger"] and rows[0]["max_abs_diff"] <= 1e-4
    ops = {n.op_type for n in onnx.load(rows[0]["path"]).graph.node}
    assert "STFT" in ops  # the STFT runs as the ONNX op, on raw audio
    rng = np.random.default_rng(1)
    audio = (rng.uniform(-0.5, 0.5, (3, model.cfg.n_samples)) * np.array([[1.0], [0.01], [1e-4]])).astype(np.float32)
    got = open_model(rows[0]["path"]).run(audio=audio)["probabilities"]
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(audio))).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_gradients_reach_the_audio_through_the_front_end() -> None:
    cfg = get_config("tiny_resnet")
    model = SampleCNN(cfg).eval()
    audio = torch.from_numpy(np.random.default_rng(2).uniform(-0.3, 0.3, (1, cfg.n_samples)).astype(np.float32))
    audio.requires_grad_(True)
    torch.sigmoid(model(audio))[0, 0].backward()
    assert audio.grad is not None and torch.isfinite(audio.grad).all() and float(audio.grad.abs().sum()) > 0


def test_drop_tags_keeps_the_other_outputs_and_training_resumes(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _train(clips, out, "--steps", "6") == 0
    names = load_model(out / "checkpoint.pt")[0].cfg.tag_names
    gone = [t for t in ("fast", "reverb") if t in names]
    assert gone and _train(clips, out, "--steps", "8", "--resume", "--drop-tags", ",".join(gone)) == 0
    after, state = load_model(out / "checkpoint.pt")
    assert state["step"] == 8 and after.cfg.tag_names == tuple(t for t in names if t not in gone)
    assert load_model(out / "best.pt")[0].cfg.tag_names == names  # best.pt (step 5) is the source below
    trimmed = drop_tags_in_file(out / "best.pt", gone, tmp_path / "trimmed" / "checkpoint.pt")
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (2, after.cfg.n_samples))
                             .astype(np.float32))
    with torch.no_grad():
        full = load_model(out / "best.pt")[0].eval()(audio)
        less = load_model(trimmed)[0].eval()(audio)
    assert torch.equal(less, full[:, [i for i, t in enumerate(names) if t not in gone]])
    assert _train(clips, tmp_path / "fresh", "--steps", "2", "--drop-tags", "fast") == 2
