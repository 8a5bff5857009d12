"""Ranking metrics for multi-label tagging: ROC-AUC and PR-AUC (average precision) per tag, macro means.

numpy only. Labels are 0/1 (any truthy value counts as positive); scores are any real numbers, higher = more
likely positive. Tied scores are handled exactly: ROC-AUC gives a tied (positive, negative) pair 1/2, and
average precision evaluates precision once per distinct threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError


def _check(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true).astype(bool).ravel()
    scores = np.asarray(y_score, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise LatentbridgeError(f"y_true has {labels.size} values but y_score has {scores.size}")
    if not np.isfinite(scores).all():
        raise LatentbridgeError("y_score contains NaN or infinite values")
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == labels.size:
        raise LatentbridgeError("AUC needs both positive and negative labels")
    return labels, scores


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # group g covers sorted positions [starts[g], ends[g])
    group_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties 1/2.

    Computed from average ranks (Mann-Whitney U); LatentbridgeError if only one class is present.
    """
    labels, scores = _check(y_true, y_score)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    rank_sum = average_ranks(scores)[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pr_auc(y_true: Any, y_score: Any) -> float:
    """Average precision: sum over distinct thresholds (high to low) of precision x gain in recall.

    AP = sum_k (R_k - R_{k-1}) P_k, where threshold k keeps every score >= the k-th largest distinct score.
    """
    labels, scores = _check(y_true, y_score)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    true_pos = np.cumsum(sorted_labels)
    # the last position of each group of tied scores is where that threshold's counts are read
    last = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    tp = true_pos[last].astype(np.float64)
    precision = tp / (last + 1)
    recall = tp / tp[-1]
    gain = np.diff(np.r_[0.0, recall])
    return float(np.sum(gain * precision))


def per_tag_auc(y_true: Any, y_score: Any, names: Sequence[str]) -> dict[str, Any]:
    """ROC-AUC and PR-AUC of each column of [N, K] labels / scores, and their macro (unweighted) means.

    Columns with only one class present are skipped and listed under "skipped"; the macro means are over
    the remaining tags (NaN if none remain). Returns {"roc_auc": {tag: auc}, "pr_auc": {tag: ap},
    "macro_roc_auc": float, "macro_pr_auc": float, "skipped": [tag, ...], "n_tags_scored": int}.
    """
    labels = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != scores.shape:
        raise LatentbridgeError(f"expected labels and scores of the same shape [N, K], "
                                f"got {labels.shape} and {scores.shape}")
    if len(names) != labels.shape[1]:
        raise LatentbridgeError(f"got {len(names)} tag names for {labels.shape[1]} columns")
    roc: dict[str, float] = {}
    ap: dict[str, float] = {}
    skipped: list[str] = []
    for k, name in enumerate(names):
        column = labels[:, k].astype(bool)
        if column.all() or not column.any():
            skipped.append(name)
            continue
        roc[name] = roc_auc(column, scores[:, k])
        ap[name] = pr_auc(column, scores[:, k])
    macro_roc = float(np.mean(list(roc.values()))) if roc else float("nan")
    macro_ap = float(np.mean(list(ap.values()))) if ap else float("nan")
    return {"roc_auc": roc, "pr_auc": ap, "macro_roc_auc": macro_roc, "macro_pr_auc": macro_ap,
            "skipped": skipped, "n_tags_scored": len(roc)}
