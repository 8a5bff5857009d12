"""Ranking metrics: ROC-AUC against brute-force pair counts, average precision against worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from export.core.errors import LatentbridgeError
from models.metrics import average_ranks, per_tag_auc, pr_auc, roc_auc


def brute_force_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def brute_force_ap(labels: np.ndarray, scores: np.ndarray) -> float:
    """Untied scores only: mean over positives of the precision at that positive's rank."""
    order = np.argsort(-scores)
    hits = labels[order] == 1
    precision_at = np.cumsum(hits) / np.arange(1, labels.size + 1)
    return float(precision_at[hits].mean())


def test_average_ranks_share_ties() -> None:
    np.testing.assert_array_equal(average_ranks(np.array([30.0, 10.0, 20.0, 20.0, 20.0, 5.0])),
                                  [6.0, 2.0, 4.0, 4.0, 4.0, 1.0])


@pytest.mark.parametrize("seed", range(6))
def test_roc_auc_equals_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    labels = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    labels[:2] = [0, 1]
    scores = rng.integers(0, 7, n).astype(float)  # few distinct values: many ties
    assert roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)
    untied = rng.normal(size=n)
    assert roc_auc(labels, untied) == pytest.approx(brute_force_auc(labels, untied), abs=1e-12)


def test_roc_auc_perfect_inverted_constant() -> None:
    labels = np.array([0, 1, 0, 1, 1, 0, 0])
    scores = labels + np.linspace(0.0, 0.1, labels.size)
    assert roc_auc(labels, scores) == 1.0
    assert roc_auc(labels, -scores) == 0.0
    assert roc_auc(labels, np.full(labels.size, 0.3)) == 0.5


def test_pr_auc_hand_computed() -> None:
    # ranked: + - + + -  -> precision at the positives 1, 2/3, 3/4, recall steps of 1/3 each
    labels = np.array([1, 0, 1, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert pr_auc(labels, scores) == pytest.approx((1.0 + 2.0 / 3.0 + 3.0 / 4.0) / 3.0, abs=1e-12)
    # a tie straddling a positive and a negative: thresholds 0.9 (P 1, R 1/2) and 0.5 (P 2/3, R 1)
    # whatever order the tied items come in (a positive listed first would score 1.0 if ties were split)
    assert pr_auc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.5 * 1.0 + 0.5 * 2.0 / 3.0, abs=1e-12)
    assert pr_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.5 * 1.0 + 0.5 * 2.0 / 3.0, abs=1e-12)
    assert pr_auc([0, 1, 1, 0], [0.1, 0.8, 0.9, 0.2]) == 1.0
    assert pr_auc([1, 0, 0, 0], [0.0, 1.0, 1.0, 1.0]) == pytest.approx(0.25)  # worst: one threshold, all in


@pytest.mark.parametrize("seed", range(4))
def test_pr_auc_equals_precision_at_positives(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    labels = (rng.random(200) < 0.3).astype(int)
    scores = rng.normal(size=200) + labels
    assert pr_auc(labels, scores) == pytest.approx(brute_force_ap(labels, scores), abs=1e-12)


def test_per_tag_auc_skips_single_class_tags() -> None:
    rng = np.random.default_rng(7)
    labels = (rng.random((40, 4)) < 0.4).astype(int)
    labels[:, 1] = 0  # never present
    labels[:, 3] = 1  # always present
    labels[:2, 0] = [0, 1]
    labels[:2, 2] = [0, 1]
    scores = rng.random((40, 4))
    result = per_tag_auc(labels, scores, ["rock", "jazz", "guitar", "loud"])
    assert result["skipped"] == ["jazz", "loud"]
    assert list(result["roc_auc"]) == ["rock", "guitar"]
    assert result["n_tags_scored"] == 2
    assert result["roc_auc"]["guitar"] == pytest.approx(brute_force_auc(labels[:, 2], scores[:, 2]))
    y, s = labels[:, [0, 2]], scores[:, [0, 2]]
    assert result["macro_roc_auc"] == pytest.approx(np.mean([roc_auc(y[:, k], s[:, k]) for k in (0, 1)]))
    assert result["macro_pr_auc"] == pytest.approx(np.mean([pr_auc(y[:, k], s[:, k]) for k in (0, 1)]))
    none_left = per_tag_auc(np.ones((3, 1)), np.zeros((3, 1)), ["all"])
    assert none_left["skipped"] == ["all"] and np.isnan(none_left["macro_roc_auc"])


def test_metric_errors() -> None:
    with pytest.raises(LatentbridgeError, match="both positive and negative"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(LatentbridgeError, match="both positive and negative"):
        pr_auc([0, 0], [0.1, 0.2])
    with pytest.raises(LatentbridgeError, match="3 values but y_score has 2"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(LatentbridgeError, match="NaN"):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(LatentbridgeError, match="tag names"):
        per_tag_auc(np.zeros((3, 2)), np.zeros((3, 2)), ["a"])
