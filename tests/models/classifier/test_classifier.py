"""Note classifier: log-mel front end against a torch.stft reference, gradients, a toy pitch task, ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from export.core.errors import LatentbridgeError
from models.classifier import CONFIGS, FAMILIES, TEST_CONFIGS, ClassifierConfig, NoteClassifier, get_config
from models.spectral.features import (
    DftPower,
    LogMel,
    SpectrogramConfig,
    magnitude_scale,
    mel_filterbank,
    normalize_db,
    power_to_db,
    stft,
)

ALL = {**TEST_CONFIGS, **CONFIGS}


def build(cfg: ClassifierConfig, seed: int = 0) -> NoteClassifier:
    torch.manual_seed(seed)
    return NoteClassifier(cfg)


def sines(midi: np.ndarray, length: int, rng: np.random.Generator) -> torch.Tensor:
    """One sine per MIDI pitch, random amplitude 0.2..0.9 and phase, 16 kHz."""
    t = np.arange(length) / 16000
    f0 = 440.0 * 2.0 ** ((midi[:, None] - 69) / 12)
    amp, phase = rng.uniform(0.2, 0.9, (midi.size, 1)), rng.uniform(0, 2 * np.pi, (midi.size, 1))
    return torch.from_numpy(amp * np.sin(2 * np.pi * f0 * t + phase)).float()


def test_dft_power_equals_stft_power() -> None:
    audio = torch.randn(2, 5000, generator=torch.Generator().manual_seed(0))
    window = torch.hann_window(1024, periodic=True)  # reference straight from torch, not our helpers
    spectrum = torch.stft(audio, 1024, 256, window=window, center=True, pad_mode="constant",
                          return_complex=True)
    expected = (spectrum.abs() * 2.0 / window.sum()).square()
    got = DftPower(1024, 256)(audio)
    assert got.shape == expected.shape == (2, 513, 1 + 5000 // 256)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, atol=1e-6 * float(expected.max()))


def test_mel_filterbank_centres_follow_the_htk_scale() -> None:
    bank = mel_filterbank(16000, 1024, 64).numpy()
    assert bank.shape == (64, 513) and bank.min() >= 0.0 and bank.max() <= 1.0
    assert (bank.max(axis=1) > 0.5).all()  # every filter catches at least one bin near its peak
    top_mel = 2595.0 * np.log10(1.0 + 8000.0 / 700.0)
    centres = 700.0 * (10.0 ** (np.arange(1, 65) * top_mel / 65 / 2595.0) - 1.0)
    peak_hz = bank.argmax(axis=1) * 16000 / 1024
    assert np.abs(peak_hz - centres).max() <= 16000 / 1024 / 2 + 1e-6
    assert np.all(np.diff(centres) > 0)


def test_log_mel_matches_a_torch_stft_reference() -> None:
    cfg = SpectrogramConfig()
    audio = 0.3 * torch.randn(2, 8000, generator=torch.Generator().manual_seed(1))
    audio[1] *= torch.linspace(0.0, 1.0, 8000)  # a fade-in: levels from silence up
    power = (stft(audio, 1024, 256).abs() * magnitude_scale(1024)).square()
    expected = normalize_db(power_to_db(mel_filterbank(16000, 1024, 64) @ power), cfg.min_db, cfg.max_db)
    got = LogMel(cfg, 64)(audio)
    assert got.shape == (2, 64, 32)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)
    # a full-scale 1 kHz sine: its loudest band is the one centred nearest 1 kHz, near 0 dB
    tone = torch.sin(2 * np.pi * 1000.0 * torch.arange(8000) / 16000)[None]
    frame = LogMel(cfg, 64)(tone)[0, :, 10]
    band = int(frame.argmax())
    centre_hz = mel_filterbank(16000, 1024, 64)[band].argmax().item() * 16000 / 1024
    assert abs(centre_hz - 1000.0) < 60.0
    assert float(frame[band]) == pytest.approx((0.0 - cfg.min_db) / (cfg.max_db - cfg.min_db), abs=0.03)


@pytest.mark.parametrize("name", ALL)
def test_backward_gives_finite_gradients(name: str) -> None:
    cfg = ALL[name]
    model = build(cfg).train()
    rng = np.random.default_rng(2)
    audio = sines(rng.integers(21, 109, 3), cfg.n_samples, rng)
    family, pitch = model(audio)
    assert family.shape == (3, 11) and pitch.shape == (3, 88)
    loss = (torch.nn.functional.cross_entropy(family, torch.tensor([0, 5, 10]))
            + torch.nn.functional.cross_entropy(pitch, torch.tensor([0, 40, 87])))
    loss.backward()
    assert loss.item() == pytest.approx(np.log(11) + np.log(88), rel=0.3)
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


def test_learns_two_pitches_and_families_in_a_few_dozen_steps(one_thread: None) -> None:
    """Sines at MIDI 60 ('keyboard') and MIDI 67 ('flute'): both heads reach accuracy 1.0 on fresh notes."""
    cfg = TEST_CONFIGS["tiny"]
    model = build(cfg, seed=3).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(4)
    pitches = np.array([60, 67])
    families = torch.tensor([FAMILIES.index("keyboard"), FAMILIES.index("flute")])
    for _ in range(40):
        which = rng.integers(0, 2, 16)
        family_logits, pitch_logits = model(sines(pitches[which], cfg.n_samples, rng))
        pitch_targets = model.pitch_labels(torch.from_numpy(pitches[which]))
        loss = (torch.nn.functional.cross_entropy(family_logits, families[which])
                + torch.nn.functional.cross_entropy(pitch_logits, pitch_targets))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    which = rng.integers(0, 2, 32)
    family_probs, pitch_probs = model.predict(sines(pitches[which], cfg.n_samples, rng).numpy())
    assert model.training  # mode restored
    np.testing.assert_allclose(pitch_probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(pitch_probs.argmax(axis=1) + cfg.pitch_min, pitches[which])
    np.testing.assert_array_equal(family_probs.argmax(axis=1), families[which].numpy())


def test_predict_pads_and_cuts_to_the_note_length() -> None:
    cfg = TEST_CONFIGS["tiny"]
    model = build(cfg).eval()
    rng = np.random.default_rng(5)
    notes = sines(np.array([40, 80]), cfg.n_samples, rng).numpy()
    short = notes.copy()
    short[:, 6000:] = 0.0
    np.testing.assert_allclose(model.predict(short[:, :6000])[1], model.predict(short)[1], atol=1e-6)
    longer = np.concatenate([notes, np.ones((2, 500), dtype=np.float32)], axis=1)
    np.testing.assert_allclose(model.predict(longer)[0], model.predict(notes)[0], atol=1e-6)
    with pytest.raises(LatentbridgeError, match="notes \\[batch, samples\\]"):
        model.predict(notes[0])


def test_config_round_trip_and_errors() -> None:
    cfg = CONFIGS["note_classifier"]
    shape = (cfg.n_samples, cfg.n_mels, cfg.n_fft, cfg.hop, cfg.n_families, cfg.n_pitches)
    assert shape == (32000, 64, 1024, 256, 11, 88)
    assert ClassifierConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    model = build(TEST_CONFIGS["tiny"])
    assert model.pitch_labels(torch.tensor([21, 108])).tolist() == [0, 87]
    with pytest.raises(LatentbridgeError, match="MIDI 21..108"):
        model.pitch_labels(torch.tensor([20]))
    with pytest.raises(LatentbridgeError, match="divisible"):
        ClassifierConfig(n_mels=60)
    with pytest.raises(LatentbridgeError, match="unknown note classifier config"):
        get_config("huge")


def calibrated(model: NoteClassifier) -> NoteClassifier:
    """Batch-norm statistics from a batch of sines (cumulative average), then eval mode."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    rng = np.random.default_rng(6)
    with torch.no_grad():
        model.train()(sines(rng.integers(21, 109, 8), model.cfg.n_samples, rng))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.filterwarnings("ignore:The feature will be removed")
@pytest.mark.filterwarnings("ignore:Constant folding - Only steps=1")
@pytest.mark.parametrize("name", ALL)
def test_onnx_export_matches_torch(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    cfg = ALL[name]
    model = calibrated(build(cfg, seed=7))
    path = tmp_path / f"classifier_{name}.onnx"
    torch.onnx.export(model, (torch.zeros(1, cfg.n_samples),), str(path), opset_version=17, dynamo=False,
                      input_names=["audio"], output_names=["family_logits", "pitch_logits"],
                      dynamic_axes={"audio": {0: "batch"}, "family_logits": {0: "batch"},
                                    "pitch_logits": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(8)
    audio = sines(np.array([30, 60, 90]), cfg.n_samples, rng)
    with torch.no_grad():
        expected = [t.numpy() for t in model(audio)]
    got = session.run(None, {"audio": audio.numpy()})
    for e, o in zip(expected, got, strict=True):
        np.testing.assert_allclose(o, e, atol=1e-4, rtol=0)
        assert np.ptp(e, axis=0).max() > 1e-2  # the notes are told apart: the comparison means something
