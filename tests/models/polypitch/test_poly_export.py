"""The exported tracker graph: ONNX Runtime equals torch offline, streams in awkward blocks, and stays causal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from poly_phrases import export_tiny_tracker

from export.poly.tracker import PolyTracker, PolyTrackerStream
from models.training.checkpoint import load_model

HOP = 128
TOLERANCE = 1e-4  # max |onnx - torch| of the sigmoid outputs


@pytest.fixture(scope="module", params=[0, 3], ids=["convs", "memory"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny tracker, and the same with a per-bin recurrent memory (its state carried between calls)."""
    return export_tiny_tracker(tmp_path_factory.mktemp("poly"), memory=request.param)


def audio(frames: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(frames * HOP)).astype(np.float32)


def test_onnx_offline_matches_torch(exported: Path) -> None:
    model, _ = load_model(exported.parent / "run", "poly")
    x = audio(300)
    with torch.no_grad():
        act, onset = model(torch.from_numpy(x)[None])
    got_act, got_onset = PolyTracker.open(exported).activations(x)
    assert got_act.shape == (300, 264) and got_onset.shape == (300, 88)
    assert np.abs(got_act - torch.sigmoid(act[0]).numpy()).max() < TOLERANCE
    assert np.abs(got_onset - torch.sigmoid(onset[0]).numpy()).max() < TOLERANCE


def test_onnx_stream_in_awkward_blocks_equals_one_call(exported: Path) -> None:
    tracker, x = PolyTracker.open(exported), audio(64, seed=1)
    whole_act, whole_onset = PolyTrackerStream(tracker).push(x)
    stream, parts, start = PolyTrackerStream(tracker), [], 0
    for k in (1, 3, 7, 2, 13, 1, 37):
        parts.append(stream.push(x[start * HOP: (start + k) * HOP]))
        start += k
    assert np.abs(np.concatenate([p[0] for p in parts]) - whole_act).max() < 1e-5
    assert np.abs(np.concatenate([p[1] for p in parts]) - whole_onset).max() < 1e-5


def test_onnx_frame_unchanged_by_later_audio(exported: Path) -> None:
    tracker, x = PolyTracker.open(exported), audio(40, seed=2)
    y = x.copy()
    y[25 * HOP:] = audio(15, seed=3)
    (a1, o1), (a2, o2) = tracker.activations(x), tracker.activations(y)
    assert np.array_equal(a1[:25], a2[:25]) and np.array_equal(o1[:25], o2[:25])
    assert not np.allclose(a1[25], a2[25])
