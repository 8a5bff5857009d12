"""Trained checkpoints -> ONNX graphs (opset 17, dynamic batch axis) with latentbridge metadata.

Graphs per kind (file `<name>.<graph>.onnx`):
- tagger: `tagger` audio [B, n_samples] -> probabilities [B, tags] (sigmoid); tag names in the config.
- classifier: `classifier` audio [B, T] -> family_probabilities [B, 11], pitch_probabilities [B, 88].
- spectral: `spectral_encoder` logmag [B, F, frames] -> z, `spectral_decoder` z -> logmag (Griffin-Lim is
  applied by the runtime).
- wavenet: `wavenet_step` one sample with every layer's queue (and the period history) as state in and out.
- lpcwavenet: `lpc_step` one sample of the LPC WaveNet decoder (models/wavenet/lpc_step.py): the class of the
  last output and of the excitation one period back, the two per-sample features, the frame's conditioning and
  every layer's queue -> the excitation's logits and the new queues.
- autoencoder: `controls` audio [B, T] -> f0 (Hz), periodicity, A-weighted loudness (dB) [B, T // 128] (the
  model's YIN and loudness trackers; f0 is checked to 1e-3 relative: YIN's parabolic refinement divides small
  differences; metadata `history`: the past samples that determine a frame, so a stream keeps that many);
  `controls_stream` the same trackers for the live path: the last `context` samples and k new hops
  [B, context + k * 128] + the last 8 frames' f0 and voicing -> the k new frames only and the new state;
  `encoder` audio [B, T] -> z [B, 16, T // 512] (offline); `encoder_stream` (causal encoders):
  an audio block + the input buffer and conv caches -> the bottleneck output per encoder step and the new
  state (the runtime averages every `encoder.hop / frame_hop` steps, or 512 samples, into one z); `decoder`:
  the harmonic-plus-noise decoder as a streaming graph, z per control frame [B, F, 16], f0 / periodicity /
  loudness [B, F] and the state (GRU hidden [1, B, H], phase [B] float64, previous f0 / harmonic / noise
  frame, noise position [B], and with the level correction the previous gain and level ratio in dB [B] and
  the last n_fft - 128 samples of the uncorrected output [B, 896]) -> audio [B, F * 128] and the new state; block-wise
  output equals one call. The decoder graph includes the causal per-frame level correction toward the
  loudness control (models/autoencoder/level.py); its settings are in the metadata `level_correction`.
- poly: `tracker` the causal multi-pitch tracker as a streaming graph: audio [B, k * 128] + `tail` (the last
  max(n_ffts) - 128 samples) and `cache_*` (each causal conv's last input frames) -> activations [B, k, 264],
  onsets [B, k, 88] (sigmoid) and `NAME_out` for each state tensor; block-wise output equals one call.
Metadata: see `export.onnx.loader`. Written atomically; parity with torch is checked on export.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from export.core.audio_io import MODEL_RATE, atomic_output
from export.core.errors import LatentbridgeError
from export.onnx.loader import FORMAT_VERSION, PREFIX, open_model
from models.training.checkpoint import load_model
from models.wavenet.incremental import StepModule
from models.wavenet.mu_law import CLASSES

OPSET = 17
PARITY_ATOL = 1e-4


@dataclass
class Graph:
    name: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    hop: int
    probes: tuple[torch.Tensor, ...] | None = None  # parity-check inputs (default: `_probe_inputs`)
    tolerance: dict[str, tuple[float, float]] | None = None  # output -> (atol, rtol); default (1e-4, 0)
    metadata: dict[str, str] | None = None  # graph-specific metadata_props beside the common ones


class _Sigmoid(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(audio))


class _Softmaxes(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        family, pitch = self.model(audio)
        return torch.softmax(family, dim=-1), torch.softmax(pitch, dim=-1)


class _Method(nn.Module):
    """One method of a model as a module's forward."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = getattr(self.model, self.method)(x)
        return out[0] if isinstance(out, tuple) else out


