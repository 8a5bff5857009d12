"""Opening exported latentbridge ONNX graphs at run time (ONNX Runtime only, no torch).

Every graph carries `metadata_props`: `latentbridge.format_version`, `latentbridge.kind` (autoencoder,
wavenet, tagger, classifier, spectral), `latentbridge.graph` (what the graph computes, e.g. `tagger` or
`wavenet_step`), `sample_rate`, `hop`, `mu_law`, `config` (the model's config JSON) and `model_card` (JSON).
A missing, corrupt, foreign or wrong-version file is a one-line `LatentbridgeError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.core.errors import LatentbridgeError
from export.onnx.providers import preferred_providers

FORMAT_VERSION = 1
PREFIX = "latentbridge."
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}


def filled_input(node: Any, batch: int, fill: float = 0) -> np.ndarray:
    """An array for one graph input (`session.get_inputs()` entry) filled with `fill`: symbolic axes take
    `batch`, the dtype follows the input's type (state tensors start this way)."""
    shape = [d if isinstance(d, int) else batch for d in node.shape]
    return np.full(shape, fill, DTYPES[node.type])


@dataclass
class OnnxModel:
    """An ONNX Runtime session and what its metadata says."""

    path: Path
    session: Any
    kind: str
    graph: str
    metadata: dict[str, str]
    config: dict[str, Any]

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on named inputs; outputs by name."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise LatentbridgeError(f"{self.path.name}: missing inputs {', '.join(missing)}")
        outputs = self.session.run(None, {n: inputs[n] for n in self.input_names})
        return dict(zip(self.output_names, outputs, strict=True))


def open_model(path: str | Path, kind: str | None = None, graph: str | None = None, threads: int = 1,
               allow_gpu: bool = True) -> OnnxModel:
    """Open and validate an exported graph (CUDA provider only where a CUDA device is usable)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such model file")
    if path.stat().st_size == 0:
        raise LatentbridgeError(f"{path}: empty model file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=preferred_providers(allow_gpu))
    except Exception as exc:  # onnxruntime raises its own exception classes for unreadable graphs
        raise LatentbridgeError(f"{path}: not a readable ONNX model ({' '.join(str(exc).split())[:160]})") \
            from exc
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    version = metadata.get(f"{PREFIX}format_version")
    if version is None:
        raise LatentbridgeError(f"{path}: not a latentbridge model (no {PREFIX}format_version metadata)")
    if version != str(FORMAT_VERSION):
        raise LatentbridgeError(f"{path}: model format version {version}; this build reads version "
                                f"{FORMAT_VERSION} (re-export it with `latentbridge export`)")
    found_kind, found_graph = metadata.get(f"{PREFIX}kind", "?"), metadata.get(f"{PREFIX}graph", "?")
    if kind is not None and found_kind != kind:
        raise LatentbridgeError(f"{path}: a {found_kind} model, not a {kind} one")
    if graph is not None and found_graph != graph:
        raise LatentbridgeError(f"{path}: a {found_graph} graph, not a {graph} one")
    try:
        config = json.loads(metadata.get("config", "{}"))
    except json.JSONDecodeError as exc:
        raise LatentbridgeError(f"{path}: malformed config metadata ({exc.msg})") from exc
    return OnnxModel(path, session, found_kind, found_graph, metadata, config)
