"""The causal multi-pitch tracker: audio -> per-frame pitch activations and per-semitone onset logits.

Frames of `hop` (128) samples at 16 kHz; frame i covers samples [i * hop, (i + 1) * hop) and depends only on
audio up to (i + 1) * hop (zero look-ahead). Activation bin b (of 264) is centred on MIDI 21 + b / 3 (bin 0 =
A0, bin 3 k = MIDI 21 + k, bin 261 = C8); onset k (of 88) is MIDI 21 + k. `stream(audio [B, k * hop], state)`
-> (activation logits [B, k, 264], onset logits [B, k, 88], new state); the state is the last
max(n_ffts) - hop samples, each causal conv's last (kernel - 1) * dilation input frames and, with `memory` > 0,
the per-bin recurrent memory's hidden state [B, 264, memory]; zeros at the start, so blocks with the carried
state equal one call. `forward(audio)` is one call from the zero state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.config_dicts import config_from_dict, config_to_dict, named_config
from models.polypitch.frontend import HarmonicStack


@dataclass(frozen=True)
class PolyPitchConfig:
    """Front end (`HarmonicStack`) -> causal 2-D convs (time x frequency) -> activation and onset heads.

    Layers: a (time_kernel x 5) conv, a (time_kernel x 3) conv dilated in time, a (1 x octave_kernel) conv
    along frequency, a (time_kernel x 3) conv dilated further; activations: a (1 x 5) conv to one channel;
    onsets: a (2 x 3) causal conv over the first and last layers' features, then a (1 x 3) conv of stride 3
    pooling each semitone's three bins. ReLU between layers; batch norm on the input only.
    """

    sample_rate: int = MODEL_RATE
    hop: int = 128
    n_ffts: tuple[int, ...] = (1024, 4096)
    lowest_midi: int = 21
    bins_per_semitone: int = 3
    semitones: int = 88
    harmonics: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
    fmax: float = 8000.0
    channels: int = 16
    octave_kernel: int = 25
    time_kernel: int = 3
    dilations: tuple[int, int, int] = (1, 2, 4)
    onset_channels: int = 16
    window_fall: int = 0  # samples of each DFT window's falling side (0: symmetric Hann; frontend.asymmetric_hann)
    memory: int = 0  # units of the per-bin GRU over frames (0: none)

    def __post_init__(self) -> None:
        if self.hop < 1 or min(self.n_ffts, default=0) < self.hop:
            raise LatentbridgeError("PolyPitchConfig: every n_fft must be >= hop >= 1")
        if min(self.channels, self.onset_channels, self.time_kernel, self.octave_kernel) < 1 or \
                min(self.window_fall, self.memory) < 0:
            raise LatentbridgeError("PolyPitchConfig: widths and kernels must be >= 1, window_fall and memory >= 0")
        if len(self.dilations) != 3 or min(self.dilations) < 1:
            raise LatentbridgeError("PolyPitchConfig.dilations must be three positive integers")
        if self.octave_kernel % 2 == 0:
            raise LatentbridgeError("PolyPitchConfig.octave_kernel must be odd")

    @property
    def n_bins(self) -> int:
        return self.semitones * self.bins_per_semitone

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PolyPitchConfig:
        return config_from_dict(cls, values)


CONFIGS: dict[str, PolyPitchConfig] = {
    "poly_small": PolyPitchConfig(),
    # poly_small plus a 256-point window (16 ms, appended as the last 8 input channels) that sees an onset
    # within one frame; `train poly --init` widens a poly_small checkpoint into it without changing its output
    "poly_onset": PolyPitchConfig(n_ffts=(1024, 4096, 256)),
    # poly_onset with 24 channels (issue 16: more capacity for unseen instruments); its cost beside 16 and 32
    # channels: `latentbridge bench tracker` (bench/results/zen4-2026-12-06/tracker.json)
    "poly_wide": PolyPitchConfig(n_ffts=(1024, 4096, 256), channels=24, onset_channels=24),
    # poly_onset with its 1024- and 4096-point windows falling over their last 256 samples (16 ms): a note reaches
    # half its steady level in the 4096-point window 7 frames (56 ms) sooner on a sine (same weights: `--init`)
    "poly_fast": PolyPitchConfig(n_ffts=(1024, 4096, 256), window_fall=256),
    # poly_fast plus a 2048-point window (appended as the last 8 input channels, `--init` widens poly_fast into it)
    # between the 1024-point window's speed and the 4096-point window's resolution of low notes
    "poly_fast4": PolyPitchConfig(n_ffts=(1024, 4096, 256, 2048), window_fall=256),
    # poly_fast with its time convs dilated 1, 4, 16 instead of 1, 2, 4: 42 frames (336 ms) of causal context
    # instead of 14 at the same weights and cost (`--init` loads poly_fast), for notes that fade under newer ones
    # (the bundled tracker scores no better on its own training phrases than on valid)
    "poly_fast_ctx": PolyPitchConfig(n_ffts=(1024, 4096, 256), window_fall=256, dilations=(1, 4, 16)),
    # poly_fast with 24 channels (poly_wide's width): `--init` widens poly_fast into it with the new channels' inputs
    # zeroed, so it starts from poly_fast's outputs (half poly_fast's training speed, bench tracker)
    "poly_fast_wide": PolyPitchConfig(n_ffts=(1024, 4096, 256), window_fall=256, channels=24, onset_channels=24),
    # poly_fast plus a per-bin GRU memory of 16 units (`--init` loads poly_fast; the memory's output starts at zero)
    # for notes held under newer ones and release tails: the bundled tracker scores no better on its own training
    # phrases than on valid, and neither more context (poly_fast_ctx) nor width (poly_fast_wide) changed that
    "poly_fast_memory": PolyPitchConfig(n_ffts=(1024, 4096, 256), window_fall=256, memory=16),
    "poly_tiny": PolyPitchConfig(n_ffts=(1024,), harmonics=(1.0, 2.0, 3.0), channels=4, octave_kernel=5,
                                 onset_channels=4),
}


def get_config(name: str) -> PolyPitchConfig:
    return named_config(name, "poly config", CONFIGS)


class CausalConv(nn.Module):
    """Conv2d over [B, C, frames, bins]: causal in time through a cache of the last (kernel - 1) * dilation
    input frames, 'same' zero padding in frequency."""

    def __init__(self, c_in: int, c_out: int, time_kernel: int, freq_kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.c_in, self.pad = c_in, (time_kernel - 1) * dilation
        self.conv = nn.Conv2d(c_in, c_out, (time_kernel, freq_kernel), dilation=(dilation, 1),
                              padding=(0, freq_kernel // 2))

    def forward(self, x: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        full = torch.cat([cache, x], dim=2)
        return self.conv(full), full[:, :, full.shape[2] - self.pad:]


class PolyPitchNet(nn.Module):
    """See the module docstring."""

    def __init__(self, cfg: PolyPitchConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stack = HarmonicStack(cfg.n_ffts, cfg.hop, cfg.sample_rate, cfg.lowest_midi, cfg.n_bins,
                                   cfg.bins_per_semitone, cfg.harmonics, cfg.fmax, cfg.window_fall)
        c, kt, (d1, d2, d3) = cfg.channels, cfg.time_kernel, cfg.dilations
        self.norm = nn.BatchNorm2d(self.stack.channels)
        self.conv1 = CausalConv(self.stack.channels, c, kt, 5, d1)
        self.conv2 = CausalConv(c, c, kt, 3, d2)
        self.octave = nn.Conv2d(c, c, (1, cfg.octave_kernel), padding=(0, cfg.octave_kernel // 2))
        self.conv3 = CausalConv(c, c, kt, 3, d3)
        self.activation_head = nn.Conv2d(c, 1, (1, 5), padding=(0, 2))
        self.onset_conv = CausalConv(2 * c, cfg.onset_channels, 2, 3)
        self.onset_head = nn.Conv2d(cfg.onset_channels, 1, (1, cfg.bins_per_semitone),
                                    stride=(1, cfg.bins_per_semitone), padding=(0, cfg.bins_per_semitone // 2))
        if cfg.memory:
            self.memory = nn.GRU(c, cfg.memory)
            self.memory_head = nn.Conv2d(cfg.memory, 1, (1, 5), padding=(0, 2))
            nn.init.zeros_(self.memory_head.weight)
            nn.init.zeros_(self.memory_head.bias)

    # weights whose input is several layers' features side by side (name -> how many blocks of `channels`), for
    # `train poly --init` to widen block by block
    CONCATENATED_INPUTS = {"onset_conv.conv.weight": 2}
    # parameters a source checkpoint may lack: `train poly --init` leaves them at their initialisation, whose output
    # is zero (the memory's output conv), so the tracker starts from the source's outputs
    ADDED_MODULES = ("memory.", "memory_head.")

    @property
    def causal_layers(self) -> list[CausalConv]:
        return [self.conv1, self.conv2, self.conv3, self.onset_conv]

    @property
    def receptive_frames(self) -> int:
        """Past frames (beyond the DFT windows) that a frame's output depends on."""
        return sum(layer.pad for layer in (self.conv1, self.conv2, self.conv3)) + self.onset_conv.pad

    @property
    def state_names(self) -> list[str]:
        memory = ["memory"] if self.cfg.memory else []
        return ["tail", *(f"cache_{i}" for i in range(len(self.causal_layers))), *memory]

    def init_state(self, batch: int) -> list[Tensor]:
        """Zero state: the audio tail [B, max(n_ffts) - hop], each causal conv's cache [B, C, pad, bins] and the
        memory [B, bins, memory] where there is one."""
        caches = [torch.zeros(batch, layer.c_in, layer.pad, self.cfg.n_bins) for layer in self.causal_layers]
        memory = [torch.zeros(batch, self.cfg.n_bins, self.cfg.memory)] if self.cfg.memory else []
        return [torch.zeros(batch, self.stack.context), *caches, *memory]

    def stream(self, audio: Tensor, state: list[Tensor]) -> tuple[Tensor, Tensor, list[Tensor]]:
        """See the module docstring; audio [B, k * hop] with k >= 1."""
        tail, c1, c2, c3, c4, *memory = state
        window = torch.cat([tail, audio], dim=1)
        x = self.norm(self.stack(window))
        h1, c1 = self.conv1(x, c1)
        h1 = F.relu(h1)
        h, c2 = self.conv2(h1, c2)
        h = F.relu(self.octave(F.relu(h)))
        h, c3 = self.conv3(h, c3)
        h = F.relu(h)
        activations = self.activation_head(h)[:, 0]
        if self.cfg.memory:
            held, last = self._remember(h, memory[0])
            activations, memory = activations + held, [last]
        o, c4 = self.onset_conv(torch.cat([h1, h], dim=1), c4)
        onsets = self.onset_head(F.relu(o))[:, 0]
        new_tail = window[:, window.shape[1] - self.stack.context:]
        return activations, onsets, [new_tail, c1, c2, c3, c4, *memory]

    def _remember(self, h: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Features [B, C, k, bins] and memory [B, bins, units] -> (logits [B, k, bins], new memory): the GRU runs
        over the k frames with the bins as its batch."""
        b, c, k, _ = h.shape
        n, units = self.cfg.n_bins, self.cfg.memory  # constants, so the graph's output shapes name them
        out, last = self.memory(h.permute(2, 0, 3, 1).reshape(k, b * n, c), memory.reshape(1, b * n, units))
        out = out.reshape(k, b, n, units).permute(1, 3, 0, 2)
        return self.memory_head(out)[:, 0], last.reshape(b, n, units)

    def forward(self, audio: Tensor, history: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """audio [B, k * hop] -> (activation logits, onset logits) from the zero state, or with `history`
        [B, max(n_ffts) - hop] (the audio before it) as the front end's tail and zero conv caches."""
        state = [s.to(audio) for s in self.init_state(audio.shape[0])]
        if history is not None:
            state[0] = history
        activations, onsets, _ = self.stream(audio, state)
        return activations, onsets
