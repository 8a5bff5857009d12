"""Leave reviewed-out tags out of a trained tagger checkpoint; the tags that stay keep their outputs exactly.

A tagger's outputs are independent sigmoids over one shared feature vector, so removing a tag's row from the
last linear layer (and from Adam's moments of that layer) changes nothing for the other tags. Used when the
clip vocabulary drops a tag (`models/data/clip_tags.py`): `train tagger --resume --drop-tags` continues a run
on the reviewed vocabulary, and a run's best.pt is trimmed the same way before it is bundled. The validation
state restarts (best score, patience): a macro ROC-AUC over other tags does not compare.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from export.core.errors import LatentbridgeError
from models.tagger.configs import with_tags
from models.tagger.model import SampleCNN
from models.training.checkpoint import atomic_write, config_hash, load_checkpoint, stored_config


def drop_tags(state: dict[str, Any], names: Sequence[str], path: str | Path) -> dict[str, Any]:
    """A copy of the tagger checkpoint dict `state` (read from `path`) without the tags `names`."""
    cfg = stored_config(state, path)
    unknown = [n for n in names if n not in cfg.tag_names]
    if unknown:
        raise LatentbridgeError(f"{path}: no tag {', '.join(unknown)} to drop (it has "
                                f"{', '.join(cfg.tag_names)})")
    keep = [i for i, tag in enumerate(cfg.tag_names) if tag not in names]
    if not keep:
        raise LatentbridgeError(f"{path}: dropping {', '.join(names)} would leave no tag")
    out = copy.deepcopy(state)
    parameters = [name for name, _ in SampleCNN(cfg).named_parameters()]
    last = parameters[-2].rsplit(".", 1)[0]  # the output layer: the last weight and bias
    rows = torch.tensor(keep)
    for suffix in ("weight", "bias"):
        key = f"{last}.{suffix}"
        out["model"][key] = out["model"][key][rows].clone()
        moments = (out.get("optimizer") or {}).get("state", {}).get(parameters.index(key))
        for name in ("exp_avg", "exp_avg_sq"):
            if moments is not None and name in moments:
                moments[name] = moments[name][rows].clone()
    new_cfg = with_tags(cfg, [cfg.tag_names[i] for i in keep])
    out["config"], out["config_hash"] = new_cfg.to_dict(), config_hash(new_cfg)
    extra = out.setdefault("extra", {})
    if "settings" in extra:
        extra["settings"]["tags"] = list(new_cfg.tag_names)
    if "tags" in extra:
        extra["tags"] = len(keep)
    if "task_state" in extra:
        extra["task_state"].update(best=None, best_step=0, bad=0)
    return out


def drop_tags_in_file(source: str | Path, names: Sequence[str], target: str | Path) -> Path:
    """Write `target` (and config.json beside it), the checkpoint `source` without the tags `names`."""
    state = drop_tags(load_checkpoint(source, "tagger"), names, source)
    target = Path(target)
    atomic_write(target, lambda name: torch.save(state, name))
    text = json.dumps({"kind": "tagger", "config": state["config"], "config_hash": state["config_hash"]}, indent=1)
    atomic_write(target.parent / "config.json", lambda name: Path(name).write_text(text))
    return target
