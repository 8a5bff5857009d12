"""A decoded-audio cache for training: files read once at 16 kHz into one memory-mapped float32 array.

`directory/audio.npy` [N, samples] (each file cut or zero-padded to `samples`), `lengths.npy` [N] (samples
kept from each file) and `meta.json` holding a key of the file list and length, so a cache built for other
files is rebuilt rather than reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.progress import bar


def audio_cache(paths: Sequence[Path], samples: int, directory: Path, what: str = "audio") -> np.ndarray:
    """[len(paths), samples] float32 memmap of the files' first `samples` samples at 16 kHz (built once)."""
    return cached_audio(paths, samples, directory, what)[0]


def cached_audio(paths: Sequence[Path], samples: int, directory: Path,
                 what: str = "audio") -> tuple[np.ndarray, np.ndarray]:
    """(audio memmap [N, samples], lengths [N]): see the module docstring."""
    key = hashlib.sha256(json.dumps({"paths": [str(p) for p in paths], "samples": samples}).encode()).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    meta, data, lengths_path = directory / "meta.json", directory / "audio.npy", directory / "lengths.npy"
    if meta.is_file() and data.is_file() and json.loads(meta.read_text()).get("key") == key:
        return np.load(data, mmap_mode="r"), np.load(lengths_path)
    meta.unlink(missing_ok=True)
    tmp = directory / ".audio.tmp.npy"
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(paths), samples))
    lengths = np.zeros(len(paths), dtype=np.int64)
    with bar(f"caching {what}", total=len(paths), unit="file") as progress:
        for i, path in enumerate(paths):
            wav = read_mono(path, MODEL_RATE)[:samples]
            array[i, : wav.shape[0]] = wav
            lengths[i] = wav.shape[0]
            array[i, wav.shape[0]:] = 0.0
            progress.update(1)
    array.flush()
    del array
    os.replace(tmp, data)
    np.save(lengths_path, lengths)
    tmp_meta = directory / ".meta.tmp.json"
    tmp_meta.write_text(json.dumps({"key": key, "files": len(paths), "samples": samples}))
    os.replace(tmp_meta, meta)
    return np.load(data, mmap_mode="r"), lengths
