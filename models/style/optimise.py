"""What every style method returns, and the optimisers they share (Adam over a tensor, L-BFGS).

Audio is 1-D float32 at 16 kHz. A method's `transfer(content, style)` optimises one window and returns a
`Transfer`: the result audio (the content's length) and the content and style losses per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

LossFn = Callable[[Tensor], tuple[Tensor, Tensor]]  # variable -> (content loss, style loss), both weighted
Step = Callable[[int], None]  # called after each iteration (progress)


@dataclass
class Transfer:
    audio: np.ndarray
    content_loss: list[float] = field(default_factory=list)
    style_loss: list[float] = field(default_factory=list)


def adam(variable: Tensor, losses: LossFn, iterations: int, lr: float, on_step: Step | None = None,
         project: Callable[[Tensor], object] | None = None) -> tuple[list[float], list[float]]:
    """Adam on `variable` (in place); the weighted losses before each update (index 0 is the start)."""
    variable.requires_grad_(True)
    optimiser = torch.optim.Adam([variable], lr=lr)
    content_curve, style_curve = [], []
    for i in range(iterations):
        optimiser.zero_grad()
        content, style = losses(variable)
        (content + style).backward()
        content_curve.append(float(content.detach()))
        style_curve.append(float(style.detach()))
        optimiser.step()
        if project is not None:
            with torch.no_grad():
                project(variable)
        if on_step is not None:
            on_step(i + 1)
    with torch.no_grad():
        content, style = losses(variable)
    content_curve.append(float(content))
    style_curve.append(float(style))
    return content_curve, style_curve


def lbfgs(variable: Tensor, losses: LossFn, iterations: int, on_step: Step | None = None
          ) -> tuple[list[float], list[float]]:
    """L-BFGS (strong-Wolfe line search) on `variable` in place for `iterations` iterations; the losses at
    the start and after every function evaluation (line-search trials included)."""
    variable.requires_grad_(True)
    optimiser = torch.optim.LBFGS([variable], lr=1.0, max_iter=iterations, max_eval=2 * iterations,
                                  tolerance_grad=0.0, tolerance_change=0.0, history_size=20,
                                  line_search_fn="strong_wolfe")
    content_curve, style_curve = [], []

    def closure() -> Tensor:
        optimiser.zero_grad()
        content, style = losses(variable)
        total = content + style
        total.backward()
        content_curve.append(float(content.detach()))
        style_curve.append(float(style.detach()))
        if on_step is not None:
            on_step(min(iterations, optimiser.state[variable].get("n_iter", 0) + 1))
        return total

    optimiser.step(closure)
    with torch.no_grad():
        content, style = losses(variable)
    content_curve.append(float(content))
    style_curve.append(float(style))
    return content_curve, style_curve
