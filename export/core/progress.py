"""Progress bars for anything that takes over a second (tqdm on stderr, silent when not a TTY
unless forced with LATENTBRIDGE_PROGRESS=1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    forced = os.environ.get("LATENTBRIDGE_PROGRESS")
    if forced is not None:
        return forced not in ("0", "")
    return sys.stderr.isatty()


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap `items` in a progress bar labelled `desc`."""
    yield from tqdm(items, desc=desc, total=total, unit=unit, disable=not progress_enabled(),
                    dynamic_ncols=True, leave=False)


def bar(desc: str, total: int | None = None, unit: str = "it") -> tqdm:
    """A manual progress bar (call `.update(n)`; use as a context manager)."""
    return tqdm(desc=desc, total=total, unit=unit, disable=not progress_enabled(),
                dynamic_ncols=True, leave=False)
