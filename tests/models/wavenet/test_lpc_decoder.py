"""LPC WaveNet decoder: teacher-forced shapes and conventions, queue generation == teacher forcing, bounded
generation (no runaway through the synthesis filter), the eval path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from export.core.errors import LatentbridgeError
from models.autoencoder.configs import get_config as ae_config
from models.autoencoder.lpc import preemphasis
from models.autoencoder.model import Autoencoder
from models.evaluation.eval_wavenet import lpc_note_reconstructions
from models.wavenet import mu_law
from models.wavenet.lpc_decoder import (
    LPCWaveNet,
    LPCWaveNetConfig,
    excitation_rms,
    generate,
    get_config,
    harmonic_guide,
    teacher_inputs,
)

HOP = 128


def _setup(name: str = "tiny_lpc", samples: int = 2048, seed: int = 0):
    torch.manual_seed(seed)
    ae = Autoencoder(ae_config("tiny")).eval()
    model = LPCWaveNet(get_config(name)).eval()
    t = torch.arange(samples) / 16000.0
    audio = (0.3 * torch.sin(2 * np.pi * 220.0 * t) + 0.1 * torch.sin(2 * np.pi * 440.0 * t))[None].repeat(2, 1)
    audio[1] *= 0.5
    f0, periodicity, loudness = ae.compute_controls(audio)
    guide = harmonic_guide(ae, model.cfg, audio, f0, periodicity, loudness)
    return ae, model, audio, guide


def test_teacher_forced_forward_shapes_and_targets() -> None:
    _, model, audio, guide = _setup()
    cfg = replace(model.cfg, noise_classes=0.0)
    inputs, back, features, target = teacher_inputs(cfg, audio, guide)
    assert inputs.shape == back.shape == target.shape == audio.shape
    assert features is not None and features.shape == (*audio.shape, 2)
    assert guide.local.shape == (2, 7, 2048 // HOP) and guide.lpc.shape == (2, 2048 // HOP, 17)
    assert guide.harmonic.shape == audio.shape
    logits = model(inputs, back, features, guide.local)
    assert logits.shape == (2, 256, 2048)
    s = preemphasis(audio, cfg.lpc.preemphasis)
    assert int(inputs[0, 0]) == mu_law.SILENCE_CLASS and torch.equal(inputs[:, 1:], mu_law.encode(s[:, :-1]))
    excitation = mu_law.decode(target)
    assert float((excitation - s).abs().mean()) < float(s.abs().mean())  # prediction takes part of the signal
    period = int(guide.period[0, 5])
    assert int(back[0, 5 * HOP]) == int(target[0, 5 * HOP - period])  # e one period back


def test_noise_injection_moves_the_inputs_not_the_clean_target_signal() -> None:
    _, model, audio, guide = _setup()
    clean = teacher_inputs(replace(model.cfg, noise_classes=0.0), audio, guide)
    noisy = teacher_inputs(replace(model.cfg, noise_classes=3.0), audio, guide, torch.Generator().manual_seed(0))
    moved = (noisy[0] - clean[0]).abs()
    assert 0 < float(moved.float().mean()) and int(moved.max()) <= 4
    # the target is clean s minus the prediction from the noisy past: it compensates the noise
    s = preemphasis(audio, model.cfg.lpc.preemphasis)
    p_noisy = s - mu_law.decode(noisy[3])
    assert not torch.equal(noisy[3], clean[3]) and float((p_noisy - s).abs().mean()) < float(s.abs().mean())


def test_period_config_is_the_period_back_wavenet() -> None:
    _, model, audio, guide = _setup("tiny_period")
    inputs, back, features, target = teacher_inputs(model.cfg, audio, guide)
    assert features is None and model.feature_proj is None
    classes = mu_law.encode(audio)
    assert torch.equal(target, classes) and torch.equal(inputs[:, 1:], classes[:, :-1])


def test_queue_generation_equals_teacher_forcing() -> None:
    """Argmax generation, then its own output teacher-forced: the forward pass picks the same classes."""
    _, model, _, guide = _setup(samples=1024)
    cfg = replace(model.cfg, noise_classes=0.0)
    model.cfg = cfg
    with torch.no_grad():  # small excitations around silence, so nothing clips and the classes vary
        model.net.head_out.bias.copy_(-0.002 * (torch.arange(256.0) - 128.0).square())
    out = generate(model, guide, temperature=0.0, show_progress=False, bound=0.0)  # the plain sampler
    assert out.shape == (2, 1024) and np.isfinite(out).all()
    audio = torch.from_numpy(out)
    inputs, back, features, target = teacher_inputs(cfg, audio, guide)
    agree = (model(inputs, back, features, guide.local).argmax(1) == target).float().mean()
    assert float(agree) > 0.99 and target.unique().numel() > 3, (float(agree), target.unique())


def test_generation_stays_bounded_even_when_the_network_pushes_to_the_rails() -> None:
    _, model, _, guide = _setup(samples=16000)
    with torch.no_grad():
        model.net.head_out.bias.zero_()
        model.net.head_out.bias[-1] = 50.0  # always the largest excitation: a runaway without clipping
    out = generate(model, guide, temperature=1.0, show_progress=False)
    assert out.shape == (2, 16000) and np.isfinite(out).all() and np.abs(out).max() <= 1.0
    _, random_model, _, guide = _setup(samples=16000, seed=1)
    out = generate(random_model, guide, temperature=1.0, show_progress=False)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0


def test_the_excitation_bound_holds_the_level_where_the_unbounded_loop_hits_the_rails() -> None:
    _, model, _, guide = _setup(samples=4096)
    with torch.no_grad():
        model.net.head_out.bias.zero_()
        model.net.head_out.bias[-1] = 50.0  # always the largest excitation
    rms = excitation_rms(model.cfg, guide)
    assert rms.shape == (2, 32) and float(rms.min()) > 0
    free = generate(model, guide, temperature=1.0, show_progress=False, bound=0.0)
    bounded = generate(model, guide, temperature=1.0, show_progress=False, bound=2.0)
    harmonic_peak = float(guide.harmonic.abs().max())
    assert np.abs(free).max() == 1.0  # the runaway, clipped at full scale
    # a constant largest draw still builds up through 1 / A(z) and the de-emphasis, but stays off the rails
    assert np.abs(bounded).max() < 0.75 and np.abs(bounded[:, 2048:]).max() > 0.05 * harmonic_peak
    with pytest.raises(LatentbridgeError, match="bound"):
        generate(model, guide, bound=-1.0, show_progress=False)


def test_eval_reconstructions_of_notes() -> None:
    ae, model, audio, _ = _setup()
    out = lpc_note_reconstructions(model, ae, audio.numpy()[:, :1500], temperature=0.7)
    assert out.shape == (2, 1024) and np.abs(out).max() <= 1.0


def test_config_round_trips_through_json() -> None:
    cfg = get_config("lpc_small")
    assert LPCWaveNetConfig.from_dict(cfg.to_dict()) == cfg and cfg.features == 2
