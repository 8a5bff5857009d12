"""Plain resynthesis follows the input's loudness: the harmonic decoder's per-frame level correction
(models/autoencoder/level.py) on notes of held-out instruments, offline and streamed, and silence stays silent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from block_split import in_blocks

from export.autoencoder.runtime import OnnxAutoencoder
from export.autoencoder.stream import AutoencoderStream
from export.onnx.bundled import BUNDLED_DIR
from models.autoencoder.level import LevelCorrection
from models.controls.loudness import LoudnessConfig, a_weighted_loudness
from models.data.instrument_splits import all_instruments, assign_splits
from models.data.note_synth import NoteSynth
from models.data.soundfonts import resolve_soundfonts
from models.evaluation.eval_autoencoder import loudness_follow
from models.training.checkpoint import load_model

# TimGM6mb instruments of the test split (never trained on): e-guitar, violin, trombone, piccolo, xylophone
HELD_OUT = ((26, 52), (40, 67), (57, 50), (72, 79), (112, 72))
BLOCKS = (100, 37, 256, 1, 513, 128, 4000, 77)
SECONDS = 1.5


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


@pytest.fixture(scope="module")
def notes() -> list[np.ndarray]:
    """The HELD_OUT notes at velocity 100 from TimGM6mb, 16 kHz mono, first 1.5 s, peak 0.5."""
    fonts = resolve_soundfonts(None)
    font = next(f for f in fonts if "timgm" in f.name.lower())
    instruments = all_instruments(fonts)
    split = assign_splits(instruments, seed=0)  # the default split the bundled model trained with
    programs = {i.gm.program for i in instruments if i.soundfont == font and split[i.id] == "test"}
    assert {p for p, _ in HELD_OUT} <= programs
    synth = NoteSynth(font)
    out = []
    for program, pitch in HELD_OUT:
        note = synth.render(program, pitch, 100)[: int(SECONDS * 16000)]
        out.append((0.5 * note / np.abs(note).max()).astype(np.float32))
    return out


def resynthesis(ae: OnnxAutoencoder, audio: np.ndarray) -> np.ndarray:
    """`morph --amount 0` at 16 kHz: the input's own controls and latents through the decoder."""
    controls = ae.controls(audio)
    return ae.decode(ae.align(ae.encode(audio), controls.frames), controls)


def test_resynthesis_follows_the_input_loudness_within_1_db(ae: OnnxAutoencoder, notes: list[np.ndarray]) -> None:
    assert ae.level_correction is not None and ae.level_correction["look_ahead_samples"] == 0
    loudness = LoudnessConfig()
    l1, difference = np.array([loudness_follow(resynthesis(ae, note), note, loudness) for note in notes]).T
    # per note, the mean over frames of (output - input) A-weighted loudness and the loudness L1; without the
    # correction -7.4 to +0.9 dB (-4.2 on average) and L1 5.0 dB, with it -0.4 to -0.1 dB and L1 0.5 dB
    assert abs(difference.mean()) <= 1.0 and np.abs(difference).max() <= 1.0, difference
    assert l1.mean() <= 1.0, l1


def test_streaming_equals_offline_with_the_correction(ae: OnnxAutoencoder, notes: list[np.ndarray]) -> None:
    quiet = np.zeros(4000, np.float32)  # from silence into a note and back: the gate and the boost both act
    audio = np.concatenate([quiet, notes[0], quiet, notes[4][:8000]])
    stream = AutoencoderStream(ae)
    got = in_blocks(stream.process, audio, BLOCKS)
    offline = resynthesis(ae, audio)
    d = stream.delay_samples
    assert d == ae.frame_hop - 1  # the correction adds no delay
    assert np.all(got[:d] == 0)
    n = min(offline.shape[0], got.shape[0] - d)
    np.testing.assert_allclose(got[d: d + n], offline[:n], atol=1e-4, rtol=0)
    l1, difference = loudness_follow(offline, audio[: offline.shape[0]], LoudnessConfig())
    assert abs(difference) <= 1.0 and l1 <= 1.5


