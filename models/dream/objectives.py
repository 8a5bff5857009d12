"""What `dream` climbs on the tagger: a tag's logit, a layer's activation energy, or closeness of a layer's
activation statistics to a target clip's; `TaggerProbe.evaluate` gives the value, the tag probabilities and
the gradient in one pass.

Audio: 16 kHz mono float32 [T]. A clip is cut into the tagger's windows as `SampleCNN.predict_clip` does
(hop = one window plus a last window ending at the clip's end; a short clip is zero-padded), so the reported
probabilities are the tagger's own; the objective averages over windows and its gradient reaches every sample.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.tagger.model import SampleCNN, window_starts


def layer_names(model: SampleCNN) -> tuple[str, ...]:
    """Layers whose activations can be dreamed on: the front end, then block1..blockN (shallow to deep)."""
    return ("frontend", *(f"block{i + 1}" for i in range(len(model.blocks))))


def layer_module(model: SampleCNN, name: str) -> nn.Module:
    return model.frontend if name == "frontend" else model.blocks[int(name[len("block"):]) - 1]


@dataclass(frozen=True)
class LayerRef:
    """A layer by name, optionally one channel of it (`block3:17`)."""

    name: str
    channel: int | None = None

    def __str__(self) -> str:
        return self.name if self.channel is None else f"{self.name}:{self.channel}"


def parse_layer(spec: str, model: SampleCNN) -> LayerRef:
    """`NAME` or `NAME:CHANNEL` (see `layer_names`); a one-line error for an unknown layer or channel."""
    name, _, channel_text = spec.partition(":")
    names = layer_names(model)
    if name not in names:
        raise LatentbridgeError(f"unknown layer {name!r} (layers: {', '.join(names)})")
    if not channel_text:
        return LayerRef(name)
    width = model.cfg.frontend_channels if name == "frontend" else model.cfg.block_channels[int(name[5:]) - 1]
    if not channel_text.isdigit() or int(channel_text) >= width:
        raise LatentbridgeError(f"layer {name} has channels 0..{width - 1}, got {channel_text!r}")
    return LayerRef(name, int(channel_text))


def tag_index(model: SampleCNN, tag: str) -> int:
    """Column of `tag` in the tagger's output; a one-line error naming close matches for an unknown tag."""
    names = list(model.cfg.tag_names)
    if tag in names:
        return names.index(tag)
    close = difflib.get_close_matches(tag, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"tags: {', '.join(names)}"
    raise LatentbridgeError(f"unknown tag {tag!r} for this tagger ({hint})")


def clip_windows(audio: Tensor, window: int) -> Tensor:
    """[T] -> [W, window] as `predict_clip` cuts a clip (differentiable)."""
    if audio.shape[0] < window:
        audio = torch.nn.functional.pad(audio, (0, window - audio.shape[0]))
    return torch.stack([audio[s: s + window] for s in window_starts(audio.shape[0], window, window)])


def moments(activations: Tensor) -> Tensor:
    """Per-channel mean and standard deviation over windows and frames: [W, C, F] -> [2C]."""
    flat = activations.transpose(0, 1).reshape(activations.shape[1], -1)
    return torch.cat([flat.mean(dim=1), flat.std(dim=1, correction=0)])


@dataclass(frozen=True)
class Objective:
    """kind "tag": mean logit of `tag` over windows; "odds": log-odds of the clip's probability of `tag` (the
    mean of window probabilities, the decision the tagger reports); "layer": mean squared activation of `layer`
    (or of one channel); "target": minus the squared distance of `layer`'s `moments` to `target_moments`,
    relative to the target's own squared norm (0 when equal)."""

    kind: str
    tag: int | None = None
    layer: LayerRef | None = None
    target_moments: Tensor | None = None

    def __post_init__(self) -> None:
        needs = {"tag": self.tag is not None, "odds": self.tag is not None, "layer": self.layer is not None,
                 "target": self.layer is not None and self.target_moments is not None}
        if self.kind not in needs:
            raise LatentbridgeError(f"unknown objective {self.kind!r} (tag, odds, layer or target)")
        if not needs[self.kind]:
            raise LatentbridgeError(f"a {self.kind} objective is missing its tag, layer or target")


@dataclass
class Evaluation:
    """One forward/backward pass: objective value, clip tag probabilities [n_tags], d value / d audio [T]
    (None without gradients) and, for a target objective, the relative distance to the target."""

    value: float
    probabilities: np.ndarray
    gradient: np.ndarray | None
    distance: float | None = None


class TaggerProbe:
    """The tagger in eval mode (batch norm frozen, no dropout, parameters frozen), read out at the logits and
    at one hooked layer."""

    def __init__(self, model: SampleCNN) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.window = model.cfg.n_samples

    @classmethod
    def open(cls, path: str | Path) -> TaggerProbe:
        """A probe on a tagger checkpoint (`models.training.checkpoint`); one-line errors for a bad file."""
        from models.training.checkpoint import load_model

        model, _ = load_model(path, "tagger")
        if not isinstance(model, SampleCNN):
            raise LatentbridgeError(f"{path}: not a tagger checkpoint")
        return cls(model)

    def _run(self, audio: Tensor, layer: LayerRef | None) -> tuple[Tensor, Tensor | None]:
        captured: list[Tensor] = []
        handle = None
        if layer is not None:
            handle = layer_module(self.model, layer.name).register_forward_hook(
                lambda _m, _i, out: captured.append(out))
        try:
            logits = self.model(clip_windows(audio, self.window))
        finally:
            if handle is not None:
                handle.remove()
        if layer is None:
            return logits, None
        act = captured[0]
        return logits, act if layer.channel is None else act[:, layer.channel: layer.channel + 1]

    @torch.no_grad()
    def layer_moments(self, audio: np.ndarray, layer: LayerRef) -> Tensor:
        """`moments` of a layer's activations on a clip (the target of a target objective)."""
        _, act = self._run(torch.from_numpy(np.asarray(audio, np.float32)), layer)
        assert act is not None
        return moments(act)

    @torch.no_grad()
    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        logits, _ = self._run(torch.from_numpy(np.asarray(audio, np.float32)), None)
        return torch.sigmoid(logits).mean(dim=0).numpy()

    def evaluate(self, audio: np.ndarray, objective: Objective, gradient: bool = True) -> Evaluation:
        x = torch.from_numpy(np.asarray(audio, np.float32).copy()).requires_grad_(gradient)
        with torch.set_grad_enabled(gradient):
            layer = objective.layer if objective.kind in ("layer", "target") else None
            logits, act = self._run(x, layer)
            distance = None
            if objective.kind == "tag":
                value = logits[:, objective.tag].mean()
            elif objective.kind == "odds":
                p = torch.sigmoid(logits[:, objective.tag].double()).mean().clamp(1e-12, 1 - 1e-12)
                value = torch.log(p) - torch.log1p(-p)
            elif objective.kind == "layer":
                assert act is not None
                value = act.pow(2).mean()
            else:
                assert act is not None and objective.target_moments is not None
                target = objective.target_moments
                value = -(moments(act) - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)
                distance = -float(value.detach())
            grad = None
            if gradient:
                (grad_t,) = torch.autograd.grad(value, x)
                grad = grad_t.numpy()
        probs = torch.sigmoid(logits.detach()).mean(dim=0).numpy()
        return Evaluation(float(value.detach()), probs, grad, distance)
