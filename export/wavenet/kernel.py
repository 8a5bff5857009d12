"""The native cached-queue WaveNet generator (C, `export/wavenet/native/wavenet_kernel.c`), fed from an exported ONNX
`wavenet_step` graph: the graph's initializers are the weights, its metadata the config (no torch).

Generation is resumable: `NativeWaveNet.generate` continues every voice from where the last call stopped, so
the live engine can hand over local-conditioning frames as they are encoded. Classes are 8-bit mu-law
(0..255) at 16 kHz; local conditioning [B, C, F] in frames of `hop` samples (sample t uses frame t // hop),
the period input per frame [B, F] in samples (or f0 in Hz), global id [B] and/or vector [B, D] per voice.
Sampling draws from a splitmix64 stream per voice seeded by (seed, voice index): the same seed gives the
same audio for a voice whatever the batch size or thread count; temperature 0 is argmax.
Precision "fp32" (the default) multiplies by the exported float32 weights (logits match torch to 1e-4);
"fp16" by IEEE-half copies (half the bytes streamed per sample, float32 accumulation; the logits then match a
torch model whose weights were rounded to half precision); "int8" by int8 copies quantised per output row, the
inputs of each product quantised per voice (exact int32 sums; the C source's top comment has the scheme).
The SIMD path ("avx512vnni", "avx2", "portable") is the best this CPU runs unless capped by `simd=` or the
LATENTBRIDGE_WAVENET_SIMD environment variable; the int8 paths give bit-identical results.
Optional per-sample features [B, n, K] are projected by a [K, R] matrix (the graph's `feature_proj.weight`,
or `feature_proj=`) and added to the input embedding of every step.
`generate_lpc` runs an LPC WaveNet (models/wavenet/lpc_decoder.py): the kernel predicts each sample of the
pre-emphasised signal from the voice's own past with per-frame coefficients, samples only the excitation
(clipped to a per-frame limit), and returns the de-emphasised audio; feature 0 is the prediction (computed in the
kernel), feature 1 the companded harmonic guide given per sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from export.core.mu_law import BOUNDARIES, LEVELS, compand_f32
from export.onnx.loader import open_model

PREFIX_WEIGHTS = "model."
SILENCE_CLASS = 128
PRECISIONS = ("fp32", "fp16", "int8")
SIMD_PATHS = ("portable", "avx2", "avx512vnni")  # lowest first
SIMD_ENV = "LATENTBRIDGE_WAVENET_SIMD"


def _native() -> Any:
    try:
        from export.wavenet import _wavenet_native
    except ImportError as exc:
        raise LatentbridgeError("the native WaveNet kernel is not built (run `pip install -e .` or "
                                "`python setup.py build_ext --inplace`)") from exc
    return _wavenet_native


@dataclass
class WaveNetWeights:
    """A WaveNet's config and float32 weights named `model.*`; `lpc`: for an LPC WaveNet (`lpc_step` graph) its
    whole config (`lpc`: the linear prediction, `predict`/`guide`, ...), None for a `wavenet_step` graph."""

    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    lpc: dict[str, Any] | None = None

    def get(self, name: str) -> np.ndarray | None:
        return self.tensors.get(PREFIX_WEIGHTS + name)

    def need(self, name: str) -> np.ndarray:
        found = self.get(name)
        if found is None:
            raise LatentbridgeError(f"the WaveNet graph has no weight {PREFIX_WEIGHTS + name}")
        return found


STEP_GRAPHS = {"wavenet_step": "wavenet", "lpc_step": "lpcwavenet"}  # graph -> model kind
LPC_PREFIX = PREFIX_WEIGHTS + "net."  # the lpc_step graph's WaveNet weights (beside model.feature_proj.weight)


def read_weights(path: str | Path) -> WaveNetWeights:
    """Config and weights of an exported `wavenet_step` or `lpc_step` graph (validated like every runtime model)."""
    import onnx
    from onnx import numpy_helper

    model = open_model(path, allow_gpu=False)
    if STEP_GRAPHS.get(model.graph) != model.kind:
        raise LatentbridgeError(f"{path}: {model.kind} {model.graph}, not a WaveNet step graph "
                                f"({', '.join(STEP_GRAPHS)})")
    proto = onnx.load(str(path))
    tensors = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in proto.graph.initializer
               if t.name.startswith(PREFIX_WEIGHTS)}
    if model.graph == "wavenet_step":
        return WaveNetWeights(model.config, tensors)
    renamed = {PREFIX_WEIGHTS + name[len(LPC_PREFIX):] if name.startswith(LPC_PREFIX) else name: value
               for name, value in tensors.items()}
    return WaveNetWeights(model.config["wavenet"], renamed, model.config)


def period_from_f0(f0: np.ndarray, max_period: int, sample_rate: int = 16000) -> np.ndarray:
    """f0 Hz -> int32 period floor(sr / f0 + 1/2) clamped to [2, max_period]; unvoiced -> max_period."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = np.isfinite(f0) & (f0 > 0)
    period = np.floor(sample_rate / np.where(voiced, f0, 1.0) + 0.5).clip(2, max_period)
    return np.where(voiced, period, max_period).astype(np.int32)


