"""WaveNet: shift convention, causality, receptive field, queue generation == teacher forcing, ONNX step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from export.core.errors import LatentbridgeError
from models.wavenet import (
    CONFIGS,
    TEST_CONFIGS,
    StepModule,
    WaveNet,
    WaveNetConfig,
    generate,
    init_state,
    period_from_f0,
    period_per_sample,
    step,
)

QUEUE_CONFIGS = {**TEST_CONFIGS, "ae_small": CONFIGS["ae_small"], "speech_small": CONFIGS["speech_small"],
                 "reference_bench": CONFIGS["reference_bench"]}


def build(cfg: WaveNetConfig, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(cfg).eval()


def conditioning(cfg: WaveNetConfig, batch: int, length: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """Random conditioning for every input the config takes; per-sample periods include out-of-range ones."""
    g = torch.Generator().manual_seed(seed)
    cond: dict[str, torch.Tensor] = {}
    if cfg.local_channels:
        cond["local"] = torch.randn(batch, cfg.local_channels, -(-length // cfg.hop), generator=g)
    if cfg.global_classes:
        cond["global_id"] = torch.randint(0, cfg.global_classes, (batch,), generator=g)
    if cfg.global_dim:
        cond["global_vec"] = torch.randn(batch, cfg.global_dim, generator=g)
    if cfg.period_input:
        cond["period"] = torch.randint(0, cfg.max_period + 4, (batch, length), generator=g)
    return cond


def run_steps(model: WaveNet, x: torch.Tensor, cond: dict[str, torch.Tensor]) -> torch.Tensor:
    """Feed the ground truth through `step` one sample at a time; logits [B, classes, T]."""
    hop = model.cfg.hop
    state = init_state(model, x.shape[0])
    x_prev = torch.full((x.shape[0],), 128, dtype=torch.long)
    out = []
    for t in range(x.shape[1]):
        local = cond["local"][:, :, t // hop] if "local" in cond else None
        period = cond["period"][:, t] if "period" in cond else None
        logits, state = step(model, x_prev, local, cond.get("global_id"), cond.get("global_vec"), period,
                             state)
        out.append(logits)
        x_prev = x[:, t]
    return torch.stack(out, dim=-1)


@pytest.mark.parametrize("name", list(QUEUE_CONFIGS))
def test_queue_generation_matches_teacher_forcing(name: str) -> None:
    cfg = QUEUE_CONFIGS[name]
    model = build(cfg)
    length = min(cfg.receptive_field + 40, 600)
    x = torch.randint(0, 256, (2, length), generator=torch.Generator().manual_seed(2))
    cond = conditioning(cfg, 2, length)
    with torch.no_grad():
        full = model(x, **cond)
        queued = run_steps(model, x, cond)
    assert full.shape == (2, 256, length)
    assert full.std() > 1e-2  # not a trivially flat output
    torch.testing.assert_close(queued, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(TEST_CONFIGS))
def test_causal_and_shifted(name: str) -> None:
    cfg = TEST_CONFIGS[name]
    model = build(cfg)
    length, s = 60, 30
    x = torch.randint(0, 256, (1, length), generator=torch.Generator().manual_seed(3))
    cond = conditioning(cfg, 1, length)
    y = x.clone()
    y[0, s] = (x[0, s] + 128) % 256
    with torch.no_grad():
        diff = (model(x, **cond) - model(y, **cond)).abs().amax(dim=(0, 1))
    assert torch.all(diff[: s + 1] == 0)  # logits[t] predicts x[t] from x[<t] only
    assert diff[s + 1] > 1e-4  # ... and sees x[t - 1]


@pytest.mark.parametrize("name", ["tiny", "tiny_kernel3", "tiny_local", "reference_bench"])
def test_receptive_field_measured(name: str) -> None:
    cfg = {**TEST_CONFIGS, **CONFIGS}[name]
    model = build(cfg).double()  # the furthest tap's effect is tiny after 20 layers: use float64
    rf = cfg.receptive_field
    expected = 1 + (cfg.kernel_size - 1) * sum(2 ** (i % cfg.cycle) for i in range(cfg.layers))
    assert rf == expected
    length, s = rf + 50, 20
    x = torch.randint(0, 256, (1, length), generator=torch.Generator().manual_seed(4))
    cond = {k: v.double() for k, v in conditioning(cfg, 1, length).items()}
    y = x.clone()
    y[0, s] = (x[0, s] + 128) % 256
    with torch.no_grad():
        diff = (model(x, **cond) - model(y, **cond)).abs().amax(dim=(0, 1))
    changed = torch.nonzero(diff > 0).squeeze(1)  # outside the field the outputs are bit-identical
    assert changed.min().item() == s + 1
    assert changed.max().item() == s + rf


def test_conditioning_reaches_the_right_samples() -> None:
    cfg = TEST_CONFIGS["tiny_all"]
    model = build(cfg)
    length = 40
    x = torch.randint(0, 256, (1, length), generator=torch.Generator().manual_seed(5))
    cond = conditioning(cfg, 1, length)

    def changed(**new: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            diff = (model(x, **cond) - model(x, **{**cond, **new})).abs().amax(dim=(0, 1))
        return torch.nonzero(diff > 1e-6).squeeze(1)

    local = cond["local"].clone()
    local[:, :, 3] += 1.0  # frame 3 drives samples 12..15 (t // hop == 3), and later ones through the layers
    assert changed(local=local).min().item() == 3 * cfg.hop
    period = cond["period"].clone()
    period[:, 25] = period[:, 25] % 7 + 2 + (period[:, 25] % 7 + 2 == 5)  # a different valid period
    assert changed(period=period).min().item() == 25
    assert len(changed(global_id=(cond["global_id"] + 1) % cfg.global_classes)) == length
    assert len(changed(global_vec=cond["global_vec"] + 1)) == length


def test_period_input_reads_one_period_back() -> None:
    cfg = dataclasses.replace(TEST_CONFIGS["tiny_period"], max_period=40)
    model = build(cfg).double()
    rf, p, s = cfg.receptive_field, 20, 10
    assert p > rf  # the period path shows up after a gap
    x = torch.randint(0, 256, (1, 60), generator=torch.Generator().manual_seed(6))
    y = x.clone()
    y[0, s] = (x[0, s] + 128) % 256
    period = torch.full((1, 60), p)
    with torch.no_grad():
        diff = (model(x, period=period) - model(y, period=period)).abs().amax(dim=(0, 1))
    changed = set(torch.nonzero(diff > 0).squeeze(1).tolist())
    direct = set(range(s + 1, s + rf + 1))  # x[s] as the previous samples
    through_period = set(range(s + p, s + p + rf))  # x[s] as x[t - P] at t = s + P, then through the layers
    assert changed == direct | through_period


def test_period_from_f0() -> None:
    f0 = torch.tensor([440.0, 320.0, 6400.0, 8000.0, 12000.0, 30.0, 0.0, -1.0, float("nan")])
    assert period_from_f0(f0, 320).tolist() == [36, 50, 3, 2, 2, 320, 320, 320, 320]
    per_sample = period_per_sample(torch.tensor([[400.0, 800.0]]), hop=4, length=7, max_period=320)
    assert per_sample.tolist() == [[40, 40, 40, 40, 20, 20, 20]]


@pytest.mark.parametrize("name", ["tiny", "tiny_all", "ae_small"])
def test_greedy_generation_is_consistent_with_forward(name: str) -> None:
    cfg = {**TEST_CONFIGS, **CONFIGS}[name]
    model = build(cfg)
    n = 3 * cfg.hop + 37 if cfg.hop > 1 else 90
    frames = -(-n // cfg.hop)
    cond = conditioning(cfg, 2, n)
    local, global_id, global_vec = cond.get("local"), cond.get("global_id"), cond.get("global_vec")
    f0 = None
    if cfg.period_input:
        f0 = torch.rand(2, frames, generator=torch.Generator().manual_seed(7)) * 2000 + 20
    a = generate(model, n, local, global_id, global_vec, f0=f0, temperature=0.0, seed=1, batch=2)
    b = generate(model, n, local, global_id, global_vec, f0=f0, temperature=0.0, seed=2, batch=2)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert a.shape == (2, n) and a.dtype == torch.long
    period = period_per_sample(f0, cfg.hop, n, cfg.max_period) if f0 is not None else None
    with torch.no_grad():  # the period-back samples come from the generated sequence itself
        greedy = model(a, local, global_id, global_vec, period).argmax(dim=1)
    torch.testing.assert_close(greedy, a, atol=0, rtol=0)


def test_sampling_is_reproducible() -> None:
    cfg = TEST_CONFIGS["tiny_all"]
    model = build(cfg)
    cond = conditioning(cfg, 2, 80)
    args = (model, 80, cond["local"], cond["global_id"], cond["global_vec"])
    period = torch.full((2, 20), 7)
    a = generate(*args, period=period, seed=3)
    b = generate(*args, period=period, seed=3)
    c = generate(*args, period=period, seed=4)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.equal(a, c)
    assert len(torch.unique(a)) > 20  # temperature 1 on a random model spreads over many classes


def test_bad_inputs_raise() -> None:
    model = build(TEST_CONFIGS["tiny_all"])
    x = torch.zeros(1, 16, dtype=torch.long)
    cond = conditioning(TEST_CONFIGS["tiny_all"], 1, 16)
    with pytest.raises(LatentbridgeError, match="needs `local`"):
        model(x, **{**cond, "local": None})
    with pytest.raises(LatentbridgeError, match="frames"):
        model(x, **{**cond, "local": cond["local"][:, :, :2]})
    with pytest.raises(LatentbridgeError, match="takes no `period`"):
        build(TEST_CONFIGS["tiny"])(x, period=cond["period"])
    with pytest.raises(LatentbridgeError, match="either f0 or period"):
        generate(model, 4, f0=torch.ones(1, 1), period=torch.ones(1, 1, dtype=torch.long))
    with pytest.raises(LatentbridgeError, match="unknown WaveNetConfig"):
        WaveNetConfig.from_dict({"layers": 3, "colour": 1})
    cfg = CONFIGS["ae_small"]
    assert WaveNetConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.filterwarnings("ignore:The feature will be removed")
@pytest.mark.parametrize("name", [*TEST_CONFIGS, "ae_small"])
def test_onnx_step_matches_torch(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    cfg = {**TEST_CONFIGS, **CONFIGS}[name]
    wrapper = StepModule(build(cfg))
    path = tmp_path / f"{name}_step.onnx"
    names = wrapper.input_names + wrapper.output_names
    torch.onnx.export(wrapper, wrapper.example_inputs(1), str(path), opset_version=17, dynamo=False,
                      input_names=wrapper.input_names, output_names=wrapper.output_names,
                      dynamic_axes={n: {0: "batch"} for n in names})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch, g = 3, torch.Generator().manual_seed(8)
    inputs = list(wrapper.example_inputs(batch))
    n_cond = len(wrapper.cond_names)
    for _ in range(25):  # random steps, state fed back, so the queues fill with non-zero values
        for i, input_name in enumerate(wrapper.cond_names):
            like = inputs[i]
            if input_name == "x_prev":
                inputs[i] = torch.randint(0, 256, like.shape, generator=g)
            elif input_name == "global_id":
                inputs[i] = torch.randint(0, cfg.global_classes, like.shape, generator=g)
            elif input_name == "period":
                inputs[i] = torch.randint(0, cfg.max_period + 3, like.shape, generator=g)
            else:
                inputs[i] = torch.randn(like.shape, generator=g)
        with torch.no_grad():
            expected = wrapper(*inputs)
        got = session.run(None, {n: t.numpy() for n, t in zip(wrapper.input_names, inputs, strict=True)})
        for e, o in zip(expected, got, strict=True):
            np.testing.assert_allclose(o, e.numpy(), atol=1e-4, rtol=0)
        inputs = inputs[:n_cond] + [torch.from_numpy(o) for o in got[1:]]
    assert np.abs(inputs[n_cond].numpy()).max() > 0  # the first queue was really exercised


@pytest.mark.parametrize("name", [*TEST_CONFIGS, "ae_small", "speech_small", "reference_bench"])
def test_backward_gives_finite_gradients(name: str) -> None:
    cfg = {**TEST_CONFIGS, **CONFIGS}[name]
    model = build(cfg).train()
    x = torch.randint(0, 256, (2, 300), generator=torch.Generator().manual_seed(9))
    loss = torch.nn.functional.cross_entropy(model(x, **conditioning(cfg, 2, 300)), x)
    loss.backward()
    assert np.isclose(loss.item(), np.log(256), rtol=0.2)
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().max() > 0, f"{pname} has an all-zero gradient"


def expected_parameters(cfg: WaveNetConfig) -> int:
    """Parameter count written out from the architecture: embeddings, convs, 1x1s, conditioning, head."""
    r, s, k, n = cfg.residual_channels, cfg.skip_channels, cfg.kernel_size, cfg.layers
    count = cfg.classes * r * (2 if cfg.period_input else 1)
    count += n * (r * 2 * r * k + 2 * r) + n * (r * s + s) + (n - 1) * (r * r + r)
    if cfg.local_channels:
        count += cfg.local_channels * n * 2 * r + n * 2 * r
    if cfg.global_classes:
        count += cfg.global_classes * cfg.global_embed_dim
    if cfg.global_classes or cfg.global_dim:
        width = (cfg.global_embed_dim if cfg.global_classes else 0) + cfg.global_dim
        count += width * n * 2 * r + n * 2 * r
    return count + s * s + s + s * cfg.classes + cfg.classes


@pytest.mark.parametrize("name", ["nsynth_decoder", "reference_bench", "ae_small", "speech_small"])
def test_named_configs(name: str) -> None:
    cfg = CONFIGS[name]
    count = sum(p.numel() for p in WaveNet(cfg).parameters())
    assert count == expected_parameters(cfg)
    print(f"{name}: {count} parameters, receptive field {cfg.receptive_field} samples")
    if name in ("nsynth_decoder", "reference_bench"):
        assert cfg.dilations[:10] == tuple(2**i for i in range(10)) and max(cfg.dilations) == 512
