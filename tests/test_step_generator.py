"""The ONNX Runtime I/O-binding step generator (the offline GPU path) against the native kernel: the same code
runs on the CPU provider here and on CUDA where a device exists (that half is skipped with a reason here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from export.providers import cuda_device_count
from export.step_generator import StepGenerator
from export.wavenet_kernel import NativeWaveNet, read_weights
from models.exporting.onnx_export import export_checkpoint
from models.training.checkpoint import save_checkpoint
from models.wavenet.configs import get_config
from models.wavenet.model import WaveNet


def _exported(name: str, tmp_path: Path) -> tuple[WaveNet, Path]:
    torch.manual_seed(0)
    model = WaveNet(get_config(name)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    save_checkpoint(tmp_path / name / "checkpoint.pt", "wavenet", model, None, 0, 0)
    (row,) = export_checkpoint(tmp_path / name, tmp_path / "onnx", name)
    return model, Path(row["path"])


def _conditioning(model: WaveNet, batch: int, n: int) -> dict[str, np.ndarray]:
    cfg, rng = model.cfg, np.random.default_rng(1)
    frames = -(-n // cfg.hop)
    cond: dict[str, np.ndarray] = {}
    if cfg.local_channels:
        cond["local"] = rng.normal(size=(batch, cfg.local_channels, frames)).astype(np.float32)
    if cfg.global_classes:
        cond["global_id"] = rng.integers(0, cfg.global_classes, batch)
    if cfg.global_dim:
        cond["global_vec"] = rng.normal(size=(batch, cfg.global_dim)).astype(np.float32)
    if cfg.period_input:
        cond["period"] = rng.integers(2, cfg.max_period + 1, (batch, frames)).astype(np.int32)
    return cond


@pytest.mark.parametrize("name", ["tiny_all", "tiny_speech"])
def test_cpu_provider_matches_the_native_kernel_and_resumes(name: str, tmp_path: Path) -> None:
    model, path = _exported(name, tmp_path)
    n, batch = 400, 3
    cond = _conditioning(model, batch, n)
    expected, _ = NativeWaveNet(read_weights(path), batch=batch).generate(n, temperature=0, **cond)
    generator = StepGenerator(path, batch=batch, allow_gpu=False)
    assert generator.device == "cpu"
    got = generator.generate(n, temperature=0, **cond)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(expected)) > 5
    generator.reset()
    half, hop = n // 2, model.cfg.hop
    assert half % hop == 0

    def from_frame(first: int) -> dict[str, np.ndarray]:
        return {k: v[:, :, first:] if k == "local" else v[:, first:] if k == "period" else v for k, v in cond.items()}
    resumed = np.concatenate([generator.generate(half, temperature=0, **from_frame(0)),
                              generator.generate(n - half, temperature=0, **from_frame(half // hop))], axis=1)
    np.testing.assert_array_equal(resumed, expected)
    sampled = StepGenerator(path, batch=batch, allow_gpu=False, seed=5).generate(200, temperature=0.9, **cond)
    again = StepGenerator(path, batch=batch, allow_gpu=False, seed=5).generate(200, temperature=0.9, **cond)
    np.testing.assert_array_equal(sampled, again)


@pytest.mark.skipif(cuda_device_count() == 0, reason="no CUDA device here: the GPU path runs only where one is")
def test_cuda_provider_matches_the_cpu_provider(tmp_path: Path) -> None:
    model, path = _exported("ae_small", tmp_path)
    cond = _conditioning(model, 16, 500)
    gpu = StepGenerator(path, batch=16, allow_gpu=True)
    assert gpu.device == "cuda"
    np.testing.assert_array_equal(gpu.generate(500, temperature=0, **cond),
                                  StepGenerator(path, batch=16, allow_gpu=False).generate(500, temperature=0, **cond))
