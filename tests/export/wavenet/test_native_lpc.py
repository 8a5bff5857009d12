"""The native kernel's LPC mode against the torch reference generator (models/wavenet/lpc_decoder.generate):
the same excitation classes and audio from the same guide, greedy and bounded; teacher-forced excitations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from export.core.errors import LatentbridgeError
from export.wavenet.kernel import NativeWaveNet, read_weights
from models.autoencoder.configs import get_config as ae_config
from models.autoencoder.model import Autoencoder
from models.exporting.onnx_export import export_checkpoint
from models.training.checkpoint import save_checkpoint
from models.wavenet.lpc_decoder import LPCWaveNet, excitation_rms, generate, get_config, harmonic_guide

SAMPLES = 32000  # 2 s at 16 kHz


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    """A tiny LPC WaveNet whose excitations stay small and vary (so nothing saturates and classes move), its
    WaveNet exported as a step graph, and the guide of a two-voice test signal."""
    torch.manual_seed(0)
    ae = Autoencoder(ae_config("tiny")).eval()
    model = LPCWaveNet(get_config("tiny_lpc")).eval()
    with torch.no_grad():  # larger than default-init weights, the excitation kept near silence, but free to move
        for p in model.parameters():
            p.mul_(2.0)
        model.net.head_out.bias.copy_(-0.0005 * (torch.arange(256.0) - 128.0).square())
    t = torch.arange(SAMPLES) / 16000.0
    audio = (0.3 * torch.sin(2 * np.pi * 220.0 * t) + 0.1 * torch.sin(2 * np.pi * 660.0 * t))[None].repeat(2, 1)
    audio[1] *= 0.5
    f0, periodicity, loudness = ae.compute_controls(audio)
    guide = harmonic_guide(ae, model.cfg, audio, f0, periodicity, loudness)
    directory = tmp_path_factory.mktemp("lpc")
    save_checkpoint(directory / "net" / "checkpoint.pt", "wavenet", model.net, None, 0, 0)
    (row,) = export_checkpoint(directory / "net", directory / "onnx", "tiny_lpc")
    return model, guide, read_weights(Path(row["path"]))


def kernel_run(model: LPCWaveNet, guide, weights, n: int, bound: float, temperature: float = 0.0,
               batch_rows: slice = slice(None), seed: int = 0, teacher: np.ndarray | None = None):
    rows = guide.local[batch_rows].shape[0]
    proj = model.feature_proj.weight.detach()[..., 0].T.numpy()
    kernel = NativeWaveNet(weights, batch=rows, seed=seed, feature_proj=proj)
    limit = (bound * excitation_rms(model.cfg, guide) + 1e-4).numpy() if bound > 0 else \
        np.zeros(guide.period.shape, np.float32)
    return kernel.generate_lpc(n, guide.local[batch_rows].numpy(), guide.period[batch_rows].numpy(),
                               guide.harmonic[batch_rows].numpy(), guide.lpc[batch_rows].numpy(),
                               limit[batch_rows], model.cfg.emphasis, temperature, teacher=teacher)


@pytest.mark.parametrize("bound", [0.0, 4.0])
def test_greedy_generation_matches_torch(setup, bound: float) -> None:
    """Fed torch's own excitations, the kernel chooses what torch chose at 99 % of the 2 s and rebuilds its audio;
    free-running, it feeds back exactly what teacher forcing with its own choices feeds back. (A free-running
    comparison with torch cannot be exact: the two float32 pasts differ by ~1e-7, and whenever one lies on the
    other side of a mu-law class boundary the input class differs and the paths part, after 600 to 7 000 samples
    here, at a point that moves with the CPU's rounding.)"""
    model, guide, weights = setup
    reference = np.zeros((2, SAMPLES), np.int32)
    expected = generate(model, guide, temperature=0.0, show_progress=False, bound=bound, classes_out=reference)
    assert len(np.unique(reference)) > 3 and np.abs(expected).max() > 1e-3  # excitations that move
    chosen, rebuilt = kernel_run(model, guide, weights, SAMPLES, bound, teacher=reference)
    assert (chosen == reference).mean() >= 0.99, (chosen == reference).mean()
    assert np.abs(rebuilt - expected).max() <= 1e-4
    classes, audio = kernel_run(model, guide, weights, SAMPLES, bound)
    again, replayed = kernel_run(model, guide, weights, SAMPLES, bound, teacher=classes)
    np.testing.assert_array_equal(again, classes)
    np.testing.assert_array_equal(replayed, audio)
    assert len(np.unique(classes)) > 3 and np.abs(audio).max() > 1e-3


def test_seeded_sampling_is_the_same_whatever_the_batch(setup) -> None:
    model, guide, weights = setup
    both, audio = kernel_run(model, guide, weights, 4000, 4.0, temperature=1.0, seed=3)
    second, alone = kernel_run(model, guide, weights, 4000, 4.0, temperature=1.0, seed=3, batch_rows=slice(1, 2))
    assert not np.array_equal(both[0], both[1])
    kernel = NativeWaveNet(weights, batch=1, seed=3, feature_proj=model.feature_proj.weight.detach()[..., 0].T
                           .numpy())
    kernel.reset(streams=[1])  # voice 1's sampling stream, in a batch of one
    limit = (4.0 * excitation_rms(model.cfg, guide) + 1e-4).numpy()
    classes, audio1 = kernel.generate_lpc(4000, guide.local[1:].numpy(), guide.period[1:].numpy(),
                                          guide.harmonic[1:].numpy(), guide.lpc[1:].numpy(), limit[1:],
                                          model.cfg.emphasis, 1.0)
    np.testing.assert_array_equal(classes[0], both[1])
    np.testing.assert_array_equal(audio1[0], audio[1])


def test_teacher_forced_excitations_rebuild_the_signal_and_continue_across_calls(setup) -> None:
    model, guide, weights = setup
    classes, audio = kernel_run(model, guide, weights, 2048, 0.0, temperature=1.0, seed=5)
    forced, again = kernel_run(model, guide, weights, 2048, 0.0, temperature=1.0, seed=6, teacher=classes)
    assert not np.array_equal(forced, classes)  # another seed chooses otherwise, but the teacher's are fed back
    np.testing.assert_allclose(again, audio, atol=1e-6, rtol=0)
    proj = model.feature_proj.weight.detach()[..., 0].T.numpy()
    kernel = NativeWaveNet(weights, batch=2, seed=5, feature_proj=proj)
    args = (guide.local.numpy(), guide.period.numpy(), guide.harmonic.numpy(), guide.lpc.numpy(),
            np.zeros(guide.period.shape, np.float32), model.cfg.emphasis, 1.0)
    first, a1 = kernel.generate_lpc(1024, *args)
    with pytest.raises(LatentbridgeError, match="order changed"):
        kernel.generate_lpc(10, args[0], args[1], args[2], args[3][:, :, :5], *args[4:])
    second, a2 = kernel.generate_lpc(1024, args[0][:, :, 8:], args[1][:, 8:], args[2][:, 1024:],
                                     args[3][:, 8:], args[4][:, 8:], *args[5:])
    np.testing.assert_array_equal(np.concatenate([first, second], 1), classes[:, :2048])
    np.testing.assert_array_equal(np.concatenate([a1, a2], 1), audio[:, :2048])


def test_the_lpc_step_graph_carries_everything_the_kernel_needs(setup, tmp_path: Path) -> None:
    """The whole LPC WaveNet exported as an `lpc_step` graph (what ships): `read_weights` gives the WaveNet's
    config, its weights and the feature projection under the kernel's names, and the LPC config; the kernel built
    from it alone generates what the kernel given the projection by hand generates, sample for sample."""
    model, guide, weights = setup
    save_checkpoint(tmp_path / "run" / "checkpoint.pt", "lpcwavenet", model, None, 0, 0)
    (row,) = export_checkpoint(tmp_path / "run", tmp_path / "onnx", "tiny")
    assert row["graph"] == "lpc_step" and row["max_abs_diff"] < 1e-4
    shipped = read_weights(Path(row["path"]))
    assert shipped.lpc is not None and shipped.lpc["lpc"]["order"] == model.cfg.lpc.order
    assert shipped.config == weights.config and set(shipped.tensors) == set(weights.tensors) | {
        "model.feature_proj.weight"}
    kernel = NativeWaveNet(shipped, batch=2, seed=4)
    limit = (4.0 * excitation_rms(model.cfg, guide) + 1e-4).numpy()
    classes, audio = kernel.generate_lpc(3000, guide.local.numpy(), guide.period.numpy(), guide.harmonic.numpy(),
                                         guide.lpc.numpy(), limit, model.cfg.emphasis, 1.0)
    by_hand, expected = kernel_run(model, guide, weights, 3000, 4.0, temperature=1.0, seed=4)
    np.testing.assert_array_equal(classes, by_hand)
    np.testing.assert_array_equal(audio, expected)
