"""Reading MagnaTagATune-layout tag datasets: ours (`dataset clips`) and the real MTAT release, unchanged.

<root>/annotations_final.csv: tab-separated, fields double-quoted or not; header "clip_id", the tag columns
(188 in MTAT), "mp3_path"; one 0/1 row per clip. mp3_path is relative to root ("f/name.mp3"); a file with
the other extension (.mp3 <-> .wav, e.g. after a conversion) is used when the named one is missing. Items
are (MTATClip, float32 mono audio at 16 kHz, decoded and resampled by export.core.audio_io). Splits follow the
hex folder of mp3_path: 0-b train, c valid, d-f test (the usual MTAT split).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError

SPLIT_FOLDERS = {"train": "0123456789ab", "valid": "c", "test": "def"}
ANNOTATIONS = "annotations_final.csv"
_OTHER_SUFFIX = {".mp3": ".wav", ".wav": ".mp3"}


@dataclass(frozen=True)
class MTATClip:
    clip_id: str
    tags: tuple[str, ...]  # the clip's tags among the dataset's `tag_names`, in column order
    audio_path: Path


def split_of(mp3_path: str) -> str:
    """train / valid / test from the hex folder that starts `mp3_path`."""
    folder = mp3_path.replace("\\", "/").split("/", 1)[0].lower()
    for split, folders in SPLIT_FOLDERS.items():
        if len(folder) == 1 and folder in folders:
            return split
    raise LatentbridgeError(f"{mp3_path}: not in a hex folder 0-f, so it belongs to no MTAT split")


def _problem(path: Path) -> str | None:
    """Why an audio file cannot be used (missing, empty, undecodable header), or None."""
    if not path.is_file():
        return "no such audio file"
    if path.stat().st_size == 0:
        return "empty audio file (0 bytes)"
    from pedalboard.io import AudioFile

    try:
        with AudioFile(str(path)) as f:
            frames = f.frames
    except Exception as exc:  # pedalboard raises several unrelated types for corrupt files
        return f"cannot decode audio ({' '.join(str(exc).split())})"
    return None if frames > 0 else "audio file has no samples"


def _resolve(root: Path, rel: str) -> Path:
    path = root / rel
    other = path.with_suffix(_OTHER_SUFFIX.get(path.suffix.lower(), path.suffix))
    return other if not path.is_file() and other.is_file() else path


class MTATDataset:
    """Clips of a MagnaTagATune-layout folder, optionally one split and a subset of tag columns.

    `tags` (e.g. `MTATDataset(root).top_tags(50)`) keeps those columns in that order. With `skip_bad`,
    clips whose audio is missing, empty or undecodable are dropped (counted in `skipped`); otherwise the
    first one raises, and a clip that only fails when fully decoded raises on access.
    """

    def __init__(self, root: str | os.PathLike[str], split: str | None = None,
                 tags: Sequence[str] | None = None, skip_bad: bool = False) -> None:
        self.root = Path(root)
        if split is not None and split not in SPLIT_FOLDERS:
            raise LatentbridgeError(f"unknown split {split!r} (choose {', '.join(SPLIT_FOLDERS)})")
        all_tags, rows = _read_annotations(self.root / ANNOTATIONS)
        if tags is None:
            self.tag_names = all_tags
        else:
            unknown = [t for t in tags if t not in all_tags]
            if unknown:
                raise LatentbridgeError(f"{self.root / ANNOTATIONS}: no tag column "
                                        f"{', '.join(map(repr, unknown))}")
            if len(set(tags)) != len(tags):
                raise LatentbridgeError("tags: each tag may be given once")
            self.tag_names = tuple(tags)
        columns = [all_tags.index(t) for t in self.tag_names]
        self.skipped = 0
        self.clips: list[MTATClip] = []
        self._labels: list[list[int]] = []
        for clip_id, flags, rel in rows:
            if split is not None and split_of(rel) != split:
                continue
            path = _resolve(self.root, rel)
            problem = _problem(path) if skip_bad else (None if path.is_file() else "no such audio file")
            if problem is not None:
                if not skip_bad:
                    raise LatentbridgeError(f"{path}: {problem} (clip {clip_id}; "
                                            "skip_bad=True skips such clips)")
                self.skipped += 1
                continue
            labels = [flags[c] for c in columns]
            on = tuple(t for t, flag in zip(self.tag_names, labels, strict=True) if flag)
            self.clips.append(MTATClip(clip_id, on, path))
            self._labels.append(labels)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[MTATClip, np.ndarray]:
        clip = self.clips[index]
        return clip, read_mono(clip.audio_path, MODEL_RATE)

    def label_matrix(self) -> np.ndarray:
        """(clips, tags) uint8, columns in `tag_names` order."""
        return np.asarray(self._labels, dtype=np.uint8).reshape(len(self.clips), len(self.tag_names))

    def top_tags(self, k: int) -> tuple[str, ...]:
        """The k most frequent tags over these clips (ties in column order), most frequent first."""
        if k < 1:
            raise LatentbridgeError(f"top_tags: k must be at least 1, got {k}")
        counts = self.label_matrix().sum(axis=0)
        order = sorted(range(len(self.tag_names)), key=lambda i: (-int(counts[i]), i))
        return tuple(self.tag_names[i] for i in order[:k])


def _read_annotations(path: Path) -> tuple[tuple[str, ...], list[tuple[str, list[int], str]]]:
    """(tag names, [(clip_id, 0/1 flags, mp3_path)]) from an annotations_final.csv."""
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such file (an MTAT-layout dataset needs {ANNOTATIONS})")
    with path.open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f, delimiter="\t", quotechar='"'))
    if not lines or len(lines[0]) < 3 or lines[0][0] != "clip_id" or lines[0][-1] != "mp3_path":
        raise LatentbridgeError(f"{path}:1: malformed header (expected \"clip_id\", tag columns, "
                                "\"mp3_path\", tab-separated)")
    header = lines[0]
    rows = []
    for number, fields in enumerate(lines[1:], 2):
        if not fields:
            continue
        if len(fields) != len(header):
            raise LatentbridgeError(f"{path}:{number}: malformed row ({len(fields)} columns, expected "
                                    f"{len(header)})")
        flags = fields[1:-1]
        bad = next((v for v in flags if v not in ("0", "1")), None)
        if bad is not None:
            raise LatentbridgeError(f"{path}:{number}: malformed row (tag value {bad!r} is not 0 or 1)")
        if not fields[-1]:
            raise LatentbridgeError(f"{path}:{number}: malformed row (empty mp3_path)")
        rows.append((fields[0], [int(v) for v in flags], fields[-1]))
    return tuple(header[1:-1]), rows
