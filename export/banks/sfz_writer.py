"""SFZ instrument text for sample banks: one `<region>` per sample, key ranges tiling the keyboard, velocity layers.

MIDI keys 0..127 and velocities 1..127, ranges inclusive; sample paths are relative to the `default_path` set in
the `<control>` header (itself relative to the .sfz file); every region is a loop-free one-shot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from export.core.audio_io import atomic_output
from export.core.errors import LatentbridgeError


@dataclass(frozen=True)
class SfzRegion:
    sample: str  # path below default_path, forward slashes
    lokey: int
    hikey: int
    pitch_keycenter: int
    lovel: int = 1
    hivel: int = 127
    tune: int = 0  # cents added on playback: the sample sounds at pitch_keycenter - tune / 100


def key_ranges(pitches: Sequence[int]) -> list[tuple[int, int]]:
    """(lokey, hikey) per sorted distinct root key: split at the midpoints, the outer ones stretched to 0 and 127."""
    keys = list(pitches)
    if not keys or keys != sorted(set(keys)) or not 0 <= keys[0] <= keys[-1] <= 127:
        raise LatentbridgeError(f"root keys must be distinct, ascending and in 0..127, got {keys}")
    his = [(a + b) // 2 for a, b in zip(keys, keys[1:], strict=False)] + [127]
    los = [0] + [h + 1 for h in his[:-1]]
    return list(zip(los, his, strict=True))


def velocity_ranges(velocities: Sequence[int]) -> list[tuple[int, int]]:
    """(lovel, hivel) per sorted distinct layer velocity v_i: v_{i-1} + 1 .. v_i, the first from 1, the last to 127."""
    layers = list(velocities)
    if not layers or layers != sorted(set(layers)) or not 1 <= layers[0] <= layers[-1] <= 127:
        raise LatentbridgeError(f"velocities must be distinct, ascending and in 1..127, got {layers}")
    his = layers[:-1] + [127]
    los = [1] + [v + 1 for v in layers[:-1]]
    return list(zip(los, his, strict=True))


def sfz_text(regions: Sequence[SfzRegion], default_path: str = "samples/",
             comments: Sequence[str] = ()) -> str:
    """The instrument: comment lines, `<control>` with default_path, one one-shot `<group>`, the regions.

    Headers and opcodes go on their own lines with a blank line after default_path: a path value may contain
    spaces, so some parsers (sfzlint) read it up to the next opcode or blank line."""
    if not regions:
        raise LatentbridgeError("an SFZ instrument needs at least one region")
    for r in regions:
        if not (0 <= r.lokey <= r.pitch_keycenter <= r.hikey <= 127 and 1 <= r.lovel <= r.hivel <= 127
                and -100 <= r.tune <= 100):
            raise LatentbridgeError(f"bad SFZ region {r}")
        if any(c in r.sample for c in "\n\r=") or r.sample.startswith("/"):
            raise LatentbridgeError(f"bad SFZ sample path {r.sample!r}")
    lines = [f"// {c}" for c in comments]
    lines += ["<control>", f"default_path={default_path}", "", "<group>", "loop_mode=one_shot", ""]
    for r in regions:
        velocity = f" lovel={r.lovel} hivel={r.hivel}" if (r.lovel, r.hivel) != (1, 127) else ""
        tune = f" tune={r.tune}" if r.tune else ""
        lines.append(f"<region> sample={r.sample} lokey={r.lokey} hikey={r.hikey} "
                     f"pitch_keycenter={r.pitch_keycenter}{velocity}{tune}")
    return "\n".join(lines) + "\n"


def write_sfz(path: str | Path, text: str, force: bool = False) -> Path:
    """Write `text` atomically (refusing to replace an existing file without `force`)."""
    with atomic_output(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
