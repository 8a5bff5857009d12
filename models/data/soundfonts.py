"""Finding General MIDI SoundFonts: Debian's FluidR3_GM and TimGM6mb by default, or any .sf2 given.

Paths only; rendering lives in the renderers. A SoundFont's `name` is its file stem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from export.core.errors import LatentbridgeError

SEARCH_DIRS: tuple[str, ...] = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/local/share/soundfonts")
DEFAULT_FILES: tuple[str, ...] = ("FluidR3_GM.sf2", "TimGM6mb.sf2")
APT_HINT = "install them with: sudo apt-get install fluid-soundfont-gm timgm6mb-soundfont"


def search_dirs() -> list[Path]:
    """Directories searched for the default SoundFonts: LATENTBRIDGE_SF2_PATH (':'-separated) when set,
    else the system directories."""
    override = os.environ.get("LATENTBRIDGE_SF2_PATH")
    if override is not None:
        return [Path(d) for d in override.split(":") if d]
    return [Path(d) for d in SEARCH_DIRS]


def find_default_soundfonts() -> list[Path]:
    """The default SoundFonts that exist on this machine, in `DEFAULT_FILES` order."""
    found = []
    for name in DEFAULT_FILES:
        for d in search_dirs():
            if (d / name).is_file():
                found.append((d / name).resolve())
                break
    return found


def resolve_soundfonts(paths: Sequence[str | os.PathLike[str]] | None) -> list[Path]:
    """Check user-given SoundFonts, or fall back to the defaults; one-line errors otherwise."""
    if not paths:
        found = find_default_soundfonts()
        if not found:
            raise LatentbridgeError(f"no General MIDI SoundFont found in {', '.join(map(str, search_dirs()))}; "
                                    f"{APT_HINT}, or pass --soundfont PATH")
        return found
    resolved = []
    for p in map(Path, paths):
        if not p.is_file():
            raise LatentbridgeError(f"{p}: SoundFont not found")
        if p.suffix.lower() not in (".sf2", ".sf3"):
            raise LatentbridgeError(f"{p}: not a SoundFont (.sf2 or .sf3)")
        resolved.append(p.resolve())
    if len({p.stem for p in resolved}) != len(resolved):
        raise LatentbridgeError("two SoundFonts share a file name; rename one so instrument names stay unique")
    return resolved
