"""Dataset output directories written whole or not at all: checked first, built in a staging directory
beside the target, renamed into place when complete; a previous output is replaced only with --force and
only when it carries the marker files that the same renderer writes."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from export.core.errors import LatentbridgeError


def check_out(out: Path, force: bool, markers: Sequence[str], command: str) -> None:
    """One-line errors for an `out` that is a file, non-empty without --force, or not a `command` output."""
    if out.exists() and not out.is_dir():
        raise LatentbridgeError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise LatentbridgeError(f"{out}: exists and is not empty (use --force to replace it)")
        if not all((out / m).is_file() for m in markers):
            raise LatentbridgeError(f"{out}: not a previous `{command}` output; refusing to replace it")


@contextlib.contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """Yield an empty staging directory beside `out`; when the block succeeds it replaces `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
