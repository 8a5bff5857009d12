"""Sample-level CNN tagger: 3^10 arithmetic, gradients, sliding-window clip prediction, toy learning, ONNX."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from export.core.errors import LatentbridgeError
from models.metrics import roc_auc
from models.tagger import CONFIGS, TEST_CONFIGS, SampleCNN, TaggerConfig, get_config, window_starts, with_tags

ALL = {**TEST_CONFIGS, **CONFIGS}


def build(cfg: TaggerConfig, seed: int = 0) -> SampleCNN:
    torch.manual_seed(seed)
    return SampleCNN(cfg)


def varied_audio(n: int, length: int, seed: int) -> torch.Tensor:
    """n clips that differ in level and spectrum (noise clips of one level would all pool to the same
    features): sines of 200 Hz .. 4 kHz at amplitudes 0.1 .. 0.9, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16000
    freqs, amps = rng.uniform(200, 4000, (n, 1)), rng.uniform(0.1, 0.9, (n, 1))
    audio = amps * np.sin(2 * np.pi * freqs * t) + 0.05 * rng.normal(size=(n, length))
    return torch.from_numpy(audio).float()


def calibrated(model: SampleCNN, seed: int = 0) -> SampleCNN:
    """Batch-norm running statistics from a few random batches, then eval mode (fresh stats make every
    output nearly the same, which would hide a wrong graph)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for i in range(2):
            model(varied_audio(4, model.cfg.n_samples, seed + i))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def test_full_config_leaves_exactly_one_frame_for_3_pow_10_samples() -> None:
    cfg = CONFIGS["samplecnn"]
    assert cfg.n_samples == 59049 == 3 ** 10
    assert cfg.total_stride == 3 ** 10 and cfg.frames_out == 1
    assert (cfg.first_channels, cfg.block_channels[-1], len(cfg.block_channels)) == (128, 512, 9)
    model = build(cfg).eval()
    with torch.no_grad():
        assert model.features(torch.randn(1, 3 ** 10)).shape == (1, 512, 1)
        assert model.features(torch.randn(1, 2 * 3 ** 10)).shape == (1, 512, 2)
    with pytest.raises(LatentbridgeError, match="too short"):
        replace(cfg, n_samples=3 ** 10 - 1)  # one sample short: the last pool has nothing left


@pytest.mark.parametrize("name", ALL)
def test_frames_out_matches_the_network(name: str) -> None:
    cfg = ALL[name]
    model = build(cfg).eval()
    with torch.no_grad():
        assert model.features(torch.zeros(1, cfg.n_samples)).shape[-1] == cfg.frames_out


@pytest.mark.parametrize("name", [*TEST_CONFIGS, "samplecnn_small"])
def test_backward_gives_finite_gradients(name: str) -> None:
    cfg = ALL[name]
    model = build(cfg).train()
    audio = 0.3 * torch.randn(3, cfg.n_samples, generator=torch.Generator().manual_seed(1))
    logits = model(audio)
    assert logits.shape == (3, cfg.n_tags)
    targets = (torch.arange(3 * cfg.n_tags).reshape(3, cfg.n_tags) % 3 == 0).float()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    loss.backward()
    assert 0.3 < loss.item() < 1.5  # about log 2 at initialisation
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


def test_predict_proba_is_the_sigmoid_of_the_logits() -> None:
    model = build(TEST_CONFIGS["tiny"]).eval()
    audio = torch.randn(2, TEST_CONFIGS["tiny"].n_samples)
    with torch.no_grad():
        np.testing.assert_allclose(model.predict_proba(audio).numpy(), torch.sigmoid(model(audio)).numpy())


def test_window_starts_cover_the_clip() -> None:
    assert window_starts(100, 100, 50) == [0]
    assert window_starts(30, 100, 50) == [0]
    assert window_starts(250, 100, 100) == [0, 100, 150]
    assert window_starts(300, 100, 100) == [0, 100, 200]
    assert window_starts(260, 100, 60) == [0, 60, 120, 160]
    with pytest.raises(LatentbridgeError, match="hop"):
        window_starts(300, 100, 0)


@pytest.mark.parametrize("hop", [None, 300])
def test_predict_clip_averages_window_probabilities(hop: int | None) -> None:
    cfg = TEST_CONFIGS["tiny"]  # windows of 729 samples
    model = calibrated(build(cfg, seed=3)).train()
    clip = varied_audio(4, cfg.n_samples, seed=4).flatten().numpy()[: 3 * cfg.n_samples + 250]
    # 2437 samples: windows every hop, then one ending at the clip's end (2437 - 729 = 1708)
    starts = [0, 729, 1458, 1708] if hop is None else [0, 300, 600, 900, 1200, 1500, 1708]
    assert window_starts(clip.size, cfg.n_samples, hop or cfg.n_samples) == starts
    got = model.predict_clip(clip, hop=hop, batch_size=2)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        per_window = [torch.sigmoid(model(torch.from_numpy(clip[s: s + cfg.n_samples])[None]))[0].numpy()
                      for s in starts]
    np.testing.assert_allclose(got, np.mean(per_window, axis=0), atol=1e-6)
    assert got.shape == (cfg.n_tags,)
    assert np.ptp(per_window, axis=0).max() > 1e-3  # the windows really differ, so the average is meaningful


def test_predict_clip_zero_pads_a_short_clip() -> None:
    cfg = TEST_CONFIGS["tiny"]
    model = build(cfg).eval()
    short = np.random.default_rng(5).normal(size=400).astype(np.float32)
    padded = np.pad(short, (0, cfg.n_samples - 400))
    with torch.no_grad():
        expected = model.predict_proba(torch.from_numpy(padded)[None])[0].numpy()
    np.testing.assert_allclose(model.predict_clip(short), expected, atol=1e-6)
    with pytest.raises(LatentbridgeError, match="mono clip"):
        model.predict_clip(np.zeros((2, 800), dtype=np.float32))


def test_tagger_learns_tone_versus_noise(one_thread: None) -> None:
    """Two tags on a toy set: 'tone' (a 1-2 kHz sine present) and 'noise' (white noise present)."""
    cfg = TEST_CONFIGS["tiny"]
    cfg = with_tags(cfg, ["tone", "noise"])
    rng = np.random.default_rng(6)
    t = np.arange(cfg.n_samples) / cfg.sample_rate

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = rng.random((n, 2)) < 0.5
        audio = np.zeros((n, cfg.n_samples))
        for i in range(n):
            if labels[i, 0]:
                audio[i] += 0.5 * np.sin(2 * np.pi * rng.uniform(1000, 2000) * t + rng.uniform(0, 6.3))
            if labels[i, 1]:
                audio[i] += 0.3 * rng.normal(size=cfg.n_samples)
        return torch.from_numpy(audio).float(), torch.from_numpy(labels).float()

    model = build(cfg, seed=2).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        audio, labels = batch(16)
        optimiser.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(audio), labels).backward()
        optimiser.step()
    audio, labels = batch(64)
    with torch.no_grad():
        scores = model.eval().predict_proba(audio).numpy()
    assert roc_auc(labels[:, 0].numpy(), scores[:, 0]) > 0.95
    assert roc_auc(labels[:, 1].numpy(), scores[:, 1]) > 0.95


def test_config_tags_and_json_round_trip() -> None:
    cfg = with_tags(CONFIGS["samplecnn_small"], ["guitar", "classical", "slow"])
    assert cfg.n_tags == 3 and cfg.tag_names == ("guitar", "classical", "slow")
    assert SampleCNN(cfg)(torch.zeros(1, cfg.n_samples)).shape == (1, 3)
    assert TaggerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(LatentbridgeError, match="2 tag names for n_tags=3"):
        TaggerConfig(n_tags=3, tag_names=("a", "b"))
    with pytest.raises(LatentbridgeError, match="distinct"):
        with_tags(cfg, ["a", "a"])
    with pytest.raises(LatentbridgeError, match="too short"):
        TaggerConfig(n_samples=3 ** 9)
    with pytest.raises(LatentbridgeError, match="unknown TaggerConfig fields: colour"):
        TaggerConfig.from_dict({"colour": 1})
    with pytest.raises(LatentbridgeError, match="unknown tagger config"):
        get_config("huge")


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.filterwarnings("ignore:The feature will be removed")
@pytest.mark.parametrize("name", [n for n, c in ALL.items() if c.frontend != "logmel"])
def test_onnx_export_matches_torch(name: str, tmp_path: Path) -> None:
    """The raw-audio configs; the log-mel ResNets have their own parity test (tests of models/tagger/resnet.py):
    with random calibrated weights the full-size ones drift to 4e-3 on logits of ~7 (float32 noise of the dB
    front end in quiet bins, 0.002 dB at -94 dB, amplified by seven blocks), an open point of issue 19."""
    ort = pytest.importorskip("onnxruntime")
    cfg = ALL[name]
    model = calibrated(build(cfg, seed=7))
    path = tmp_path / f"tagger_{name}.onnx"
    example = torch.zeros(1, cfg.n_samples)
    torch.onnx.export(model, (example,), str(path), opset_version=17, dynamo=False, input_names=["audio"],
                      output_names=["logits"], dynamic_axes={"audio": {0: "batch"}, "logits": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio = varied_audio(3, cfg.n_samples, seed=8)
    with torch.no_grad():
        expected = model(audio).numpy()
    (got,) = session.run(None, {"audio": audio.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert np.ptp(expected, axis=0).max() > 1e-3  # batch items differ: the graph is not constant
