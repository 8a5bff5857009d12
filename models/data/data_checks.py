"""Doctor checks for data rendering: SoundFonts, tinysoundfont, espeak-ng."""

from __future__ import annotations

import importlib.metadata
import shutil

from export.app.doctor import Check
from models.data.soundfonts import APT_HINT, DEFAULT_FILES, find_default_soundfonts, search_dirs


def checks() -> list[Check]:
    found = find_default_soundfonts()
    names = {p.name for p in found}
    missing = [n for n in DEFAULT_FILES if n not in names]
    result = [Check("soundfonts", not missing,
                    ", ".join(map(str, found)) + (f"; missing {', '.join(missing)}" if missing else "")
                    if found else f"none found in {', '.join(map(str, search_dirs())) or '(empty path)'}",
                    fix=APT_HINT)]
    try:
        import tinysoundfont  # noqa: F401

        result.append(Check("python: tinysoundfont", True, importlib.metadata.version("tinysoundfont")
                            + " — renders SoundFont notes and clips"))
    except ImportError:
        result.append(Check("python: tinysoundfont", False, "not importable — renders SoundFont notes and clips",
                            fix="pip install --no-deps tinysoundfont==0.3.7"))
    espeak = shutil.which("espeak-ng")
    result.append(Check("espeak-ng", espeak is not None, espeak or "not found (needed for `dataset speech`)",
                        fix="sudo apt-get install espeak-ng"))
    return result
