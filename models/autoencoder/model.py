"""NSynth-style autoencoder with explicit controls: encoder -> z; (z, f0, loudness, periodicity) -> decoder
network -> harmonic-plus-noise synthesiser.

Audio [B, T] float32 at 16 kHz. Controls come per `frame_hop` (128) samples, frame i summarising the causal
window ending at sample (i + 1) * hop: f0 [B, F] in Hz, periodicity [B, F] in [0, 1], A-weighted loudness
[B, F] in dB (F = T // hop). Frame i of a causal model uses the latest z complete at its end,
z[(i + 1) // 4 - 1] (zeros before the first), so nothing looks ahead; a non-causal encoder's frame i uses
z[i // 4]. Output audio [B, F * hop]. In eval mode (inference) the synthesiser's output then goes through a
causal per-frame level correction toward the loudness control (level.py; `level_max_db` 0 turns it off);
training mode leaves it out, so the loss trains the network's own amplitude.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError
from models.autoencoder.configs import AutoencoderConfig
from models.autoencoder.decoder import FrameDecoder
from models.autoencoder.encoder import Encoder
from models.autoencoder.harmonic import HarmonicNoiseSynth, SynthState, harmonic_amplitudes
from models.autoencoder.level import LevelCorrection, LevelState

# (GRU hidden [1, B, H], synthesiser state, level-correction state: () when the model has none)
DecoderState = tuple[Tensor, SynthState, LevelState | tuple[()]]


class Autoencoder(nn.Module):
    """Offline model: `forward(audio, f0, periodicity, loudness) -> (reconstruction, kl)`."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg.encoder, cfg.sample_rate, cfg.frame_hop)
        self.decoder = FrameDecoder(cfg.decoder, cfg.encoder.z_dim)
        dec = cfg.decoder
        self.synth = HarmonicNoiseSynth(dec.n_harmonics, dec.n_noise, cfg.sample_rate, cfg.frame_hop,
                                        dec.noise_table, dec.noise_seed)
        self.level = (LevelCorrection(self.tracker_configs()[1], cfg.level_max_db, cfg.level_gate_db,
                                      cfg.level_gate_width_db, cfg.level_predict_frames)
                      if cfg.level_max_db > 0 else None)

    # -- controls --------------------------------------------------------------------------------------------
    def tracker_configs(self) -> tuple[Any, Any]:
        """The (PitchConfig, LoudnessConfig) of models.controls matching this model's config."""
        from models.controls.loudness import LoudnessConfig
        from models.controls.pitch import PitchConfig

        cfg = self.cfg
        pitch = PitchConfig(sample_rate=cfg.sample_rate, hop=cfg.frame_hop, window=cfg.pitch_window,
                            fmin=cfg.pitch_fmin, fmax=cfg.pitch_fmax, threshold=cfg.pitch_threshold)
        loud = LoudnessConfig(sample_rate=cfg.sample_rate, hop=cfg.frame_hop, n_fft=cfg.loudness_n_fft,
                              floor_db=cfg.loudness_floor_db)
        return pitch, loud

    def compute_controls(self, audio: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """audio [B, T] -> (f0 Hz, periodicity, loudness dB), each [B, T // frame_hop] (yin, A-weighting)."""
        from models.controls.loudness import a_weighted_loudness
        from models.controls.pitch import yin

        pitch, loud = self.tracker_configs()
        with torch.no_grad():
            f0, periodicity = yin(audio, pitch)
            loudness = a_weighted_loudness(audio, loud)
        return f0.float(), periodicity.float(), loudness.float()

    def clamp_f0(self, f0: Tensor) -> Tensor:
        """f0 limited to the pitch tracker's range (unvoiced frames may report 0)."""
        return f0.clamp(self.cfg.pitch_fmin, self.cfg.pitch_fmax)

    def control_features(self, f0: Tensor, periodicity: Tensor, loudness: Tensor) -> Tensor:
        """[B, F] each -> [B, F, 3]: MIDI pitch / 127, loudness [floor_db, 0] dB -> [0, 1], periodicity."""
        midi = 69.0 + 12.0 * torch.log2(self.clamp_f0(f0) / 440.0)
        floor = self.cfg.loudness_floor_db
        loud = (loudness.clamp_min(floor) - floor) / -floor
        return torch.stack([midi / 127.0, loud, periodicity.clamp(0.0, 1.0)], dim=-1)

    # -- encoder ---------------------------------------------------------------------------------------------
    def encode(self, audio: Tensor, sample: bool = False) -> tuple[Tensor, Tensor]:
        """audio [B, T] -> (z [B, Z, T // hop], kl scalar). Variational: z is sampled when `sample`, else the
        mean; kl is 0 for a deterministic encoder."""
        out = self.encoder(audio)
        if isinstance(out, tuple):
            mean, logvar = out
            kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(1).mean()
            z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else mean
            return z, kl
        return out, out.new_zeros(())

    def align_z(self, z: Tensor, frames: int) -> Tensor:
        """z [B, Z, J] -> per control frame [B, F, Z] (see the module docstring)."""
        per = self.cfg.frames_per_z
        if self.cfg.encoder.causal:
            rep = F.pad(z, (1, 0)).repeat_interleave(per, dim=-1)[..., 1: frames + 1]
        else:
            rep = z.repeat_interleave(per, dim=-1)[..., :frames]
        if rep.shape[-1] < frames:
            rep = F.pad(rep, (0, frames - rep.shape[-1]), mode="replicate")
        return rep.transpose(1, 2)

    # -- decoder ---------------------------------------------------------------------------------------------
    def init_decoder_state(self, batch: int) -> DecoderState:
        device = self.synth.ramp.device
        level = () if self.level is None else self.level.init_state(batch, device)
        return self.decoder.init_hidden(batch), self.synth.init_state(batch, device), level

    def decode(self, z_frames: Tensor, f0: Tensor, periodicity: Tensor, loudness: Tensor,
               state: DecoderState | None = None, level: bool | None = None) -> tuple[Tensor, DecoderState]:
        """z_frames [B, F, Z] (aligned), controls [B, F] -> (audio [B, F * hop], state). Decoding frames in
        blocks with the returned state gives the same audio as one call. `level`: apply the level correction
        (default: in eval mode; its state passes through unchanged when it is not applied)."""
        if state is None:
            state = self.init_decoder_state(f0.shape[0])
        hidden, synth_state, level_state = state
        if f0.shape[1] == 0:
            return f0.new_zeros(f0.shape[0], 0), state
        inputs = torch.cat([z_frames, self.control_features(f0, periodicity, loudness)], dim=-1)
        amplitude, distribution, noise, hidden = self.decoder(inputs, hidden)
        f0c = self.clamp_f0(f0).float()
        amps = harmonic_amplitudes(amplitude.float(), distribution.float(), f0c, self.cfg.sample_rate)
        audio, synth_state = self.synth(f0c, amps, noise.float(), synth_state)
        if self.level is not None and (not self.training if level is None else level):
            audio, level_state = self.level(audio, loudness, level_state)
        return audio, (hidden, synth_state, level_state)

    def forward(self, audio: Tensor, f0: Tensor, periodicity: Tensor, loudness: Tensor,
                sample: bool = False) -> tuple[Tensor, Tensor]:
        """audio [B, T], controls [B, T // hop] -> (reconstruction [B, F * hop], kl)."""
        z, kl = self.encode(audio, sample=sample)
        audio_hat, _ = self.decode(self.align_z(z, f0.shape[1]), f0, periodicity, loudness)
        return audio_hat, kl

    def reconstruct(self, audio: Tensor) -> Tensor:
        """audio [B, T] -> reconstruction [B, (T // hop) * hop], controls computed from `audio`."""
        f0, periodicity, loudness = self.compute_controls(audio)
        return self(audio, f0, periodicity, loudness)[0]

    @property
    def delay_samples(self) -> int:
        """Latency added by block streaming (`AutoencoderStream`) relative to the offline model: a frame is
        synthesised once its last input sample has arrived, so output lags input by hop - 1 samples."""
        return self.cfg.frame_hop - 1 + self.synth.delay_samples + (0 if self.level is None else
                                                                     self.level.delay_samples)


ControlsFn = Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]