class _Controls(nn.Module):
    """The autoencoder's pitch and loudness trackers: audio -> (f0, periodicity, loudness) per control frame."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.compute_controls(audio)


class _ControlsStream(nn.Module):
    """The trackers for a stream: the last `context` samples and k new hops [B, context + k * hop] plus the
    last `hold` frames' f0 and voicing -> (f0, periodicity, loudness) of the k new frames only + the new state
    (the plain `controls` graph recomputes every frame of the window it is given)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.pitch, self.loud = model.tracker_configs()
        self.hop = model.cfg.frame_hop
        self.context = max(self.pitch.window, self.loud.n_fft) - self.hop

    def _frames(self, audio: torch.Tensor, length: int) -> torch.Tensor:
        """[B, context + k * hop] -> the k windows of `length` samples ending at each new hop [B, k, length]."""
        k = (audio.shape[1] - self.context) // self.hop
        start = self.context + self.hop - length
        index = (torch.arange(k) * self.hop + start)[:, None] + torch.arange(length)[None, :]
        return audio[:, index]

    def forward(self, audio: torch.Tensor, f0_past: torch.Tensor,
                voiced_past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from models.controls.loudness import frame_loudness
        from models.controls.pitch import yin_stream

        f0, periodicity, f0_past, voiced_past = yin_stream(self._frames(audio, self.pitch.window), f0_past,
                                                           voiced_past, self.pitch)
        loudness = frame_loudness(self._frames(audio, self.loud.n_fft), self.loud)
        return f0.float(), periodicity.float(), loudness.float(), f0_past, voiced_past


def _tones(batch: int, samples: int) -> torch.Tensor:
    """Parity probes for the pitch tracker: harmonic tones at 80-900 Hz with a little noise (random noise
    alone leaves YIN's lag choice to rounding)."""
    t = torch.arange(samples, dtype=torch.float64) / MODEL_RATE
    f0 = torch.linspace(80.0, 900.0, batch, dtype=torch.float64)[:, None]
    tone = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in (1, 2, 3))
    noise = 0.01 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (0.3 * tone + noise).float()