def f16c_available() -> bool:
    """Whether the kernel can run half-precision weights here: the CPU has AVX2, FMA and F16C, and
    LATENTBRIDGE_WAVENET_SIMD does not cap it to the portable path."""
    return bool(_native().half_supported()) and _simd_cap(None) != SIMD_PATHS.index("portable")


def simd_paths() -> list[str]:
    """The SIMD paths this CPU runs, lowest first (the kernel picks the last unless capped)."""
    return list(_native().simd_paths())


def _simd_cap(simd: str | None) -> int:
    """-1 (the CPU's best) or the index of the requested path; one this CPU lacks is an error."""
    simd = simd or os.environ.get(SIMD_ENV) or None
    if simd is None:
        return -1
    if simd not in SIMD_PATHS:
        raise LatentbridgeError(f"SIMD path must be one of {', '.join(SIMD_PATHS)}, got {simd!r}")
    if simd not in simd_paths():
        raise LatentbridgeError(f"this CPU cannot run the {simd} path (it runs {', '.join(simd_paths())})")
    return SIMD_PATHS.index(simd)


class NativeWaveNet:
    """B voices of one WaveNet, generated by the native kernel (see the module docstring)."""

    def __init__(self, weights: WaveNetWeights, batch: int = 1, seed: int = 0, precision: str = "fp32",
                 portable: bool = False, simd: str | None = None, feature_proj: np.ndarray | None = None) -> None:
        """`portable=True` is `simd="portable"`; `feature_proj` [K, R] replaces the graph's feature weights."""
        if precision not in PRECISIONS:
            raise LatentbridgeError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        cfg = weights.config
        self.cfg = cfg
        self.layers, self.R, self.S = cfg["layers"], cfg["residual_channels"], cfg["skip_channels"]
        self.classes, self.kernel, self.hop = cfg["classes"], cfg["kernel_size"], cfg["hop"]
        self.dilations = [2 ** (i % cfg["cycle"]) for i in range(self.layers)]
        self.period_input = bool(cfg["period_input"])
        self.max_period = int(cfg["max_period"]) if self.period_input else 0
        w = weights
        # the kernel wants every matrix input-major: tap j of conv i as [R in][2R out], 1x1 convs as [in][out]
        conv = [np.ascontiguousarray(w.need(f"blocks.{i}.conv.weight").transpose(2, 1, 0))
                for i in range(self.layers)]
        res = [w.get(f"blocks.{i}.res.weight") for i in range(self.layers)]

        def t(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(x[..., 0].T)

        if feature_proj is None and w.get("feature_proj.weight") is not None:
            feature_proj = t(w.need("feature_proj.weight"))  # Conv1d [R, K, 1] -> [K, R]
        if feature_proj is not None:
            feature_proj = np.ascontiguousarray(feature_proj, np.float32)
            if feature_proj.ndim != 2 or feature_proj.shape[1] != self.R:
                raise LatentbridgeError(f"feature_proj of shape {feature_proj.shape}: need [K, {self.R}]")
        self.features = 0 if feature_proj is None else feature_proj.shape[0]

        self._kernel = _native().Kernel(
            self.layers, self.R, self.S, self.classes, self.kernel, self.dilations, self.max_period,
            np.ascontiguousarray(w.need("embed.weight")),
            None if not self.period_input else np.ascontiguousarray(w.need("period_embed.weight")),
            conv, [t(w.need(f"blocks.{i}.skip.weight")) for i in range(self.layers)],
            [w.need(f"blocks.{i}.skip.bias") for i in range(self.layers)],
            [None if r is None else t(r) for r in res],
            [None if r is None else w.need(f"blocks.{i}.res.bias") for i, r in enumerate(res)],
            t(w.need("head_hidden.weight")), w.need("head_hidden.bias"), t(w.need("head_out.weight")),
            w.need("head_out.bias"), 0 if portable else _simd_cap(simd), PRECISIONS.index(precision), feature_proj)
        self.backend = self._kernel.backend()
        self.simd = self._kernel.simd()
        self._conv_bias = np.concatenate([w.need(f"blocks.{i}.conv.bias") for i in range(self.layers)])
        self._local = (w.need("local_proj.proj.weight")[..., 0], w.need("local_proj.proj.bias")) \
            if cfg["local_channels"] else None
        self._global_embed = w.get("global_embed.weight")
        self._global = (w.need("global_proj.proj.weight")[..., 0], w.need("global_proj.proj.bias")) \
            if (cfg["global_embed_dim"] if cfg["global_classes"] else 0) + cfg["global_dim"] else None
        self.batch, self.seed = batch, seed
        self.reset()

    def reset(self, streams: list[int] | None = None) -> None:
        """Every voice back to silence (zero queues, silent history, x_prev = 128, sampling seed restarted);
        voice v draws from sampling stream `streams[v]` (default v), so a voice's samples need not depend on
        which batch slot it runs in."""
        b = self.batch
        ids = list(range(b)) if streams is None else list(streams)
        if len(ids) != b:
            raise LatentbridgeError(f"reset needs {b} sampling streams, got {len(ids)}")
        self._queues = np.zeros((b, self._kernel.queue_floats()), np.float32)
        self._qpos = np.zeros((b, self.layers), np.int32)
        self._history = np.full((b, max(self.max_period, 1)), SILENCE_CLASS, np.int32)
        self._hpos = np.zeros(b, np.int32)
        self._x_prev = np.full(b, SILENCE_CLASS, np.int32)
        self._lpc_state: np.ndarray | None = None  # [B, order + 1] once an LPC generation starts
        self._e_prev = np.full(b, SILENCE_CLASS, np.int32)
        self._rng = np.array([(self.seed * 0x9E3779B1 + v * 0x85EBCA77 + 1) % 2 ** 64 for v in ids],
                             np.ulonglong)  # buffer format 'Q'

    def _global_bias(self, global_id: np.ndarray | None, global_vec: np.ndarray | None) -> np.ndarray:
        """[B, L * 2R] from the global conditioning (zeros without one), plus the conv biases."""
        bias = np.broadcast_to(self._conv_bias, (self.batch, self._conv_bias.size)).astype(np.float32)
        if self._global is None:
            return bias
        parts = []
        if self._global_embed is not None:
            if global_id is None:
                raise LatentbridgeError("this WaveNet needs a global id per voice")
            parts.append(self._global_embed[np.asarray(global_id, dtype=np.int64)])
        if self.cfg["global_dim"]:
            if global_vec is None:
                raise LatentbridgeError("this WaveNet needs a global vector per voice")
            parts.append(np.asarray(global_vec, np.float32).reshape(self.batch, -1))
        weight, b = self._global
        return bias + np.concatenate(parts, axis=1) @ weight.T + b

    def _conditioning(self, n: int, local: np.ndarray | None, period: np.ndarray | None,
                      f0: np.ndarray | None = None, global_id: np.ndarray | None = None,
                      global_vec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cond float32 [B, F, L * 2R] projected per frame, period int32 [B, F]) for the next n samples."""
        frames = -(-n // self.hop) if n else 0
        cond = np.repeat(self._global_bias(global_id, global_vec)[:, None, :], max(frames, 1), axis=1)
        if self._local is not None:
            if local is None:
                raise LatentbridgeError("this WaveNet needs local conditioning frames [batch, channels, frames]")
            local = np.asarray(local, np.float32)
            if local.shape[0] != self.batch or local.shape[2] < frames:
                raise LatentbridgeError(f"local conditioning of shape {local.shape}: need [{self.batch}, "
                                        f"{self.cfg['local_channels']}, >= {frames}]")
            weight, b = self._local
            cond = cond + (np.einsum("oc,bcf->bfo", weight, local[:, :, :frames]) + b)[:, : cond.shape[1]]
        if self.period_input:
            if f0 is not None:
                period = period_from_f0(f0, self.max_period)
            if period is None:
                raise LatentbridgeError("this WaveNet needs the period (or f0) per frame")
            period = np.ascontiguousarray(np.asarray(period, np.int32)[:, :max(frames, 1)])
        else:
            period = np.zeros((self.batch, max(frames, 1)), np.int32)
        if period.shape != (self.batch, max(frames, 1)):
            raise LatentbridgeError(f"period of shape {period.shape}: need [{self.batch}, {frames}]")
        return np.ascontiguousarray(cond, np.float32), period

    def _teacher(self, teacher: np.ndarray | None, n: int) -> np.ndarray | None:
        if teacher is None:
            return None
        teacher = np.ascontiguousarray(teacher, np.int32)
        if teacher.shape != (self.batch, n) or teacher.min(initial=0) < 0 or teacher.max(initial=0) >= self.classes:
            raise LatentbridgeError(f"teacher of shape {teacher.shape}: need classes [{self.batch}, {n}]")
        return teacher

    def generate(self, n: int, local: np.ndarray | None = None, period: np.ndarray | None = None,
                 f0: np.ndarray | None = None, global_id: np.ndarray | None = None,
                 global_vec: np.ndarray | None = None, temperature: float = 1.0, threads: int = 1,
                 logits_steps: int = 0, features: np.ndarray | None = None,
                 teacher: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The next n samples of every voice: (classes int32 [B, n], logits [B, logits_steps, 256] or None);
        `features` [B, >= n, K] per sample when the kernel has a feature projection; with `teacher` [B, n],
        teacher[:, t] is fed back after step t instead of the chosen class (which is still returned)."""
        if n < 0 or temperature < 0:
            raise LatentbridgeError("n and temperature must be >= 0")
        cond, period = self._conditioning(n, local, period, f0, global_id, global_vec)
        if self.features:
            if features is None:
                raise LatentbridgeError(f"this WaveNet needs per-sample features [batch, n, {self.features}]")
            features = np.asarray(features, np.float32)
            if features.ndim != 3 or features.shape[0] != self.batch or features.shape[1] < n \
                    or features.shape[2] != self.features:
                raise LatentbridgeError(f"features of shape {features.shape}: need [{self.batch}, >= {n}, "
                                        f"{self.features}]")
            features = np.ascontiguousarray(features[:, :n])
        teacher = self._teacher(teacher, n)
        out = np.zeros((self.batch, n), np.int32)
        logits = np.zeros((self.batch, min(logits_steps, n), self.classes), np.float32) if logits_steps else None
        self._kernel.generate(self._queues, self._qpos, self._history, self._hpos, self._x_prev, self._rng,
                              cond, period, out, logits, self.batch, period.shape[1], self.hop, n,
                              float(temperature), int(threads), features, teacher)
        return out, logits

    def generate_lpc(self, n: int, local: np.ndarray, period: np.ndarray, harmonic: np.ndarray,
                     coefficients: np.ndarray, limit: np.ndarray, emphasis: float, temperature: float = 0.7,
                     threads: int = 1, teacher: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The next n samples of every voice of an LPC WaveNet (see the module docstring): (excitation classes
        int32 [B, n] as chosen, before the limit; audio float32 [B, n] de-emphasised). local [B, C, F] and
        period [B, F] as for `generate`; harmonic [B, >= n] the pre-emphasised guide per sample; coefficients
        [B, F, order + 1] (a_0 = 1) per frame; limit [B, F] the largest |excitation| per frame (<= 0: none);
        with `teacher` [B, n] those classes replace the chosen ones (then the limit applies alike)."""
        if self.features != 2 or not self.period_input:
            raise LatentbridgeError("generate_lpc needs a WaveNet with the period input and two per-sample "
                                    "features (prediction, harmonic guide)")
        if not 0.0 <= emphasis < 1.0:
            raise LatentbridgeError(f"pre-emphasis must be in [0, 1), got {emphasis}")
        frames = -(-n // self.hop) if n else 0
        coefficients = np.asarray(coefficients, np.float32)
        if coefficients.ndim != 3 or coefficients.shape[0] != self.batch or coefficients.shape[1] < frames \
                or coefficients.shape[2] < 2:
            raise LatentbridgeError(f"LPC coefficients of shape {coefficients.shape}: need [{self.batch}, >= "
                                    f"{frames}, order + 1]")
        order = coefficients.shape[2] - 1
        if self._lpc_state is None:
            self._lpc_state = np.zeros((self.batch, order + 1), np.float32)
        elif self._lpc_state.shape[1] != order + 1:
            raise LatentbridgeError(f"LPC order changed from {self._lpc_state.shape[1] - 1} to {order} "
                                    "mid-stream (reset first)")
        harmonic = np.asarray(harmonic, np.float32)
        limit = np.asarray(limit, np.float32)
        if harmonic.shape[0] != self.batch or harmonic.shape[-1] < n or limit.shape[0] != self.batch \
                or limit.shape[1] < frames:
            raise LatentbridgeError(f"harmonic {harmonic.shape} / limit {limit.shape}: need [{self.batch}, >= "
                                    f"{n}] / [{self.batch}, >= {frames}]")
        features = np.zeros((self.batch, n, 2), np.float32)
        features[:, :, 1] = compand_f32(harmonic[:, :n])
        cond, period = self._conditioning(n, local, period)
        teacher = self._teacher(teacher, n)
        out = np.zeros((self.batch, n), np.int32)
        audio = np.zeros((self.batch, n), np.float32)
        f = period.shape[1]
        self._kernel.generate(self._queues, self._qpos, self._history, self._hpos, self._x_prev, self._rng,
                              cond, period, out, None, self.batch, f, self.hop, n, float(temperature),
                              int(threads), features, teacher, np.ascontiguousarray(coefficients[:, :f, 1:]),
                              np.ascontiguousarray(limit[:, :f]), self._lpc_state, self._e_prev, audio,
                              np.ascontiguousarray(BOUNDARIES, np.float64), np.ascontiguousarray(LEVELS, np.float32),
                              float(emphasis), order)
        return out, audio
