"""Content clips for training and judging feed-forward style networks, from any of the project's datasets.

Layouts: VCTK (`wav48/`: the last `HELD_OUT_SPEAKERS` speakers by ID are held out), NSynth notes
(`train/examples.json`: train split for training, `test` split, other instruments, held out), polyphonic phrases
(`phrases.json`: train / test splits), or any folder of audio files (all for training, none held out). Clips are
mono float32 at 16 kHz, `seconds` long, drawn deterministically from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, fit_length, read_mono
from export.core.errors import LatentbridgeError

HELD_OUT_SPEAKERS = 2
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
QUIET_RMS = 10 ** (-50 / 20)


@dataclass(frozen=True)
class ContentSource:
    root: Path
    layout: str  # speech, notes, poly or folder
    train: tuple[Path, ...]
    held_out: tuple[Path, ...]

    @property
    def kind(self) -> str:
        """What the judge measures on this source's clips: STOI (speech) or pitch agreement (music)."""
        return "speech" if self.layout == "speech" else "music"


def _speech(root: Path) -> ContentSource:
    audio_dir = next(root / d for d in ("wav48_silence_trimmed", "wav48") if (root / d).is_dir())
    speakers = sorted(d.name for d in audio_dir.iterdir() if d.is_dir())
    if len(speakers) <= HELD_OUT_SPEAKERS:
        raise LatentbridgeError(f"{root}: needs more than {HELD_OUT_SPEAKERS} speakers (held out for judging)")
    files = {s: sorted(p for p in (audio_dir / s).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
             for s in speakers}
    cut = len(speakers) - HELD_OUT_SPEAKERS
    return ContentSource(root, "speech", tuple(f for s in speakers[:cut] for f in files[s]),
                         tuple(f for s in speakers[cut:] for f in files[s]))


def _notes(root: Path) -> ContentSource:
    from models.data.nsynth_reader import NSynthDataset

    def paths(split: str) -> tuple[Path, ...]:
        return tuple(e.audio_path for e in NSynthDataset(root, split).examples)
    return ContentSource(root, "notes", paths("train"), paths("test") if (root / "test").is_dir() else ())


def _poly(root: Path) -> ContentSource:
    from models.data.poly_reader import read_poly

    return ContentSource(root, "poly", tuple(p.audio_path for p in read_poly(root, "train")),
                         tuple(p.audio_path for p in read_poly(root, "test")))


def content_source(path: str | Path) -> ContentSource:
    """The layout of a content folder and its training / held-out files; a one-line error if it has no audio."""
    root = Path(path)
    if not root.is_dir():
        raise LatentbridgeError(f"{root}: no such content directory")
    if (root / "wav48").is_dir() or (root / "wav48_silence_trimmed").is_dir():
        source = _speech(root)
    elif (root / "phrases.json").is_file():
        source = _poly(root)
    elif (root / "train" / "examples.json").is_file():
        source = _notes(root)
    else:
        files = tuple(sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        source = ContentSource(root, "folder", files, ())
    if not source.train:
        raise LatentbridgeError(f"{root}: no training audio found (VCTK, NSynth notes, poly phrases or audio files)")
    return source


def crop(audio: np.ndarray, length: int, rng: np.random.Generator, tries: int = 4) -> np.ndarray:
    """A random `length`-sample crop (zero-padded if shorter), retried a few times to avoid near-silence."""
    if audio.size <= length:
        return fit_length(audio, length)
    best = audio[:length]
    for _ in range(tries):
        start = int(rng.integers(0, audio.size - length + 1))
        best = audio[start: start + length]
        if float(np.sqrt(np.mean(best.astype(np.float64) ** 2))) > QUIET_RMS:
            break
    return best


def training_clips(sources: list[ContentSource], per_source: int, seconds: float, seed: int) -> np.ndarray:
    """[len(sources) * per_source, seconds * 16 kHz] crops of training files, the same for the same seed."""
    rng = np.random.default_rng(seed)
    length = int(round(seconds * MODEL_RATE))
    clips = []
    for source in sources:
        for index in rng.choice(len(source.train), size=per_source, replace=len(source.train) < per_source):
            clips.append(crop(read_mono(source.train[int(index)]), length, rng))
    return np.stack(clips).astype(np.float32)


def held_out_clips(source: ContentSource, count: int, seconds: float) -> list[tuple[str, np.ndarray]]:
    """(file name, audio) of `count` held-out files spread over the list (the first `seconds` of each)."""
    if not source.held_out:
        return []
    picks = np.linspace(0, len(source.held_out) - 1, count).round().astype(int)
    return [(source.held_out[i].name, read_mono(source.held_out[i])[: int(seconds * MODEL_RATE)])
            for i in dict.fromkeys(picks.tolist())]
