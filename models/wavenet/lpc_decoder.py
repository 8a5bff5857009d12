"""LPCNet-style WaveNet decoder guided by the harmonic autoencoder: the network samples only the excitation that
linear prediction from the harmonic decoder's envelope leaves, with the period-back input for pitch.

Rate 16 kHz, signal domain pre-emphasised: s[t] = x[t] - c x[t - 1]. Per sample t (frame t // hop): prediction
p[t] = -sum_k a_k s[t - k] from the decoder's own past (coefficients from `models.autoencoder.lpc`); inputs are
the mu-law class of s[t - 1], the class of the excitation one period back e[t - P_t] (long-term prediction on
the excitation, as in CELP codecs), features [compand(p[t]), compand(h_s[t])] (h_s: the harmonic decoder's output,
pre-emphasised) projected into the input, and the local conditioning (z + controls) per frame; the output is
the class of e[t] = s[t] - p[t] (logits [B, 256, T]); s[t] = clip(p[t] + e[t]), x[t] = clip(s[t] + c x[t - 1]).
With `predict=False` and no guide this is the period-back WaveNet on x itself (p = 0, c = 0, e = x).
Generation bounds the sampled excitation to `bound` times the RMS, in that frame, of the harmonic output's own
excitation under the same prediction (h_s - predict(h_s)): the synthesis filter 1 / A(z) then cannot amplify a
wide draw into a runaway (measured in bench/results/lpcnet_investigation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from export.core.progress import progress
from models.autoencoder.harmonic import harmonic_amplitudes
from models.autoencoder.lpc import LPCConfig, lpc_from_envelope, predict, preemphasis
from models.autoencoder.model import Autoencoder
from models.config_dicts import config_from_dict, config_to_dict, named_config
from models.wavenet import mu_law
from models.wavenet.configs import AE_SMALL
from models.wavenet.incremental import init_state, residual_steps
from models.wavenet.layers import upsample_frames
from models.wavenet.model import WaveNet, WaveNetConfig, period_from_f0

MU_STEP = 2.0 / mu_law.MU  # one mu-law class in the companded domain
EXCITATION_BOUND = 4.0  # x the frame's RMS of the harmonic output's excitation; 0 = unbounded


def compand(x: Tensor) -> Tensor:
    """mu-law companding F(x) in [-1, 1] as a continuous feature (float32)."""
    x = x.clamp(-1.0, 1.0)
    return torch.sign(x) * torch.log1p(mu_law.MU * x.abs()) / float(np.log1p(mu_law.MU))


def expand(y: Tensor) -> Tensor:
    """Inverse of `compand`."""
    return torch.sign(y) * torch.expm1(y.abs() * float(np.log1p(mu_law.MU))) / mu_law.MU


@dataclass(frozen=True)
class LPCWaveNetConfig:
    """The WaveNet (local conditioning z + 3 controls per frame, period input), the linear prediction,
    whether it predicts (`predict`) and takes the harmonic decoder's output as a feature (`guide`), and the
    teacher-forcing noise injection: the past the network sees (and predicts from) is the clean past moved by up
    to `noise_classes` mu-law classes (uniform, amplitude drawn per crop from [0, noise_classes])."""

    wavenet: WaveNetConfig = AE_SMALL
    lpc: LPCConfig = field(default_factory=LPCConfig)
    predict: bool = True
    guide: bool = True
    noise_classes: float = 2.0

    def __post_init__(self) -> None:
        if not self.wavenet.period_input or not self.wavenet.local_channels:
            raise LatentbridgeError("an LPC WaveNet needs local conditioning and the period input")
        if self.noise_classes < 0:
            raise LatentbridgeError(f"noise_classes must be >= 0, got {self.noise_classes}")

    @property
    def features(self) -> int:
        return int(self.predict) + int(self.guide)

    @property
    def emphasis(self) -> float:
        """The pre-emphasis coefficient of the signal domain (0 when nothing is predicted)."""
        return self.lpc.preemphasis if self.predict else 0.0

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LPCWaveNetConfig:
        return config_from_dict(cls, values)


class LPCWaveNet(nn.Module):
    """`forward(inputs, back, features, local) -> logits` (teacher forcing); `generate_excitation` samples."""

    def __init__(self, cfg: LPCWaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = WaveNet(cfg.wavenet)
        r = cfg.wavenet.residual_channels
        self.feature_proj = nn.Conv1d(cfg.features, r, 1, bias=False) if cfg.features else None
        if self.feature_proj is not None:
            nn.init.normal_(self.feature_proj.weight, std=0.1)

    def embed(self, inputs: Tensor, back: Tensor, features: Tensor | None) -> Tensor:
        """classes [B, ...] of s[t-1] and of e[t - P_t], features [B, ..., K] -> [B, ..., R]."""
        h = self.net.input_embedding(inputs, back)
        if self.feature_proj is not None and features is not None:
            h = h + features @ self.feature_proj.weight.squeeze(-1).T
        return h

    def forward(self, inputs: Tensor, back: Tensor, features: Tensor | None, local: Tensor) -> Tensor:
        """inputs, back [B, T] classes, features [B, T, K], local [B, C, >= ceil(T / hop)] -> logits
        [B, 256, T]."""
        net, length = self.net, inputs.shape[1]
        h = self.embed(inputs, back, features).transpose(1, 2)
        frames = net.local_proj(local[..., : -(-length // net.cfg.hop)]) if net.local_proj is not None else []
        skips = torch.zeros(h.shape[0], net.cfg.skip_channels, length, dtype=h.dtype, device=h.device)
        for block, cond in zip(net.residual_blocks, frames, strict=True):
            h, s = block(h, upsample_frames(cond, net.cfg.hop, length))
            skips = skips + s
        return net.output_logits(skips)


@dataclass
class Guide:
    """What the frozen harmonic autoencoder gives the decoder for audio [B, T]: local conditioning
    [B, z + 3, F], per-frame LPC coefficients [B, F, order + 1], the pre-emphasised harmonic output h_s [B, T'],
    periods [B, F] in samples (T' = F * hop)."""

    local: Tensor
    lpc: Tensor
    harmonic: Tensor
    period: Tensor


@torch.no_grad()
def harmonic_guide(autoencoder: Autoencoder, cfg: LPCWaveNetConfig, audio: Tensor, f0: Tensor,
                   periodicity: Tensor, loudness: Tensor) -> Guide:
    """The `Guide` of audio [B, T] with its controls [B, F] (the autoencoder in eval mode, level-corrected)."""
    ae = autoencoder
    z, _ = ae.encode(audio)
    frames = f0.shape[1]
    z_frames = ae.align_z(z, frames)
    controls = ae.control_features(f0, periodicity, loudness)
    local = torch.cat([z_frames, controls], dim=-1).transpose(1, 2)
    amplitude, distribution, noise, _ = ae.decoder(torch.cat([z_frames, controls], dim=-1))
    f0c = ae.clamp_f0(f0).float()
    amps = harmonic_amplitudes(amplitude.float(), distribution.float(), f0c, ae.cfg.sample_rate)
    lpc = lpc_from_envelope(f0c, amps, noise.float(), cfg.lpc, ae.cfg.sample_rate)
    h, _ = ae.decode(z_frames, f0, periodicity, loudness, level=True)
    period = period_from_f0(f0c, cfg.wavenet.max_period, cfg.wavenet.sample_rate)
    return Guide(local, lpc, preemphasis(h, cfg.emphasis), period)


def teacher_inputs(cfg: LPCWaveNetConfig, audio: Tensor, guide: Guide,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """(input classes, period-back classes, features, target classes) for teacher forcing on audio [B, T]
    (T a multiple of hop), with the noise injection of the config (see `LPCWaveNetConfig`)."""
    batch, length = audio.shape
    hop = cfg.wavenet.hop
    s = preemphasis(audio, cfg.emphasis)
    noisy = s
    if cfg.noise_classes > 0:
        amount = torch.rand(batch, 1, generator=generator) * cfg.noise_classes * MU_STEP
        jitter = (torch.rand(batch, length, generator=generator) * 2.0 - 1.0) * amount
        noisy = expand((compand(s) + jitter).clamp(-1.0, 1.0))
    p = predict(noisy, guide.lpc, hop).clamp(-1.0, 1.0) if cfg.predict else torch.zeros_like(s)
    target = mu_law.encode((s - p).clamp(-1.0, 1.0))
    inputs = mu_law.encode(F.pad(noisy, (1, 0))[:, :-1])
    period = upsample_frames(guide.period.unsqueeze(1), hop, length).squeeze(1)
    source = torch.arange(length) - period
    excitation = mu_law.encode((noisy - p).clamp(-1.0, 1.0))  # what the decoder would have sampled
    back = torch.where(source >= 0, excitation.gather(1, source.clamp(min=0)), mu_law.SILENCE_CLASS)
    features = _features(cfg, p, guide.harmonic[:, :length])
    return inputs, back, features, target


def _features(cfg: LPCWaveNetConfig, p: Tensor, harmonic: Tensor) -> Tensor | None:
    parts = ([compand(p)] if cfg.predict else []) + ([compand(harmonic)] if cfg.guide else [])
    return torch.stack(parts, dim=-1) if parts else None


@torch.inference_mode()
def excitation_rms(cfg: LPCWaveNetConfig, guide: Guide) -> Tensor:
    """Per frame [B, F], the RMS of the harmonic output's excitation h_s - predict(h_s) (zeros without
    prediction or guide)."""
    hop, frames = cfg.wavenet.hop, guide.local.shape[2]
    h = guide.harmonic[:, : frames * hop]
    if not cfg.predict:
        return torch.zeros(h.shape[0], frames)
    e = h - predict(h, guide.lpc, hop)
    return e.reshape(h.shape[0], frames, hop).square().mean(-1).sqrt()


@torch.inference_mode()
def generate(model: LPCWaveNet, guide: Guide, temperature: float = 0.7, seed: int = 0,
             show_progress: bool = True, bound: float = EXCITATION_BOUND,
             classes_out: np.ndarray | None = None) -> np.ndarray:
    """Autoregressive audio [B, F * hop] (de-emphasised, in [-1, 1]) from a `Guide`, torch queues (per-layer
    state as in `models.wavenet.incremental`; the prediction runs on the decoder's own float past). With
    prediction and `bound` > 0 each excitation is clipped to +-(bound x `excitation_rms` of its frame + 1e-4)
    and re-encoded (the period-back history holds the clipped class); `classes_out` [B, n] int32, when given,
    receives the excitation classes as sampled (before the bound)."""
    if bound < 0:
        raise LatentbridgeError(f"the excitation bound must be >= 0, got {bound}")
    cfg, net = model.cfg, model.net
    wcfg = net.cfg
    batch, _, frames = guide.local.shape
    n, order, c = frames * wcfg.hop, cfg.lpc.order, cfg.emphasis
    generator = torch.Generator().manual_seed(seed)
    queues = init_state(net, batch)[: wcfg.layers]
    history = torch.zeros(batch, order)  # s[t - order .. t - 1]
    excitations = torch.full((batch, wcfg.max_period), mu_law.SILENCE_CLASS)  # classes of e[t - max_period ..]
    x_prev = torch.zeros(batch)
    out = torch.empty(batch, n)
    levels = torch.from_numpy(mu_law.LEVELS)
    limit = bound * excitation_rms(cfg, guide) + 1e-4 if cfg.predict and bound > 0 else None
    conds = net.local_proj(guide.local)  # an LPC WaveNet always has local conditioning (its config checks)
    steps = progress(range(n), desc="generate lpc", total=n, unit="sample") if show_progress else range(n)
    for t in steps:
        frame = t // wcfg.hop
        p = (-(guide.lpc[:, frame, 1:].flip(-1) * history).sum(-1)).clamp(-1.0, 1.0) if cfg.predict \
            else torch.zeros(batch)
        period = guide.period[:, frame].clamp(2, wcfg.max_period)
        back = excitations.gather(1, (wcfg.max_period - period).unsqueeze(1)).squeeze(1)
        features = _features(cfg, p, guide.harmonic[:, t])
        h = model.embed(mu_law.encode(history[:, -1]), back, features)
        logits, queues = residual_steps(net, h, [c[:, :, frame] for c in conds], queues)
        if temperature == 0:
            e_class = logits.argmax(-1)
        else:
            probs = torch.softmax(logits.double() / temperature, dim=-1)
            e_class = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        if classes_out is not None:
            classes_out[:, t] = e_class.numpy()
        e = levels[e_class]
        if limit is not None:
            e = torch.maximum(torch.minimum(e, limit[:, frame]), -limit[:, frame])
            e_class = mu_law.encode(e)
        s = (p + e).clamp(-1.0, 1.0)
        history = torch.cat([history[:, 1:], s.unsqueeze(1)], dim=1)
        excitations = torch.cat([excitations[:, 1:], e_class.unsqueeze(1)], dim=1)
        x_prev = (s + c * x_prev).clamp(-1.0, 1.0)
        out[:, t] = x_prev
    return out.numpy()


# Trains on one CPU core: the ae_small WaveNet decoder (16 layers, 32 residual / 64 skip channels, z + 3
# controls per 128 samples, period input) with prediction, the harmonic guide and noise injection.
LPC_SMALL = LPCWaveNetConfig()
CONFIGS: dict[str, LPCWaveNetConfig] = {
    "lpc_small": LPC_SMALL,
    "lpc_small_clean": LPCWaveNetConfig(noise_classes=0.0),  # no noise injection (ablation)
    "period_small": LPCWaveNetConfig(predict=False, guide=False, noise_classes=0.0),  # the period-back WaveNet
}
_TINY_WAVENET = WaveNetConfig(layers=3, cycle=3, residual_channels=8, skip_channels=8, local_channels=7,
                              hop=128, period_input=True, max_period=320)
TEST_CONFIGS: dict[str, LPCWaveNetConfig] = {
    "tiny_lpc": LPCWaveNetConfig(wavenet=_TINY_WAVENET),  # the tiny autoencoder's z4 + 3
    "tiny_period": LPCWaveNetConfig(wavenet=_TINY_WAVENET, predict=False, guide=False, noise_classes=0.0),
}


def get_config(name: str) -> LPCWaveNetConfig:
    return named_config(name, "LPC WaveNet", CONFIGS, TEST_CONFIGS)
