"""Per-frame level correction of the synthesiser's output toward the loudness control (causal, streaming-safe).

The decoder is given the input's A-weighted loudness but, on instruments it never trained on, its output comes
out several dB quieter (about 5 dB on held-out TimGM6mb notes, up to 9.5 dB). This stage measures the
loudness of the decoder's own output with the project's tracker (`models.controls.loudness`: the Hann window
of `n_fft` samples ending at each frame's end, A-weighted mean power) and scales each frame toward the target:

    ratio[i]   = clamp(target[i] - measured[i], -2 max_db, 2 max_db)
    gain_db[i] = clamp(ratio[i] + predict * (ratio[i] - ratio[i - 1]), -max_db, boost[i])
    boost[i]   = max_db * clamp((target[i] - gate_db) / gate_width_db, 0, 1)

`ratio` compares the same windows of input and output, so it describes the level mismatch around the window's
centre, about n_fft / 2 samples back; applied as is it lags: where the decoder's attack is slower than the
input's, the mismatch is shrinking and the lagged value boosts the attack by up to 7 dB. The first-order
prediction (`predict` frames of the ratio's last slope) brings it forward to the current frame; in a steady
note the slope is 0 and the gain is the exact ratio. A target at or below `gate_db` (silence at the tracker's
floor) is never boosted, only attenuated; the boost grows to `max_db` over `gate_width_db` above it. The gain is
linear in amplitude within a frame, from the previous frame's gain to this one's (weight (m + 1) / hop, as the
synthesiser interpolates its parameters), so it never steps. The correction is open-loop: `measured` is taken
on the output before the gain, so no gain feeds back into a later measurement; frame i's gain depends only on
frames <= i (no look-ahead, no added delay).

State (explicit, like the synthesiser's; all zeros at the start): the previous gain in dB [B], the previous
ratio in dB [B] and the last n_fft - hop samples of the uncorrected output [B, n_fft - hop] (the tracker pads
with zeros too).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.controls.loudness import LoudnessConfig, _window_and_weight
from models.framed_dft import sliding_dft

LevelState = tuple[Tensor, Tensor, Tensor]  # (gain_db [B], ratio_db [B], tail [B, n_fft - hop])


class LevelCorrection(nn.Module):
    """(audio [B, F * hop], target loudness [B, F] dB, state) -> (corrected audio, state); see the module
    docstring."""

    window: Tensor
    weight: Tensor
    ramp: Tensor

    delay_samples = 0  # frame i's gain depends only on frames <= i

    def __init__(self, loudness: LoudnessConfig, max_db: float, gate_db: float, gate_width_db: float,
                 predict: float) -> None:
        super().__init__()
        self.cfg = loudness
        self.max_db, self.gate_db, self.gate_width_db = float(max_db), float(gate_db), float(gate_width_db)
        self.predict = float(predict)
        self.hop, self.n_fft = loudness.hop, loudness.n_fft
        hann, weight = _window_and_weight(loudness)
        self.register_buffer("window", hann.float(), persistent=False)
        self.register_buffer("weight", weight.float(), persistent=False)
        self.register_buffer("ramp", torch.arange(1, self.hop + 1, dtype=torch.float32) / self.hop,
                             persistent=False)

    def describe(self) -> dict[str, object]:
        """The settings, for model cards and graph metadata."""
        return {"max_db": self.max_db, "gate_db": self.gate_db, "gate_width_db": self.gate_width_db,
                "predict_frames": self.predict, "n_fft": self.n_fft, "hop": self.hop,
                "measured_on": "the synthesiser's output before the gain",
                "tracker": "A-weighted loudness (models.controls.loudness)", "look_ahead_samples": 0}

    def init_state(self, batch: int, device: torch.device | None = None) -> LevelState:
        dev = device if device is not None else self.ramp.device
        return (torch.zeros(batch, device=dev), torch.zeros(batch, device=dev),
                torch.zeros(batch, self.n_fft - self.hop, device=dev))

    def measure(self, audio: Tensor, tail: Tensor) -> Tensor:
        """A-weighted loudness [B, F] (dB, floored) of each frame of `audio` [B, F * hop] preceded by `tail`:
        the tracker's value for the same frames of the whole signal."""
        x = torch.cat([tail.to(audio.dtype), audio], dim=-1)
        real, imag = sliding_dft(x, self.n_fft, self.hop, self.window)
        power = (real.square() + imag.square()) @ self.weight.to(audio.dtype)
        return 10.0 * torch.log10(power.clamp_min(10.0 ** (self.cfg.floor_db / 10.0)))

    def gains(self, target: Tensor, measured: Tensor, ratio_prev: Tensor) -> tuple[Tensor, Tensor]:
        """(gain in dB, ratio in dB), each [B, F], from target and measured loudness [B, F] and the previous
        frame's ratio [B] (see the module docstring)."""
        target = target.clamp_min(self.cfg.floor_db)
        ratio = (target - measured).clamp(-2.0 * self.max_db, 2.0 * self.max_db)
        previous = torch.cat([ratio_prev.unsqueeze(1).to(ratio.dtype), ratio[:, :-1]], dim=1)
        boost = self.max_db * ((target - self.gate_db) / self.gate_width_db).clamp(0.0, 1.0)
        gain = torch.minimum((ratio + self.predict * (ratio - previous)).clamp_min(-self.max_db), boost)
        return gain, ratio

    def forward(self, audio: Tensor, target: Tensor, state: LevelState) -> tuple[Tensor, LevelState]:
        gain_prev, ratio_prev, tail = state
        batch, frames = target.shape
        if frames == 0:
            return audio, state
        with torch.no_grad():  # a measurement, not a path for gradients
            raw = audio.detach().float()
            gain, ratio = self.gains(target.float(), self.measure(raw, tail), ratio_prev.float())
            linear = torch.pow(10.0, torch.cat([gain_prev.float().unsqueeze(1), gain], dim=1) / 20.0)
            start, end = linear[:, :-1], linear[:, 1:]
            per_sample = (start.unsqueeze(-1) + (end - start).unsqueeze(-1) * self.ramp).reshape(batch, -1)
            history = torch.cat([tail.float(), raw], dim=-1)
            new_tail = history[:, history.shape[1] - (self.n_fft - self.hop):]
        return audio * per_sample.to(audio.dtype), (gain[:, -1], ratio[:, -1], new_tail)
