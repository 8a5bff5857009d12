"""Training checkpoints of every model kind: model + optimizer state, step, RNG, config (JSON) and its hash.

One file, `checkpoint.pt` (torch.save of a dict of tensors and plain Python values; `kind` names the model
class, see `KINDS`), plus `config.json` beside it. Written to a temporary file in the same directory and
renamed, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from export.core.errors import LatentbridgeError

FORMAT = "latentbridge-checkpoint"
VERSION = 2
CHECKPOINT = "checkpoint.pt"

# kind -> (module, config class, model class); imported only when a checkpoint of that kind is loaded
KINDS: dict[str, tuple[str, str, str]] = {
    "autoencoder": ("models.autoencoder.model", "AutoencoderConfig", "Autoencoder"),
    "tagger": ("models.tagger.model", "TaggerConfig", "SampleCNN"),
    "classifier": ("models.classifier.model", "ClassifierConfig", "NoteClassifier"),
    "spectral": ("models.spectral.model", "SpectralAEConfig", "SpectralAutoencoder"),
    "wavenet": ("models.wavenet.model", "WaveNetConfig", "WaveNet"),
    "lpcwavenet": ("models.wavenet.lpc_decoder", "LPCWaveNetConfig", "LPCWaveNet"),
    "poly": ("models.polypitch.model", "PolyPitchConfig", "PolyPitchNet"),
    "style": ("models.style.feedforward", "FeedForwardConfig", "SpectralGainNet"),
}


def config_hash(cfg: Any) -> str:
    """A short stable hash of a config dataclass (sha256 of its sorted JSON `to_dict()`)."""
    return dict_hash(cfg.to_dict())


def dict_hash(values: dict[str, Any]) -> str:
    """The `config_hash` of a config's dict as written."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_config(state: dict[str, Any], path: str | Path) -> Any:
    """The config of a loaded checkpoint: its stored dict must match its hash (else the file is damaged);
    fields added to the config class since it was written take their defaults."""
    if dict_hash(state["config"]) != state["config_hash"]:
        raise LatentbridgeError(f"{path}: config hash mismatch (damaged checkpoint?)")
    config_cls, _ = model_classes(state["kind"])
    return config_cls.from_dict(state["config"])


def atomic_write(path: Path, write: Any) -> None:
    """Call `write(temporary_name)`, then rename the file onto `path` (same directory, so atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(name)
        os.chmod(name, 0o644)
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def save_checkpoint(path: str | Path, kind: str, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    step: int, seed: int, extra: dict[str, Any] | None = None) -> Path:
    """Write `path` (a checkpoint.pt) and `config.json` beside it, each atomically."""
    if kind not in KINDS:
        raise LatentbridgeError(f"unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    path = Path(path)
    cfg = model.cfg
    state = {"format": FORMAT, "version": VERSION, "kind": kind, "config": cfg.to_dict(),
             "config_hash": config_hash(cfg), "model": model.state_dict(),
             "optimizer": None if optimizer is None else optimizer.state_dict(), "step": step, "seed": seed,
             "torch_rng": torch.get_rng_state(), "extra": dict(extra or {})}
    atomic_write(path, lambda name: torch.save(state, name))
    text = json.dumps({"kind": kind, "config": cfg.to_dict(), "config_hash": config_hash(cfg)}, indent=1)
    atomic_write(path.parent / "config.json", lambda name: Path(name).write_text(text))
    return path


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """The checkpoint dict; LatentbridgeError if missing, unreadable, of an unknown format / version, or
    (when `kind` is given) of another model kind."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise LatentbridgeError(f"{path}: cannot read checkpoint ({' '.join(str(exc).split())[:200]})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise LatentbridgeError(f"{path}: not a latentbridge checkpoint")
    if state.get("version") != VERSION:
        raise LatentbridgeError(f"{path}: checkpoint version {state.get('version')} is not supported "
                                f"(this build reads version {VERSION})")
    if kind is not None and state.get("kind") != kind:
        raise LatentbridgeError(f"{path}: a {state.get('kind')} checkpoint, not a {kind} one")
    return state


def model_classes(kind: str) -> tuple[Any, type[nn.Module]]:
    """(config class, model class) of a model kind."""
    if kind not in KINDS:
        raise LatentbridgeError(f"unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    module_name, config_name, model_name = KINDS[kind]
    module = importlib.import_module(module_name)
    return getattr(module, config_name), getattr(module, model_name)


def load_model(path: str | Path, kind: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A model (eval mode, CPU) rebuilt from the config stored in the checkpoint, and the dict."""
    state = load_checkpoint(path, kind)
    _, model_cls = model_classes(state["kind"])
    model = model_cls(stored_config(state, path))
    model.load_state_dict(state["model"])
    return model.eval(), state
