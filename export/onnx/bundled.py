"""The default models shipped inside the repository (`export/bundled/*.json` model cards).

A model card is a JSON file named after the model, with at least `name`, `kind`,
`format_version` and `file` (the artifact beside it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from export.core.errors import LatentbridgeError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled"


@dataclass(frozen=True)
class BundledModel:
    name: str
    kind: str
    format_version: int
    path: Path
    card: dict


def bundled_models(directory: Path = BUNDLED_DIR) -> list[BundledModel]:
    """Every model card in `directory`, sorted by name; a malformed card is a one-line error."""
    models = []
    for card_path in sorted(directory.glob("*.json")):
        try:
            card = json.loads(card_path.read_text())
            models.append(BundledModel(card["name"], card["kind"], int(card["format_version"]),
                                       card_path.parent / card["file"], card))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise LatentbridgeError(f"{card_path}: malformed model card ({exc})") from exc
    return models


def default_model(kind: str, name: str | None = None, directory: Path = BUNDLED_DIR) -> BundledModel:
    """The bundled model of `kind` (named `name`, else the first by name); a one-line error when none ships."""
    for model in bundled_models(directory):
        if model.kind == kind and name in (None, model.name):
            if not model.path.is_file():
                raise LatentbridgeError(f"{model.path}: the bundled {kind} model card names a missing file")
            return model
    raise LatentbridgeError(f"no bundled {kind} model{f' named {name}' if name else ''} in {directory}; "
                            "pass --model PATH")


def bundled_graph(kind: str, graph: str, name: str | None = None, directory: Path = BUNDLED_DIR) -> Path:
    """The exported ONNX graph `NAME.GRAPH.onnx` of the bundled model of `kind`; a one-line error when it
    was not exported (`latentbridge models export-bundled` writes them)."""
    model = default_model(kind, name, directory)
    path = directory / f"{model.name}.{graph}.onnx"
    if not path.is_file():
        raise LatentbridgeError(f"{path}: the bundled {kind} model has no exported {graph} graph "
                                "(run `latentbridge models export-bundled`)")
    return path