class AutoencoderStream:
    """Block streaming of a causal Autoencoder: `process(audio [B, n]) -> audio [B, n]` for any n, equal to
    the offline reconstruction delayed by `model.delay_samples`. State (encoder caches, decoder state, latest
    z, control history, output queue) is held here and can be read or replaced via `state`.

    `controls(windows [N, context])` returns (f0, periodicity, loudness), each [N], for the frame ending at
    each window's last sample; by default the model's own trackers are run on the window (their last frame),
    and `context` defaults to the samples that determine one of their frames (PitchConfig.history).
    """

    def __init__(self, model: Autoencoder, batch: int = 1, controls: ControlsFn | None = None,
                 context: int | None = None) -> None:
        cfg = model.cfg
        if not cfg.encoder.causal:
            raise LatentbridgeError("a non-causal autoencoder cannot stream (use a config with causal=True)")
        self.model, self.hop = model, cfg.frame_hop
        if context is None:
            pitch, loud = model.tracker_configs()
            context = max(pitch.history, loud.n_fft)
        self.context = context
        self.controls = controls or self._model_controls
        p = model.synth.ramp
        self.state: dict[str, Any] = {
            "encoder": model.encoder.init_state(batch), "decoder": model.init_decoder_state(batch),
            "z_last": p.new_zeros(batch, cfg.encoder.z_dim, 1), "z_count": 0, "frames": 0, "samples": 0,
            "history": p.new_zeros(batch, self.context),
            "queue": p.new_zeros(batch, model.delay_samples)}

    def _model_controls(self, windows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f0, periodicity, loudness = self.model.compute_controls(windows)
        return f0[:, -1], periodicity[:, -1], loudness[:, -1]

    @torch.no_grad()
    def process(self, audio: Tensor) -> Tensor:
        s, hop, batch, n = self.state, self.hop, audio.shape[0], audio.shape[1]
        z_new, s["encoder"] = self.model.encoder.stream(audio, s["encoder"])
        history = torch.cat([s["history"], audio], dim=-1)
        s["samples"] += n
        first, k = s["frames"], s["samples"] // hop - s["frames"]
        if k > 0:
            # frame i ends at (i + 1) * hop; history ends at sample `samples`
            end = history.shape[1] - (s["samples"] - (first + k) * hop)
            windows = history[:, end - (k - 1) * hop - self.context: end].unfold(1, self.context, hop)
            controls = self.controls(windows.reshape(-1, self.context))
            f0, periodicity, loudness = (c.reshape(batch, k) for c in controls)
            zs = torch.cat([s["z_last"], z_new], dim=-1)
            index = torch.arange(first, first + k) + 1
            index = index // self.model.cfg.frames_per_z - 1 - (s["z_count"] - 1)
            out, s["decoder"] = self.model.decode(zs[..., index].transpose(1, 2), f0, periodicity, loudness,
                                                  s["decoder"])
            s["queue"] = torch.cat([s["queue"], out], dim=-1)
            s["frames"] += k
        if z_new.shape[-1]:
            s["z_last"], s["z_count"] = z_new[..., -1:], s["z_count"] + z_new.shape[-1]
        s["history"] = history[:, history.shape[1] - self.context:]
        result, s["queue"] = s["queue"][:, :n], s["queue"][:, n:]
        return result
