"""Judging the tagger on held-out clips: macro ROC-AUC and PR-AUC over its tags, and a per-tag table.

Clips of the MTAT-layout split (default "test"), read at 16 kHz; each clip's tag probabilities are the mean
over non-overlapping windows (`SampleCNN.predict_clip`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.data.mtat_reader import MTATDataset
from models.metrics import per_tag_auc
from models.tagger.model import SampleCNN


def evaluate(model: SampleCNN, data: Path, split: str = "test") -> dict[str, Any]:
    """{"clips", "split", "macro_roc_auc", "macro_pr_auc", "roc_auc": {tag}, "pr_auc": {tag}, ...}; split "all"
    takes every clip (for a render of a seed never used in training, all of it is held out)."""
    names = model.cfg.tag_names
    if not names:
        raise LatentbridgeError("the tagger has no tag names in its config (train it with `latentbridge train "
                                "tagger`)")
    clips = MTATDataset(data, None if split == "all" else split, tags=names)
    if not len(clips):
        raise LatentbridgeError(f"{data}: the {split} split has no clips")
    scores = np.zeros((len(clips), len(names)))
    with bar("tagging clips", total=len(clips), unit="clip") as progress:
        for i in range(len(clips)):
            scores[i] = model.predict_clip(clips[i][1])
            progress.update(1)
    result = per_tag_auc(clips.label_matrix(), scores, names)
    positives = clips.label_matrix().sum(axis=0)
    result["positives"] = {t: int(n) for t, n in zip(names, positives, strict=True)}
    return {"clips": len(clips), "split": split, **result}
