"""Fast WaveNet generation with per-layer queues (Paine et al. 2016), state passed in and out explicitly.

State = [queue_0 .. queue_{L-1}] (+ [history] with the period input): queue_i [B, R, d_i (k-1)] float
holds layer i's past inputs, oldest first; history [B, max_period] int64 holds x[t - max_period .. t - 1].
`step` is one sample at 16 kHz (logits [B, 256] for x[t] given x[t-1]); its graph has no data-dependent
Python control flow, so `StepModule` exports it to ONNX with the state as inputs and outputs.
"""

from __future__ import annotations

import torch
from torch import nn

from export.core.errors import LatentbridgeError
from export.core.progress import progress
from models.wavenet.model import WaveNet, period_from_f0
from models.wavenet.mu_law import SILENCE_CLASS


def init_state(model: WaveNet, batch: int, device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Zero queues (= the forward pass's left zero padding) and a history of silence (class 128)."""
    cfg = model.cfg
    dtype = model.embed.weight.dtype
    state = [torch.zeros(batch, cfg.residual_channels, block.conv.queue_length, dtype=dtype, device=device)
             for block in model.residual_blocks]
    if cfg.period_input:
        state.append(torch.full((batch, cfg.max_period), SILENCE_CLASS, dtype=torch.long, device=device))
    return state


def residual_steps(model: WaveNet, h: torch.Tensor, conds: list[torch.Tensor | None] | tuple[torch.Tensor, ...],
                   queues: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One sample through every residual block: the input embedding h [B, R], each layer's conditioning [B, 2R]
    (or None) and queue -> (logits [B, classes], the new queues)."""
    skips = torch.zeros(h.shape[0], model.cfg.skip_channels, dtype=h.dtype, device=h.device)
    new_queues: list[torch.Tensor] = []
    for block, cond, queue in zip(model.residual_blocks, conds, queues, strict=True):
        h, s, queue = block.step(h, cond, queue)
        skips = skips + s
        new_queues.append(queue)
    return model.output_logits(skips), new_queues


def step(model: WaveNet, x_prev: torch.Tensor, local_frame: torch.Tensor | None,
         global_id: torch.Tensor | None, global_vec: torch.Tensor | None, period: torch.Tensor | None,
         state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One sample: x_prev [B] = x[t-1], local_frame [B, C] = frame t // hop, global_id [B], global_vec [B, D],
    period [B] = P_t -> (logits [B, classes] for x[t], new state). Inputs not in the config must be None."""
    cfg = model.cfg
    model.check_inputs(local_frame, global_id, global_vec, period)
    layers = cfg.layers
    queues = state[:layers]
    back = None
    if cfg.period_input and period is not None:
        history = torch.cat([state[layers][:, 1:], x_prev.unsqueeze(1)], dim=1)
        index = cfg.max_period - period.clamp(2, cfg.max_period)
        back = history.gather(1, index.unsqueeze(1)).squeeze(1)
    h = model.input_embedding(x_prev, back)
    conds: list[torch.Tensor | None] = [None] * layers
    if model.local_proj is not None and local_frame is not None:
        conds = list(model.local_proj.vector(local_frame))
    g = model.global_vector(global_id, global_vec)
    if model.global_proj is not None and g is not None:
        projected = model.global_proj.vector(g)
        conds = [gc if c is None else c + gc for c, gc in zip(conds, projected, strict=True)]
    logits, new_state = residual_steps(model, h, conds, queues)
    if back is not None:
        new_state.append(history)
    return logits, new_state


def _frames_needed(name: str, frames: torch.Tensor, hop: int, n_samples: int) -> None:
    needed = -(-n_samples // hop)
    if frames.shape[-1] < needed:
        raise LatentbridgeError(f"{name} has {frames.shape[-1]} frames of {hop} samples, "
                                f"{n_samples} samples need {needed}")


@torch.inference_mode()
def generate(model: WaveNet, n_samples: int, local: torch.Tensor | None = None,
             global_id: torch.Tensor | None = None, global_vec: torch.Tensor | None = None,
             f0: torch.Tensor | None = None, period: torch.Tensor | None = None, temperature: float = 1.0,
             seed: int = 0, first_sample_class: int = SILENCE_CLASS, batch: int = 1) -> torch.Tensor:
    """Sample n_samples classes [B, n] autoregressively (torch reference for the native kernel).

    local [B, C, F], f0 [B, F] Hz or period [B, F] samples per frame (frame t // hop drives sample t; give one
    of f0 / period, only with `period_input`); temperature 0 = argmax; `seed` fixes the sampling; `batch` is
    used only when no conditioning tensor sets it. The period-back sample comes from the generated history.
    """
    cfg = model.cfg
    if f0 is not None and period is not None:
        raise LatentbridgeError("give either f0 or period, not both")
    if temperature < 0:
        raise LatentbridgeError(f"temperature must be >= 0, got {temperature}")
    if not 0 <= first_sample_class < cfg.classes:
        raise LatentbridgeError(f"first_sample_class must be in 0..{cfg.classes - 1}, "
                                f"got {first_sample_class}")
    if f0 is not None:
        period = period_from_f0(f0, cfg.max_period, cfg.sample_rate)
    model.check_inputs(local, global_id, global_vec, period)
    for name, frames in (("local conditioning", local), ("f0/period", period)):
        if frames is not None:
            _frames_needed(name, frames, cfg.hop, n_samples)
    for given in (local, global_id, global_vec, period):
        if given is not None:
            batch = given.shape[0]
            break
    device = model.embed.weight.device
    generator = torch.Generator(device=device).manual_seed(seed)
    state = init_state(model, batch, device)
    x_prev = torch.full((batch,), first_sample_class, dtype=torch.long, device=device)
    out = torch.empty(batch, n_samples, dtype=torch.long, device=device)
    for t in progress(range(n_samples), desc="generate", total=n_samples, unit="sample"):
        frame = t // cfg.hop
        local_frame = None if local is None else local[:, :, frame]
        frame_period = None if period is None else period[:, frame]
        logits, state = step(model, x_prev, local_frame, global_id, global_vec, frame_period, state)
        if temperature == 0:
            x_prev = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits.double() / temperature, dim=-1)
            x_prev = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        out[:, t] = x_prev
    return out


class StepModule(nn.Module):
    """`step` with flat tensor inputs and outputs for ONNX export (`input_names`, `output_names`)."""

    def __init__(self, model: WaveNet) -> None:
        super().__init__()
        self.model = model
        cfg = model.cfg
        optional = (("local_frame", cfg.local_channels > 0), ("global_id", cfg.global_classes > 0),
                    ("global_vec", cfg.global_dim > 0), ("period", cfg.period_input))
        self.cond_names = ["x_prev"] + [name for name, used in optional if used]
        history = ["history"] if cfg.period_input else []
        self.state_names = [f"queue_{i}" for i in range(cfg.layers)] + history

    @property
    def input_names(self) -> list[str]:
        return self.cond_names + self.state_names

    @property
    def output_names(self) -> list[str]:
        return ["logits"] + [f"{name}_out" for name in self.state_names]

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Valid inputs in `input_names` order: silence, zero conditioning, period 2, initial state."""
        cfg = self.model.cfg
        examples = {"x_prev": torch.full((batch,), SILENCE_CLASS, dtype=torch.long),
                    "local_frame": torch.zeros(batch, cfg.local_channels),
                    "global_id": torch.zeros(batch, dtype=torch.long),
                    "global_vec": torch.zeros(batch, cfg.global_dim),
                    "period": torch.full((batch,), 2, dtype=torch.long)}
        return tuple(examples[name] for name in self.cond_names) + tuple(init_state(self.model, batch))

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        named = dict(zip(self.cond_names, inputs, strict=False))
        state = list(inputs[len(self.cond_names):])
        logits, new_state = step(self.model, named["x_prev"], named.get("local_frame"),
                                 named.get("global_id"), named.get("global_vec"), named.get("period"), state)
        return (logits, *new_state)
