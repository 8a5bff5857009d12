"""The engine's audio callback in Python (sounddevice's callback, and `bench stream`'s simulated clock): it only
copies blocks between the engine's rings, plays the dry input when the worker is late, and counts.

Blocks are float32 [blocksize, channels] at the device rate; the rings hold the mono mix [blocksize, 1]. Input
block seq is played back as block seq + prefill. The native stream (`realtime/native/audio_stream.c`) does the
same in C, sample for sample, and counts the same things under the same names (see `CallbackCounts`).
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

import numpy as np

from realtime.block_ring import BlockRing
from realtime.recorder import Recorder

LISTED = 64  # block numbers kept of late blocks, xruns, device-clock gaps and callback overruns


def realtime_priority(level: int) -> bool:
    """Put the calling thread under SCHED_FIFO at `level`; False where the system does not allow it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(level))
    except (AttributeError, OSError):
        return False
    return True


class CallbackCounts(Protocol):
    """What an audio callback counts, read from any thread (the Python callback's fields or the native stream's)."""

    @property
    def seq(self) -> int: ...  # blocks played
    @property
    def late(self) -> int: ...
    @property
    def xruns(self) -> int: ...
    @property
    def late_at(self) -> list[int]: ...
    @property
    def xrun_at(self) -> list[int]: ...
    @property
    def callback_overruns(self) -> list[int]: ...  # the first LISTED blocks
    @property
    def overrun_count(self) -> int: ...  # every callback overrun
    @property
    def gaps(self) -> list[tuple[int, float]]: ...  # (block, ms) where callbacks came late: the device stalled
    @property
    def callback_realtime(self) -> bool | None: ...  # SCHED_FIFO on the callback's thread; None before a call

    def take_peak(self) -> float: ...  # the output's peak (linear) since the last call


class PythonCallback:
    """`__call__` is a sounddevice duplex callback; its thread goes under SCHED_FIFO `priority` at the first call."""

    def __init__(self, blocksize: int, samplerate: int, prefill: int, fade_in: np.ndarray, inputs: BlockRing,
                 outputs: BlockRing, recorder: Recorder | None, input_recorder: Recorder | None,
                 priority: int) -> None:
        self.blocksize, self.prefill, self.fade_in = blocksize, prefill, fade_in
        self.inputs, self.outputs, self.recorder, self.input_recorder = inputs, outputs, recorder, input_recorder
        self.priority = priority
        self.period = blocksize / samplerate
        self.seq = 0
        self.was_dry = True
        self.last_out = 0.0
        self.peak = 0.0
        self.last_callback = 0.0
        self.gaps: list[tuple[int, float]] = []
        self.callback_overruns: list[int] = []
        self.overrun_count = 0
        self.late = self.xruns = 0
        self.late_at: list[int] = []  # block numbers of the first late blocks and xruns (diagnostics)
        self.xrun_at: list[int] = []
        self.callback_realtime: bool | None = None

    def __call__(self, indata: np.ndarray, outdata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        if self.callback_realtime is None:  # first call, on PortAudio's thread
            self.callback_realtime = realtime_priority(self.priority)
        now = time.perf_counter()
        gap = now - self.last_callback
        self.last_callback = now
        if gap > 2.5 * self.period and self.seq > 0 and len(self.gaps) < LISTED:  # the device clock stalled
            self.gaps.append((self.seq, round(1000 * gap, 1)))
        if status and (status.input_overflow or status.input_underflow or status.output_underflow
                       or status.output_overflow):
            self.xruns += 1
            if len(self.xrun_at) < LISTED:
                self.xrun_at.append(self.seq)
        if frames != self.blocksize:  # PortAudio keeps the size fixed; be safe anyway
            outdata[:] = indata[:, :1] if indata.shape[1] else 0.0
            self.late += 1
            return
        dry = indata[:, 0] if indata.shape[1] == 1 else indata.mean(axis=1)
        seq = self.seq
        self.inputs.put(seq, dry)
        wet = self.outputs.get(seq - self.prefill) if seq >= self.prefill else None
        if wet is None:
            if seq >= self.prefill:
                self.late += 1
                if len(self.late_at) < LISTED:
                    self.late_at.append(seq)
            out = dry.astype(np.float32)
            if not self.was_dry:  # fade from the last wet sample into the dry signal
                out = self.last_out * (1.0 - self.fade_in) + out * self.fade_in
            self.was_dry = True
        else:
            out = wet[:, 0]
            if self.was_dry:
                out = dry * (1.0 - self.fade_in) + out * self.fade_in
            self.was_dry = False
        self.last_out = float(out[-1])
        self.peak = max(self.peak, float(np.abs(out).max()))  # the meter: reset by whoever reads it
        outdata[:] = out[:, None]
        if self.recorder is not None:
            self.recorder.ring.put(seq, outdata)
        if self.input_recorder is not None:
            self.input_recorder.ring.put(seq, indata)
        self.seq = seq + 1
        if time.perf_counter() - now > 0.5 * self.period:  # the callback itself took too long: the engine's fault
            self.overrun_count += 1
            if len(self.callback_overruns) < LISTED:
                self.callback_overruns.append(seq)

    def take_peak(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak
