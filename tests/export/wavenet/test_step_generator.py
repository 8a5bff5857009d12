"""The ONNX Runtime I/O-binding step generator (the offline GPU path) against the native kernel: the same code
runs on the CPU provider here and on CUDA where a device exists (that half is skipped with a reason here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from wavenet_exports import as_numpy, conditioning, exported

from export.onnx.providers import cuda_device_count
from export.wavenet.kernel import NativeWaveNet, read_weights
from export.wavenet.step_generator import StepGenerator


@pytest.mark.parametrize("name", ["tiny_all", "tiny_speech"])
def test_cpu_provider_matches_the_native_kernel_and_resumes(name: str, tmp_path: Path) -> None:
    model, path = exported(name, tmp_path)
    n, batch = 400, 3
    cond = as_numpy(conditioning(model, batch, n))
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
    model, path = exported("ae_small", tmp_path)
    cond = as_numpy(conditioning(model, 16, 500))
    gpu = StepGenerator(path, batch=16, allow_gpu=True)
    assert gpu.device == "cuda"
    np.testing.assert_array_equal(gpu.generate(500, temperature=0, **cond),
                                  StepGenerator(path, batch=16, allow_gpu=False).generate(500, temperature=0, **cond))
