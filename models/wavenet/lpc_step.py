"""One sample of the LPC WaveNet decoder (`models.wavenet.lpc_decoder`) with its per-layer queues as explicit state,
for the ONNX `lpc_step` graph whose weights the native kernel's LPC mode runs.

Inputs per voice: x_prev [B] the mu-law class of s[t - 1] (the pre-emphasised output), back [B] the class of the
excitation one period back, features [B, 2] (companded prediction p[t], companded harmonic guide h_s[t]),
local_frame [B, C] (frame t // hop), queue_i [B, R, d_i]; outputs logits [B, 256] of the excitation class and the
new queues. The prediction, the excitation history and the synthesis filter live outside the graph (they are
signal processing, done in the kernel). Weights are named `model.net.*` (the WaveNet) and
`model.feature_proj.weight`.
"""

from __future__ import annotations

import torch
from torch import nn

from models.wavenet.incremental import init_state, residual_steps
from models.wavenet.lpc_decoder import LPCWaveNet
from models.wavenet.mu_law import SILENCE_CLASS


class LPCStepModule(nn.Module):
    """See the module docstring."""

    def __init__(self, model: LPCWaveNet) -> None:
        super().__init__()
        if model.feature_proj is None or not model.cfg.wavenet.local_channels:
            raise ValueError("the lpc_step graph needs an LPC WaveNet with features and local conditioning")
        self.model = model
        self.state_names = [f"queue_{i}" for i in range(model.cfg.wavenet.layers)]
        self.input_names = ["x_prev", "back", "features", "local_frame", *self.state_names]
        self.output_names = ["logits", *(f"{name}_out" for name in self.state_names)]

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Silence, zero features and conditioning, the initial queues."""
        cfg = self.model.cfg
        silence = torch.full((batch,), SILENCE_CLASS, dtype=torch.long)
        queues = init_state(self.model.net, batch)[: cfg.wavenet.layers]
        return (silence, silence.clone(), torch.zeros(batch, cfg.features),
                torch.zeros(batch, cfg.wavenet.local_channels), *queues)

    def forward(self, x_prev: torch.Tensor, back: torch.Tensor, features: torch.Tensor, local_frame: torch.Tensor,
                *queues: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net, proj = self.model.net, self.model.feature_proj
        h = net.input_embedding(x_prev, back) + proj(features.unsqueeze(-1)).squeeze(-1)
        logits, new = residual_steps(net, h, net.local_proj.vector(local_frame), queues)
        return (logits, *new)