class _Decoder(nn.Module):
    """The harmonic-plus-noise decoder as a streaming graph: frames + state in, audio + state out (with the
    level correction, as in eval mode, when the model has one)."""

    STATE = ("hidden", "phase", "f0_prev", "amp_prev", "noise_prev", "position")
    LEVEL_STATE = ("level_gain", "level_ratio", "level_tail")

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.state_names = [*self.STATE, *(self.LEVEL_STATE if model.level is not None else ())]

    def forward(self, z: torch.Tensor, f0: torch.Tensor, periodicity: torch.Tensor, loudness: torch.Tensor,
                *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden, *rest = state
        synth, level = tuple(rest[: len(self.STATE) - 1]), tuple(rest[len(self.STATE) - 1:])
        audio, (hidden, synth_state, level) = self.model.decode(z, f0, periodicity, loudness,
                                                                (hidden, synth, level), level=True)
        return (audio, hidden, *synth_state, *level)


class _EncoderStream(nn.Module):
    """The causal encoder as a streaming graph: a block of audio (a multiple of the control hop for the
    log-mel front end) + the input buffer and every non-empty conv cache -> the bottleneck output of each
    new encoder step [B, Z, steps] (the runtime averages groups of `pool` steps into one z) + the new state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.initial = self.encoder.init_state(1)
        self.keep = [i for i, t in enumerate(self.initial[:-1]) if t.shape[-1] > 0]  # zero-width: not passed

    @property
    def state_names(self) -> list[str]:
        return ["buffer" if i == 0 else f"cache_{i - 1}" for i in self.keep]

    def forward(self, audio: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        enc = self.encoder
        full = [t.expand(audio.shape[0], *t.shape[1:]) for t in self.initial[:-1]]
        for i, t in zip(self.keep, state, strict=True):
            full[i] = t
        buffer, caches = torch.cat([full[0], audio], dim=-1), full[1:]
        if enc.logmel is not None:
            x = enc.logmel.frames(buffer)
            buffer = buffer[:, buffer.shape[-1] - (enc.logmel.n_fft - enc.logmel.hop):]
        else:
            x, buffer = buffer.unsqueeze(1), buffer[:, :0]
        h, cache = enc.input.stream(x, caches[0])
        new = [buffer, cache]
        for layer, c in zip(enc.residual_layers(), caches[1:], strict=True):
            h, c = layer.stream(h, c)
            new.append(c)
        return (enc.bottleneck(h), *(new[i] for i in self.keep))


class _Tracker(nn.Module):
    """The multi-pitch tracker as a streaming graph: audio block + state -> sigmoid activations and onsets
    + the new state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        activations, onsets, new = self.model.stream(audio, list(state))
        return (torch.sigmoid(activations), torch.sigmoid(onsets), *new)


def _batch_axes(names: list[str], extra: dict[str, dict[int, str]] | None = None) -> dict[str, dict[int, str]]:
    axes = {n: {0: "batch"} for n in names}
    for name, more in (extra or {}).items():
        axes[name] = {**axes[name], **more}
    return axes


def graphs(kind: str, model: nn.Module) -> list[Graph]:
    """The graphs exported for a model of `kind` (see the module docstring)."""
    cfg = model.cfg
    if kind == "tagger":
        return [Graph("tagger", _Sigmoid(model), (torch.zeros(1, cfg.n_samples),), ["audio"], ["probabilities"],
                      _batch_axes(["audio", "probabilities"]), 1)]
    if kind == "classifier":
        names = ["audio", "family_probabilities", "pitch_probabilities"]
        return [Graph("classifier", _Softmaxes(model), (torch.zeros(1, cfg.n_samples),), ["audio"], names[1:],
                      _batch_axes(names, {"audio": {1: "samples"}}), cfg.hop)]
    if kind == "spectral":
        logmag = model.prepare(torch.zeros(1, cfg.n_samples))
        z = model.encode(logmag)
        return [Graph("spectral_encoder", _Method(model, "encode"), (logmag,), ["logmag"], ["z"],
                      _batch_axes(["logmag", "z"], {"logmag": {2: "frames"}, "z": {3: "steps"}}),
                      cfg.spectrogram.hop),
                Graph("spectral_decoder", _Method(model, "decode"), (z.detach(),), ["z"], ["logmag"],
                      _batch_axes(["z", "logmag"], {"z": {3: "steps"}, "logmag": {2: "frames"}}),
                      cfg.spectrogram.hop)]
    if kind == "wavenet":
        step = StepModule(model)
        names = step.input_names + step.output_names
        return [Graph("wavenet_step", step, step.example_inputs(1), step.input_names, step.output_names,
                      _batch_axes(names), cfg.hop)]
    if kind == "lpcwavenet":
        from models.wavenet.lpc_step import LPCStepModule

        lpc_step = LPCStepModule(model)
        names = lpc_step.input_names + lpc_step.output_names
        return [Graph("lpc_step", lpc_step, lpc_step.example_inputs(1), lpc_step.input_names,
                      lpc_step.output_names, _batch_axes(names), cfg.wavenet.hop)]
    if kind == "autoencoder":
        audio = torch.zeros(1, 4 * cfg.encoder.hop)
        hidden, synth, level = model.init_decoder_state(1)
        frames = 4
        controls = (torch.zeros(1, frames, cfg.encoder.z_dim), torch.full((1, frames), 220.0),
                    torch.ones(1, frames), torch.full((1, frames), -30.0))
        decoder = _Decoder(model)
        inputs = ["z", "f0", "periodicity", "loudness", *decoder.state_names]
        outputs = ["audio", *(f"{n}_out" for n in decoder.state_names)]
        per_frame = {n: {1: "frames"} for n in ("z", "f0", "periodicity", "loudness")}
        axes = _batch_axes(inputs + outputs, {**per_frame, "audio": {1: "samples"}})
        axes["hidden"], axes["hidden_out"] = {1: "batch"}, {1: "batch"}
        control_names = ["f0", "periodicity", "loudness"]
        pitch, loud = model.tracker_configs()
        graphs_ = [Graph("controls", _Controls(model), (audio,), ["audio"], control_names,
                         _batch_axes(["audio", *control_names], {"audio": {1: "samples"},
                                                                 **{n: {1: "frames"} for n in control_names}}),
                         cfg.frame_hop, probes=(_tones(3, 6000),),
                         tolerance={"f0": (0.0, 1e-3), "periodicity": (1e-3, 0.0), "loudness": (1e-3, 0.0)},
                         metadata={"history": str(max(pitch.history, loud.n_fft))}),
                   _controls_stream_graph(model),
                   Graph("encoder", _Method(model, "encode"), (audio,), ["audio"], ["z"],
                         _batch_axes(["audio", "z"], {"audio": {1: "samples"}, "z": {2: "frames"}}),
                         cfg.encoder.hop)]
        if cfg.encoder.causal:
            stream = _EncoderStream(model)
            names = stream.state_names
            state = [stream.initial[0]] + stream.initial[1:-1]
            example = (torch.zeros(1, 2 * cfg.frame_hop), *(state[i] for i in stream.keep))
            stream_axes = _batch_axes(["audio", "steps", *names, *(f"{n}_out" for n in names)],
                                      {"audio": {1: "samples"}, "steps": {2: "steps"}})
            graphs_.append(Graph("encoder_stream", stream, example, ["audio", *names],
                                 ["steps", *(f"{n}_out" for n in names)], stream_axes, cfg.encoder.hop))
        level_meta = json.dumps(None if model.level is None else model.level.describe())
        return [*graphs_, Graph("decoder", decoder, (*controls, hidden, *synth, *level), inputs, outputs, axes,
                                cfg.frame_hop, metadata={"level_correction": level_meta})]
    if kind == "poly":
        names = model.state_names
        outputs = ["activations", "onsets", *(f"{n}_out" for n in names)]
        axes = _batch_axes(["audio", *names, *outputs], {"audio": {1: "samples"}, "activations": {1: "frames"},
                                                          "onsets": {1: "frames"}})
        example = (torch.zeros(1, 4 * cfg.hop), *model.init_state(1))
        return [Graph("tracker", _Tracker(model), example, ["audio", *names], outputs, axes, cfg.hop)]
    raise LatentbridgeError(f"no ONNX export for model kind {kind!r}")


def _controls_stream_graph(model: nn.Module) -> Graph:
    stream = _ControlsStream(model)
    hold, hop = stream.pitch.hold, stream.hop
    if hold < 1:
        raise LatentbridgeError("the streaming trackers need PitchConfig.hold >= 1")
    names = ["audio", "f0_past", "voiced_past"]
    outputs = ["f0", "periodicity", "loudness", "f0_past_out", "voiced_past_out"]
    example = (torch.zeros(1, stream.context + 2 * hop), torch.zeros(1, hold), torch.zeros(1, hold))
    tones = _tones(3, stream.context + 6 * hop)
    voiced = (torch.arange(3 * hold).reshape(3, hold) % 3 == 0).float()  # some held, some not
    probes = (tones, 100.0 + 50.0 * torch.arange(3 * hold, dtype=torch.float32).reshape(3, hold), voiced)
    axes = _batch_axes(names + outputs, {"audio": {1: "samples"}, **{n: {1: "frames"} for n in outputs[:3]}})
    return Graph("controls_stream", stream, example, names, outputs, axes, hop, probes=probes,
                 tolerance={"f0": (0.0, 1e-3), "periodicity": (1e-3, 0.0), "loudness": (1e-3, 0.0),
                            "f0_past_out": (0.0, 1e-3)},
                 metadata={"context": str(stream.context)})


def _probe_inputs(graph: Graph, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Inputs of `batch` items for the parity check: random audio / features, valid ids and classes."""
    g = torch.Generator().manual_seed(seed)
    probes = []
    for name, example in zip(graph.input_names, graph.inputs, strict=True):
        shape = (example.shape[0], batch, *example.shape[2:]) if name == "hidden" else (batch, *example.shape[1:])
        if example.dtype == torch.long:
            high = CLASSES if name in ("x_prev", "back", "history") else (1000 if name == "position" else 2)
            probes.append(torch.randint(0, high, shape, generator=g) if name != "period" else
                          torch.full(shape, 50, dtype=torch.long))
        elif name == "audio":
            probes.append(0.3 * torch.randn(shape, generator=g).clamp(-3, 3))
        elif name in ("f0", "f0_prev"):
            probes.append(50.0 + 400.0 * torch.rand(shape, generator=g))
        elif name == "loudness":  # down to the floor: the level correction's gate is exercised too
            probes.append(-100.0 + 90.0 * torch.rand(shape, generator=g))
        elif name in ("logmag", "periodicity", "amp_prev", "noise_prev"):
            probes.append(torch.rand(shape, generator=g, dtype=example.dtype) * (0.05 if "prev" in name else 1.0))
        elif name in ("level_gain", "level_ratio"):  # dB, within the correction's bounds
            probes.append(12.0 * (2.0 * torch.rand(shape, generator=g) - 1.0))
        elif name == "level_tail":  # past output samples
            probes.append(0.05 * torch.randn(shape, generator=g))
        else:
            probes.append(torch.randn(shape, generator=g, dtype=example.dtype))
    return tuple(probes)


def int8_tables(module: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(int8 values [N, L], float32 scale [N, 1]) of every table a module stores as 8 bits with a scale per
    row (the synthesiser's noise bands)."""
    return [(m.bands_q.numpy(), m.band_scale.numpy()) for m in module.modules() if hasattr(m, "bands_q")]


def store_int8(proto: Any, tables: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Replace constants that equal one of `tables` dequantised (as is or transposed) by the int8 values, a
    Cast to float and a Mul by the scales: the same float32 products, a quarter of the bytes on disk. (Cast and
    Mul of constants are folded by ONNX Runtime when the session loads; DequantizeLinear would not be, and
    would run on every call.)"""
    from onnx import helper, numpy_helper

    oriented = [(q_o, s_o, q_o.astype(np.float32) * s_o)  # each table as stored and transposed, dequantised once
                for q, scale in tables for q_o, s_o in ((q, scale), (q.T, scale.T))]
    rebuilt = []
    for node in proto.graph.node:
        match = None
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            value = numpy_helper.to_array(node.attribute[0].t)
            match = next(((q, s) for q, s, table in oriented if value.dtype == np.float32
                          and value.shape == table.shape and np.array_equal(value, table)), None)
        if match is None:
            rebuilt.append(node)
            continue
        q, scale = match
        base = node.output[0]
        rebuilt += [helper.make_node("Constant", [], [f"{base}_int8"],
                                     value=numpy_helper.from_array(np.ascontiguousarray(q))),
                    helper.make_node("Constant", [], [f"{base}_scale"],
                                     value=numpy_helper.from_array(np.ascontiguousarray(scale))),
                    helper.make_node("Cast", [f"{base}_int8"], [f"{base}_float"], to=1),  # FLOAT
                    helper.make_node("Mul", [f"{base}_float", f"{base}_scale"], [base])]
    del proto.graph.node[:]
    proto.graph.node.extend(rebuilt)


def export_graph(graph: Graph, path: Path, metadata: dict[str, str], force: bool) -> dict[str, dict[str, float]]:
    """Write one graph with its metadata; returns, per output, the max abs and max relative difference to
    torch on probe inputs (each output must be within its tolerance, or nothing is written)."""
    import onnx

    graph.module.eval()
    with atomic_output(path, force=force) as tmp:
        with warnings.catch_warnings():  # TorchScript exporter notices; shape checks are traced as constants
            warnings.simplefilter("ignore", (UserWarning, DeprecationWarning, FutureWarning, torch.jit.TracerWarning))
            torch.onnx.export(graph.module, graph.inputs, str(tmp), opset_version=OPSET, dynamo=False,
                              input_names=graph.input_names, output_names=graph.output_names,
                              dynamic_axes=graph.dynamic_axes, do_constant_folding=False)
        proto = onnx.load(str(tmp))
        store_int8(proto, int8_tables(graph.module))
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        graph.module.eval()
        probes = graph.probes if graph.probes is not None else _probe_inputs(graph)
        with torch.no_grad():
            expected = graph.module(*probes)
        expected = expected if isinstance(expected, tuple) else (expected,)
        session = open_model(tmp, allow_gpu=False)
        got = session.run(**{n: p.numpy() for n, p in zip(graph.input_names, probes, strict=True)})
        diffs = {}
        for name, want in zip(graph.output_names, expected, strict=True):
            atol, rtol = (graph.tolerance or {}).get(name, (PARITY_ATOL, 0.0))
            reference = want.numpy()
            error, scale = np.abs(got[name] - reference), np.abs(reference)
            excess = float((error - atol - rtol * scale).max())
            if excess > 0:
                raise LatentbridgeError(f"{path.name}: ONNX Runtime output {name} differs from torch by "
                                        f"{float(error.max()):.2e} (tolerance {atol:g} + {rtol:g} x |value|); "
                                        "not written")
            diffs[name] = {"max_abs_diff": float(error.max()),
                           "max_rel_diff": float((error / np.maximum(scale, np.finfo(np.float32).tiny)).max())}
    return diffs


def export_checkpoint(checkpoint: Path, out: Path, name: str | None = None, card: dict[str, Any] | None = None,
                      force: bool = False, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Export every graph of a checkpoint into `out`; one row per graph (path, graph, parity)."""
    model, state = load_model(checkpoint)
    kind = state["kind"]
    if name is None:
        where = Path(checkpoint).resolve()
        name = where.parent.name if where.is_file() else where.name
    cfg_dict = model.cfg.to_dict()
    card = card or {"kind": kind, "steps": state["step"], "config_hash": state["config_hash"]}
    rows = []
    for graph in graphs(kind, model):
        metadata = {f"{PREFIX}format_version": str(FORMAT_VERSION), f"{PREFIX}kind": kind,
                    f"{PREFIX}graph": graph.name, "sample_rate": str(MODEL_RATE), "hop": str(graph.hop),
                    "mu_law": str(CLASSES - 1) if kind == "wavenet" else "", "config": json.dumps(cfg_dict),
                    "model_card": json.dumps(card), **(graph.metadata or {})}
        path = out / f"{name}.{graph.name}.onnx"
        if progress is not None:
            progress(graph.name)
        diffs = export_graph(graph, path, metadata, force)
        rows.append({"path": str(path), "graph": graph.name, "kind": kind,
                     "max_abs_diff": max(d["max_abs_diff"] for d in diffs.values()), "outputs": diffs,
                     "bytes": path.stat().st_size})
    return rows
