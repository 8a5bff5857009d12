"""Offline rendering of a stem through a preset's chain, exactly as the live engine would play it.

A stem is read at its own rate and channel count; every channel (or mid and side, `stereo="ms"`) runs through
its own fresh chain at the file's rate, in blocks of `blocksize` (the live block size: pedalboard's effects
depend on the block split), after the same priming blocks of silence the engine runs (`Chain.prime`); the chain's
`delay_samples` is compensated (the tail is flushed with silence), so the output keeps the stem's rate,
channel count and exact length. Identical channels are rendered once. Automation breakpoints (time in
seconds, stage, parameter, native value) are applied at their exact sample: a block is split there. An OSC
session recorded by `live --record-osc` (parameter, bypass, target and preset changes, each at the sample it
took effect) replays on the session's `--record-input` file sample for sample.
The result is deterministic: the same stem, preset and settings give bit-identical output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from export.core.audio_io import first_copies
from export.core.errors import LatentbridgeError
from plugin_host.chain import Chain
from plugin_host.control_change import ControlChange, check_automation
from plugin_host.presets import build_chain

Progress = Callable[[int], None]
@dataclass
class RenderSettings:
    blocksize: int = 256
    stereo: str = "independent"  # or "ms": mid and side through separate chains
    automation: list[ControlChange] = field(default_factory=list)


def render_channel(chain: Chain, audio: np.ndarray, settings: RenderSettings,
                   progress: Progress | None = None) -> np.ndarray:
    """Mono [T] at the chain's rate -> the chain's output [T], delay compensated."""
    n, rate = settings.blocksize, chain.rate
    chain.prime(n)
    d = chain.delay_samples
    total = audio.shape[0] + d
    padded = np.concatenate([audio.astype(np.float32), np.zeros(-(-total // n) * n - audio.shape[0], np.float32)])
    marks = sorted(((p.position(rate), p) for p in settings.automation), key=lambda m: m[0])
    out = np.empty_like(padded)
    k = 0
    for start in range(0, padded.shape[0], n):
        end, pos = start + n, start
        while k < len(marks) and marks[k][0] < end:  # breakpoints inside this block: split it there
            at, point = marks[k]
            at = max(at, pos)
            if at > pos:
                out[pos:at] = chain.process(padded[pos:at])
                pos = at
            chain = point.apply(chain)
            k += 1
        out[pos:end] = chain.process(padded[pos:end])
        if progress is not None:  # input samples consumed (the flushed delay tail counts for nothing)
            progress(max(0, min(end, audio.shape[0]) - start))
    return out[d: d + audio.shape[0]]


def render_audio(preset: dict[str, Any], audio: np.ndarray, rate: int, settings: RenderSettings,
                 progress: Progress | None = None) -> np.ndarray:
    """(channels, frames) at `rate` -> the rendered (channels, frames), same shape and rate. `progress` is
    told the input samples done, channels x frames in all (mid and side count as the two channels)."""
    if settings.stereo == "ms":
        if audio.shape[0] != 2:
            raise LatentbridgeError(f"--stereo ms needs a 2-channel stem, this one has {audio.shape[0]}")
        mid, side = 0.5 * (audio[0] + audio[1]), 0.5 * (audio[0] - audio[1])
        m, s = (render_audio(preset, x[None], rate, RenderSettings(settings.blocksize, "independent",
                                                                     settings.automation), progress)[0]
                for x in (mid, side))
        return np.stack([m + s, m - s]).astype(np.float32)
    if settings.stereo != "independent":
        raise LatentbridgeError(f"--stereo must be independent or ms, got {settings.stereo!r}")
    out = np.zeros_like(audio, dtype=np.float32)
    for ch, first in enumerate(first_copies(audio)):
        if first < ch:
            out[ch] = out[first]
            if progress is not None:
                progress(audio.shape[1])
            continue
        chain = build_chain(preset, rate, offline=True)
        check_automation(chain, settings.automation)
        out[ch] = render_channel(chain, audio[ch], settings, progress)
    return out


def model_files(preset: dict[str, Any]) -> dict[str, str]:
    """The ONNX (WaveNet decoder included), bank and style files the preset's chain loads -> their sha256 (for the
    sidecar)."""
    chain = build_chain(preset, 16000, offline=True)
    files: set[Path] = set()
    for stage in chain.stages:
        for attr in ("ae", "graph"):
            thing = getattr(stage, attr, None)
            graphs = thing.graphs.values() if hasattr(thing, "graphs") else ([thing] if thing is not None else [])
            files.update(Path(g.path) for g in graphs)
        for attr in ("bank_path", "style_path"):
            path = getattr(stage, attr, None)
            if path:
                files.add(Path(path))
        wavenet = getattr(stage, "wavenet", None)
        if wavenet is not None:
            files.add(Path(wavenet.path))
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files) if f.is_file()}