def test_silence_in_silence_out(ae: OnnxAutoencoder, notes: list[np.ndarray]) -> None:
    assert np.abs(resynthesis(ae, np.zeros(16000, np.float32))).max() < 1e-5
    # input at the tracker's floor (-99 dB dither), and a note's silent tail: the correction never boosts there,
    # sample by sample, against the decoder without it (torch, the bundled checkpoint)
    rng = np.random.default_rng(0)
    dither = (1e-5 * rng.standard_normal(8000)).astype(np.float32)
    tail = np.concatenate([notes[1], np.zeros(8000, np.float32)])
    model, _ = load_model(BUNDLED_DIR / "ae_default.pt", "autoencoder")
    for audio in (dither, tail):
        x = torch.from_numpy(audio)[None]
        with torch.no_grad():
            f0, periodicity, loudness = model.compute_controls(x)
            z = model.align_z(model.encode(x)[0], f0.shape[1])
            raw = model.decode(z, f0, periodicity, loudness, level=False)[0][0].numpy()
            corrected = model.decode(z, f0, periodicity, loudness, level=True)[0][0].numpy()
        gated = loudness[0].numpy() <= model.cfg.level_gate_db
        gated[1:] &= gated[:-1]  # a frame's gain starts from the previous frame's
        samples = (np.flatnonzero(gated)[:, None] * 128 + np.arange(128)).reshape(-1)
        assert samples.size > 0
        assert np.all(np.abs(corrected[samples]) <= np.abs(raw[samples]) + 1e-9)
    onnx_tail = resynthesis(ae, tail)
    assert np.abs(onnx_tail[-4000:]).max() < 1e-4  # 0.25 s after the note: silent


def test_level_correction_gain_is_bounded_gated_and_exact_in_a_steady_note() -> None:
    cfg = LoudnessConfig()
    level = LevelCorrection(cfg, max_db=12.0, gate_db=-80.0, gate_width_db=10.0, predict=2.0)
    frames = 40
    t = torch.arange(frames * 128) / 16000
    tone = (0.05 * torch.sin(2 * torch.pi * 440.0 * t))[None]
    measured = a_weighted_loudness(tone, cfg)
    for offset, want in ((6.0, 6.0), (30.0, 12.0), (-30.0, -12.0)):  # exact, then the bounds
        out, (gain, _, _) = level(tone, measured + offset, level.init_state(1))
        assert float(gain[0]) == pytest.approx(want, abs=1e-3)
        steady = a_weighted_loudness(out, cfg)[0, -5:] - measured[0, -5:]
        assert torch.allclose(steady, torch.full((5,), want), atol=0.05)
    floor = torch.full((1, frames), cfg.floor_db)  # a target at the floor: attenuate, never boost
    gated = level.gains(floor, floor - 20.0, torch.zeros(1))[0]
    assert float(gated.max()) <= 0.0
    assert float(level.gains(floor + 15.0, floor - 10.0, torch.zeros(1))[0].max()) <= 0.0  # -85 dB: below the gate
    target = measured + torch.linspace(-20.0, 20.0, frames)  # a changing gain
    whole, _ = level(tone, target, level.init_state(1))
    per_sample = (whole / tone)[0, 1:]  # the gain applied, sample by sample (tone[0] is 0)
    assert per_sample.min() >= 10 ** (-12 / 20) - 1e-4 and per_sample.max() <= 10 ** (12 / 20) + 1e-4
    assert per_sample.diff().abs().max() < 0.01  # linear within frames, continuous across them: no steps
    state, parts = level.init_state(1), []  # blocks with the carried state give the same samples as one call
    for lo, hi in ((0, 1), (1, 8), (8, 8), (8, 23), (23, frames)):
        out, state = level(tone[:, lo * 128: hi * 128], target[:, lo:hi], state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, -1), whole, atol=1e-6, rtol=1e-5)
