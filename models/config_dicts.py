"""Frozen config dataclasses <-> plain dicts (JSON), and named-config lookup, shared by every model.

`config_to_dict` is `dataclasses.asdict`; `config_from_dict` rebuilds the dataclass from such a dict:
unknown or missing fields are a one-line error, lists become tuples, nested config dataclasses are rebuilt.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from export.core.errors import LatentbridgeError

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """The `cls` instance that `config_to_dict` turned into `values`."""
    if not isinstance(values, dict):
        raise LatentbridgeError(f"not a {cls.__name__} (expected a JSON object, got {type(values).__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - set(fields)
    if unknown:
        raise LatentbridgeError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    built = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)  # type: ignore[arg-type]
        elif isinstance(value, list):
            value = tuple(value)
        built[name] = value
    try:
        return cls(**built)
    except TypeError as exc:
        raise LatentbridgeError(f"not a {cls.__name__} ({exc})") from exc


def named_config(name: str, what: str, *tables: dict[str, T]) -> T:
    """The config called `name` in the first table that has it; a one-line error listing the known names."""
    for table in tables:
        if name in table:
            return table[name]
    known = ", ".join(n for table in tables for n in table)
    raise LatentbridgeError(f"unknown {what} config {name!r} (known: {known})")
