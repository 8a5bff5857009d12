"""Audio file I/O, validation, resampling and atomic output paths, all through `pedalboard.io`.

Arrays are float32, shaped (channels, frames), in [-1, 1]; `MODEL_RATE` (16 kHz) is the
rate every model runs at. Outputs are written to a temporary file and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from export.core.errors import LatentbridgeError

MODEL_RATE = 16000
BIT_DEPTHS = {"wav16": 16, "wav24": 24, "wav32f": 32}
FORMAT_SUFFIX = {"wav16": ".wav", "wav24": ".wav", "wav32f": ".wav", "flac": ".flac"}  # output format -> suffix


def check_audio(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Return `audio` as float32 (channels, frames); reject empty, non-finite or badly shaped input."""
    arr = np.asarray(audio)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise LatentbridgeError(f"{name}: expected (channels, frames) audio, got shape {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[0] == 0:
        raise LatentbridgeError(f"{name}: audio is empty (0 samples)")
    if not np.all(np.isfinite(arr)):
        raise LatentbridgeError(f"{name}: audio contains NaN or Inf samples")
    return arr.astype(np.float32, copy=False)


def read_audio(path: str | os.PathLike[str], sample_rate: int | None = None,
               mono: bool = False) -> tuple[np.ndarray, int]:
    """Read any format pedalboard reads; optionally resample to `sample_rate` and mix to mono.

    A truncated WAV or AIFF (its header promises more frames than the file holds) is read as far as its data goes,
    with a one-line warning on stderr; pedalboard alone would pad it with silence to the header's length. A file
    of 0 frames is empty audio (one-line error, as for every empty input)."""
    from pedalboard.io import AudioFile

    p = Path(path)
    if not p.is_file():
        raise LatentbridgeError(f"{p}: no such audio file")
    try:
        with AudioFile(str(p)) as f:
            native, frames = float(f.samplerate), int(f.frames)
            held = frames_held(p)
            if held is not None and held[1] < frames:
                if held[0] is not None:  # None: a streaming writer's "length unknown" placeholder, not truncation
                    warn(f"{p}: truncated: the header says {frames / native:.3f} s, the data holds "
                         f"{held[1] / native:.3f} s; reading {held[1] / native:.3f} s")
                frames = held[1]
            # pedalboard refuses read(0) ("will not read an entire file at once"): a 0-frame file is empty audio
            audio = f.read(frames) if frames > 0 else np.zeros((f.num_channels, 0), np.float32)
    except LatentbridgeError:
        raise
    except Exception as exc:  # pedalboard raises several unrelated types for corrupt files
        raise LatentbridgeError(f"{p}: cannot decode audio ({exc})") from exc
    audio = check_audio(audio, str(p))
    rate = int(round(native))
    if sample_rate and native != sample_rate:  # the same samples as pedalboard's resampled_to reader gives
        audio, rate = resample(audio, native, sample_rate), int(sample_rate)
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    return audio, rate


def warn(message: str) -> None:
    """One warning line on stderr, in the style of the CLI's error lines."""
    print(f"latentbridge: warning: {message}", file=sys.stderr, flush=True)


WAV_SAMPLE_FORMATS = (1, 3, 6, 7)  # PCM, IEEE float, A-law, mu-law: one block_align per frame
UNKNOWN_SIZE = 0xFFFFFFFF  # what streaming writers leave in a data chunk's size when they cannot seek back
AIFC_SAMPLE_FORMATS = {b"NONE": 0, b"sowt": 0, b"twos": 0, b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8}


def frames_held(path: Path) -> tuple[int | None, int] | None:
    """For an uncompressed WAV (RIFF, RF64) or AIFF/AIFC: (frames its header declares, whole frames of them the
    file really holds); declared is None when the size is a streaming writer's "unknown" placeholder. None for
    any other file (another format, compressed samples, no sample chunk): left to the decoder."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(12)
            if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
                return _wav_frames(fh, size, head[:4] == b"RF64")
            if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                return _aiff_frames(fh, size)
    except (OSError, struct.error):
        return None
    return None


def _wav_frames(fh: BinaryIO, size: int, rf64: bool) -> tuple[int | None, int] | None:
    pos, block, tag, data64 = 12, 0, None, None
    while pos + 8 <= size:
        fh.seek(pos)
        chunk, length = struct.unpack("<4sI", fh.read(8))
        body = fh.read(min(length, 40)) if chunk in (b"fmt ", b"ds64") else b""
        if chunk == b"ds64" and len(body) >= 16:
            data64 = struct.unpack("<Q", body[8:16])[0]  # after the 64-bit RIFF size
        elif chunk == b"fmt " and len(body) >= 14:
            tag, _, _, _, block = struct.unpack("<HHIIH", body[:14])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the tag opens the GUID
                tag = struct.unpack("<H", body[24:26])[0]
        elif chunk == b"data":
            if tag not in WAV_SAMPLE_FORMATS or block <= 0:
                return None
            declared: int | None = length
            if length == UNKNOWN_SIZE:
                declared = data64 if rf64 else None
            there = size - (pos + 8)
            return (None if declared is None else declared // block,
                    min(there, declared if declared is not None else there) // block)
        pos += 8 + length + (length & 1)  # chunks are padded to an even size
    return None


def _aiff_frames(fh: BinaryIO, size: int) -> tuple[int | None, int] | None:
    pos, declared, frame_bytes = 12, None, 0
    while pos + 8 <= size:
        fh.seek(pos)
        chunk, length = struct.unpack(">4sI", fh.read(8))
        if chunk == b"COMM":
            body = fh.read(min(length, 22))
            if len(body) < 18:
                return None
            channels, declared, bits = struct.unpack(">hIh", body[:8])
            width = AIFC_SAMPLE_FORMATS.get(body[18:22], -1) if len(body) >= 22 else 0
            if width < 0:  # compressed AIFC
                return None
            frame_bytes = channels * (width or (bits + 7) // 8)
        elif chunk == b"SSND":
            if declared is None or frame_bytes <= 0 or pos + 16 > size:
                return None
            offset = struct.unpack(">I", fh.read(4))[0]
            there = min(length - 8 - offset, size - (pos + 16 + offset))
            return declared, max(0, min(declared, there // frame_bytes))
        pos += 8 + length + (length & 1)
    return None


def read_mono(path: str | os.PathLike[str], sample_rate: int = MODEL_RATE) -> np.ndarray:
    """Read a file as a 1-D float32 mono signal at `sample_rate` (16 kHz by default)."""
    audio, _ = read_audio(path, sample_rate=sample_rate, mono=True)
    return audio[0]


def mono_at(audio: np.ndarray, rate: int, target_rate: int = MODEL_RATE) -> np.ndarray:
    """The mono mix of (channels, frames) audio at `rate`, resampled to `target_rate`: float32 [T]."""
    return resample(np.asarray(audio).mean(axis=0), rate, target_rate).astype(np.float32)


def fit_length(x: np.ndarray, frames: int) -> np.ndarray:
    """Cut or zero-pad 1-D `x` to exactly `frames` samples."""
    return x[:frames] if x.shape[0] >= frames else np.pad(x, (0, frames - x.shape[0]))


def check_outputs(outputs: list[Path], inputs: list[Path], force: bool) -> None:
    """One-line errors before any work: an output that is one of the inputs, or exists without `force`."""
    for path in outputs:
        if any(path.resolve() == p.resolve() for p in inputs if p.exists()):
            raise LatentbridgeError(f"{path}: is an input file; choose another output")
        if path.exists() and not force:
            raise LatentbridgeError(f"{path}: already exists (use --force to overwrite)")


def resample(audio: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """Resample (channels, frames) or (frames,) audio; the output is time-aligned with the input."""
    from pedalboard.io import StreamResampler

    if source_rate == target_rate:
        return np.asarray(audio, dtype=np.float32)
    arr = check_audio(audio)
    resampler = StreamResampler(source_rate, target_rate, arr.shape[0])
    out = np.concatenate([resampler.process(arr), resampler.process(None)], axis=1)
    return out[0] if np.ndim(audio) == 1 else out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds."""
    target = Path(path)
    if target.exists() and not force:
        raise LatentbridgeError(f"{target}: already exists (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix or ".tmp",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; outputs get the usual permissions
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int,
                fmt: str = "wav16", force: bool = False) -> Path:
    """Write audio atomically; `fmt` is wav16, wav24, wav32f or flac (24-bit)."""
    from pedalboard.io import AudioFile

    arr = check_audio(audio, str(path))
    target = Path(path)
    if fmt not in FORMAT_SUFFIX:
        raise LatentbridgeError(f"unknown audio format {fmt!r} (choose wav16, wav24, wav32f or flac)")
    bit_depth, suffix = BIT_DEPTHS.get(fmt, 24), FORMAT_SUFFIX[fmt]
    if target.suffix.lower() != suffix:
        raise LatentbridgeError(f"{target}: format {fmt} needs a {suffix} file name")
    over = int(np.count_nonzero(np.abs(arr) > 1.0)) if bit_depth < 32 else 0
    with atomic_output(target, force=force) as tmp:
        with AudioFile(str(tmp), "w", samplerate=sample_rate, num_channels=arr.shape[0],
                       bit_depth=bit_depth) as f:
            f.write(np.clip(arr, -1.0, 1.0) if over else arr)
    if over:
        peak_db = 20.0 * np.log10(float(np.abs(arr).max()))
        warn(f"{target}: {over} samples over full scale (peak +{peak_db:.1f} dBFS) were clipped; the wav32f "
             "format keeps them")
    return target


def first_copies(audio: np.ndarray) -> list[int]:
    """For every channel of (channels, frames) audio, the first channel with the same samples (itself if none)."""
    return [next(k for k in range(ch + 1) if np.array_equal(audio[ch], audio[k])) for ch in range(audio.shape[0])]


def distinct_channels(audio: np.ndarray) -> int:
    """How many channels differ from every earlier one (the work `morph` will do)."""
    return sum(1 for ch, first in enumerate(first_copies(audio)) if first == ch)
