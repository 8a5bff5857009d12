"""The native cached-queue WaveNet kernel against torch's queue generation (the reference), read from the
exported ONNX step graph: identical argmax sequences, logits within 1e-4, seeded sampling reproducible across
runs, batch sizes and threads, resumable generation, and the GIL released while it runs."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from wavenet_exports import as_numpy, conditioning, exported

from export.core.errors import LatentbridgeError
from export.wavenet.kernel import NativeWaveNet, f16c_available, read_weights
from models.exporting.onnx_export import export_checkpoint
from models.training.checkpoint import save_checkpoint
from models.wavenet.configs import get_config
from models.wavenet.incremental import generate, init_state, step
from models.wavenet.model import WaveNet


# tiny configs run the portable loops; ae_small (sizes multiples of 16) the AVX2 ones, with 5 voices: one group
# of four through the 4-voice product and one through the single-voice product
@pytest.mark.parametrize("name,n,batch", [("tiny_all", 1200, 3), ("tiny_kernel3", 600, 3), ("tiny_speech", 600, 3),
                                          ("tiny_notes", 1024, 3), ("ae_small", 1500, 5)])
def test_argmax_and_logits_match_torch(name: str, n: int, batch: int, tmp_path: Path) -> None:
    model, path = exported(name, tmp_path)
    cond = conditioning(model, batch, n)
    with torch.no_grad():
        expected = generate(model, n, temperature=0, batch=batch, **cond).numpy()
    kernel = NativeWaveNet(read_weights(path), batch=batch)
    got, logits = kernel.generate(n, temperature=0, logits_steps=100, **as_numpy(cond))
    assert logits is not None
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(expected)) > 5  # a sequence that really moves
    state, x = init_state(model, batch), torch.full((batch,), 128, dtype=torch.long)
    with torch.no_grad():
        for t in range(100):
            frame = t // model.cfg.hop
            ref, state = step(model, x, cond["local"][:, :, frame] if "local" in cond else None,
                              cond.get("global_id"), cond.get("global_vec"),
                              cond["period"][:, frame] if "period" in cond else None, state)
            np.testing.assert_allclose(logits[:, t], ref.numpy(), atol=1e-4, rtol=0)
            x = torch.from_numpy(expected[:, t]).long()


def test_avx2_and_portable_loops_agree(tmp_path: Path) -> None:
    model, path = exported("ae_small", tmp_path)
    weights, cond = read_weights(path), as_numpy(conditioning(model, 5, 700))
    fast, plain = NativeWaveNet(weights, batch=5), NativeWaveNet(weights, batch=5, portable=True)
    assert plain.backend == "portable-fp32"
    if fast.backend != "avx2-fma-fp32":
        pytest.skip(f"this CPU runs the {fast.backend} loops only")
    a, logits_a = fast.generate(700, temperature=0, logits_steps=50, **cond)
    b, logits_b = plain.generate(700, temperature=0, logits_steps=50, **cond)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(logits_a, logits_b, atol=1e-5, rtol=0)
    assert np.array_equal(fast.generate(300, temperature=0.9, **as_numpy(conditioning(model, 5, 300, seed=3)))[0],
                          plain.generate(300, temperature=0.9, **as_numpy(conditioning(model, 5, 300, seed=3)))[0])


def test_half_precision_weights_match_torch_with_rounded_weights(tmp_path: Path) -> None:
    if not f16c_available():
        pytest.skip("this CPU has no AVX2 + F16C: the half-precision kernel is not built for it")
    torch.manual_seed(0)
    model = WaveNet(get_config("ae_small")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_((2.0 * p).half().float())  # what the kernel's half copies hold, exactly
    save_checkpoint(tmp_path / "half" / "checkpoint.pt", "wavenet", model, None, 0, 0)
    (row,) = export_checkpoint(tmp_path / "half", tmp_path / "onnx", "half")
    n, batch = 1000, 5
    cond = conditioning(model, batch, n)
    with torch.no_grad():
        expected = generate(model, n, temperature=0, batch=batch, **cond).numpy()
    kernel = NativeWaveNet(read_weights(row["path"]), batch=batch, precision="fp16")
    assert kernel.backend == "avx2-fma-fp16"
    got, _ = kernel.generate(n, temperature=0, **as_numpy(cond))
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(LatentbridgeError, match="precision must be one of"):
        NativeWaveNet(read_weights(row["path"]), precision="int4")


def test_sampling_is_seeded_per_voice_across_batch_sizes_threads_and_calls(tmp_path: Path) -> None:
    model, path = exported("tiny_all", tmp_path)
    weights = read_weights(path)
    cond = as_numpy(conditioning(model, 4, 800))
    four, _ = NativeWaveNet(weights, batch=4, seed=7).generate(800, temperature=1.0, threads=2, **cond)
    again, _ = NativeWaveNet(weights, batch=4, seed=7).generate(800, temperature=1.0, threads=1, **cond)
    np.testing.assert_array_equal(four, again)
    one = NativeWaveNet(weights, batch=1, seed=7)
    first = {k: v[:1] for k, v in cond.items()}
    alone, _ = one.generate(800, temperature=1.0, **first)
    np.testing.assert_array_equal(alone[0], four[0])
    other, _ = NativeWaveNet(weights, batch=4, seed=8).generate(800, temperature=1.0, **cond)
    assert (other != four).mean() > 0.5
    # resumable: 400 + 400 samples (frames split at a hop boundary) == 800 at once
    split = NativeWaveNet(weights, batch=4, seed=7)
    hop = model.cfg.hop
    head = {k: (v[..., : 400 // hop] if k in ("local", "period") else v) for k, v in cond.items()}
    tail = {k: (v[..., 400 // hop:] if k in ("local", "period") else v) for k, v in cond.items()}
    a, _ = split.generate(400, temperature=1.0, **head)
    b, _ = split.generate(400, temperature=1.0, **tail)
    np.testing.assert_array_equal(np.concatenate([a, b], axis=1), four)


def test_releases_the_gil(tmp_path: Path) -> None:
    model, path = exported("tiny", tmp_path)
    kernel = NativeWaveNet(read_weights(path), batch=1)
    done = threading.Event()
    ticks = 0

    def run() -> None:
        kernel.generate(300_000, temperature=1.0)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    assert ticks > 10_000  # the main thread kept running while the kernel generated


def test_bad_conditioning_is_a_one_line_error(tmp_path: Path) -> None:
    model, path = exported("tiny_all", tmp_path)
    kernel = NativeWaveNet(read_weights(path), batch=2)
    cond = as_numpy(conditioning(model, 2, 64))
    with pytest.raises(LatentbridgeError, match="local conditioning"):
        kernel.generate(64, **{k: v for k, v in cond.items() if k != "local"})
    with pytest.raises(LatentbridgeError, match="local conditioning of shape"):
        kernel.generate(640, **cond)
    with pytest.raises(LatentbridgeError, match="no such model file"):
        read_weights(tmp_path / "missing.onnx")


def test_bench_generate_rows(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from export.app.cli import main

    assert main(["bench", "generate", "--naive-samples", "3", "--loop-samples", "20", "--native-seconds", "0.02",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {"config", "backend", "batch", "threads", "us_per_sample", "realtime_factor_16k", "ratio_to_native"}
    assert all(set(r) == keys for r in rows)
    backends = {(r["backend"], r["batch"], r["threads"]) for r in rows}
    assert {("naive", 1, 1), ("torch_queues", 1, 1), ("onnxruntime_step", 1, 1), ("native", 8, 2)} <= backends
    lpc = {r["config"] for r in rows if r["backend"] == "native_lpc_fp32"}
    assert len(lpc) == 1 and next(iter(lpc)).startswith("default")  # the period-input decoder only
    assert len({r["config"] for r in rows}) == 2
    for r in rows:
        assert r["us_per_sample"] > 0 and r["realtime_factor_16k"] == pytest.approx(1e6 / r["us_per_sample"] / 16000)


@pytest.mark.slow
def test_two_seconds_of_argmax_match_torch(tmp_path: Path) -> None:
    """The acceptance length: 2 s (32 000 samples) of the default decoder's config, argmax, one voice."""
    model, path = exported("ae_small", tmp_path)
    n = 32000
    cond = conditioning(model, 1, n)
    with torch.no_grad():
        expected = generate(model, n, temperature=0, batch=1, **cond).numpy()
    got, _ = NativeWaveNet(read_weights(path), batch=1).generate(n, temperature=0, **as_numpy(cond))
    np.testing.assert_array_equal(got, expected)
