"""The live engine: a duplex stream whose callback only moves blocks between lock-free rings, and a worker
thread that runs the processing chain `prefill` blocks ahead of playback.

Device audio is float32 [blocksize, channels] at the device rate; the chain runs on the mono mix at the same
rate (its neural stages resample to 16 kHz inside) and its output goes to every output channel. Block n of
input is played back as block n + prefill, so the added latency is prefill * blocksize + the chain's
`delay_samples`. When the worker has not delivered a block in time the callback plays the dry input
instead, with a short crossfade on the way out and back in, and counts a late block: never silence, never a
click, never a wait. After a stall the worker skips the blocks whose output is already due (counted as
`skipped`), so the engine is back on time after the stall rather than after a long catch-up. Status
(xruns, late blocks, CPU load, worker time per block, latency) is read with `status()` from any thread.
The stream is the native one (`audio_backend="native"`: a C callback that never takes the interpreter lock,
`realtime/native_stream.py`) or sounddevice's with the Python callback (`realtime/callback.py`), which
`bench stream` also drives from its own clock; both play and count the same, sample for sample.
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from export.core.errors import LatentbridgeError
from plugin_host.chain import PRIME_BLOCKS, Chain
from realtime.block_ring import BlockRing, Blocks
from realtime.callback import CallbackCounts, PythonCallback, realtime_priority
from realtime.control_log import ControlLog, PendingChange, preset_row
from realtime.devices import open_error, portaudio_messages
from realtime.recorder import Recorder

if TYPE_CHECKING:
    from realtime.midi_input import MidiRouter

SLOTS = 64
BACKENDS = ("native", "sounddevice")
CPU_HISTORY = 1 << 16  # blocks of worker CPU time kept, to tell a late block's cause
# SCHED_FIFO levels where allowed (root or an rtprio limit). The callback is short and runs when the audio
# server says, so it goes over everything. The worker computes for most of a block: it goes under the audio
# server's own threads (a real-time JACK runs at 10 by default, its clients just under) so it can never delay
# a cycle of the server or of another client, yet over every ordinary thread; it has `prefill` blocks of slack.
# The helpers go under the worker (they share the interpreter lock: one preempted while holding it stalls it).
WORKER_PRIORITY, CALLBACK_PRIORITY, HELPER_PRIORITY = 2, 70, 1


@dataclass
class EngineConfig:
    samplerate: int = 48000
    blocksize: int = 256
    channels: int = 1
    input_device: int | None = None
    output_device: int | None = None
    prefill: int = 4  # blocks the worker runs ahead of playback (stall tolerance: about prefill - 1 periods)
    crossfade: int = 64  # samples of fade between wet and dry
    audio_backend: str = "native"  # the stream `start()` opens: "native" (C callback) or "sounddevice"


class Engine:
    """See the module docstring. `chain_lock` guards swapping the chain (preset load) against the worker."""

    def __init__(self, chain: Chain, config: EngineConfig, recorder: Recorder | None = None,
                 input_recorder: Recorder | None = None, control_log: ControlLog | None = None,
                 midi: MidiRouter | None = None) -> None:
        if config.prefill < 1 or config.prefill >= SLOTS // 2:
            raise LatentbridgeError(f"prefill must be in [1, {SLOTS // 2 - 1}] blocks, got {config.prefill}")
        if chain.rate != config.samplerate:
            raise LatentbridgeError(f"the chain runs at {chain.rate} Hz, the device at {config.samplerate} Hz")
        if config.audio_backend not in BACKENDS:
            raise LatentbridgeError(f"audio backend must be one of {', '.join(BACKENDS)}, got {config.audio_backend}")
        self.chain, self.config, self.recorder, self.input_recorder = chain, config, recorder, input_recorder
        self.chain_lock = threading.Lock()
        self.control_log = control_log
        self.midi = midi  # MIDI in: drained by the worker at the start of each block (jitter <= one block)
        self.changes: queue.SimpleQueue[PendingChange] = queue.SimpleQueue()  # applied by the worker between blocks
        self.next_block = 0  # the block the worker processes next (kept under chain_lock)
        n = config.blocksize
        rings = BlockRing(SLOTS, n), BlockRing(SLOTS, n)
        self.inputs: Blocks = rings[0]  # the native stream's own rings once it is open
        self.outputs: Blocks = rings[1]
        fade = min(config.crossfade, n)
        self.fade_in = np.concatenate([np.linspace(0.0, 1.0, fade, dtype=np.float32), np.ones(n - fade, np.float32)])
        self.period = config.blocksize / config.samplerate
        # the sounddevice callback (also called by `bench stream`'s clock); `counts` is whichever callback runs
        self.callback = PythonCallback(n, config.samplerate, config.prefill, self.fade_in, rings[0], rings[1],
                                       recorder, input_recorder, CALLBACK_PRIORITY)
        self.counts: CallbackCounts = self.callback
        self.audio_backend: str | None = None  # the stream's, once started
        self.worker_cpu = np.zeros(CPU_HISTORY)  # the worker's CPU time per block / the block period
        self.skipped = 0
        self.worker_times: list[float] = []
        self.worker_max = 0.0
        self.processed = 0
        self.primed_samples = 0
        self.worker_realtime = False
        self.gc_max_ms, self._gc_start = 0.0, 0.0
        self._running = threading.Event()
        self._worker: threading.Thread | None = None
        self.stream: Any = None  # sounddevice's Stream or the native one

    # -- what the callback counts (its own thread writes it; read from any thread) -----------------------------
    @property
    def seq(self) -> int:
        return int(self.counts.seq)

    @property
    def late(self) -> int:
        return int(self.counts.late)

    @property
    def xruns(self) -> int:
        return int(self.counts.xruns)

    @property
    def late_at(self) -> list[int]:
        return list(self.counts.late_at)

    @property
    def xrun_at(self) -> list[int]:
        return list(self.counts.xrun_at)

    @property
    def gaps(self) -> list[tuple[int, float]]:
        return list(self.counts.gaps)

    @property
    def callback_overruns(self) -> list[int]:
        return list(self.counts.callback_overruns)

    @property
    def overrun_count(self) -> int:
        return int(self.counts.overrun_count)

    @property
    def callback_realtime(self) -> bool | None:
        return self.counts.callback_realtime

    # -- worker thread -------------------------------------------------------------------------------------
    def _work(self) -> None:
        period = self.period
        self.worker_realtime = realtime_priority(WORKER_PRIORITY)
        next_seq = 0
        prefill = self.config.prefill
        while self._running.is_set():
            on_time = self.inputs.newest + 1 - prefill  # the oldest block whose output can still be played
            if next_seq < on_time:
                # after a stall, blocks whose output is already due would be played dry anyway: skip them
                # (the chain hears a jump in its input while the dry signal plays) and catch up at once
                self.skipped += on_time - next_seq
                next_seq = self.next_block = on_time
            block = self.inputs.get(next_seq)
            if block is None:
                time.sleep(period / 16)
                continue
            start, cpu = time.perf_counter(), time.thread_time()
            with self.chain_lock:
                self._apply_changes(next_seq)
                out = self.chain.process(block[:, 0])
                self.next_block = next_seq + 1
            self.outputs.put(next_seq, out)
            spent = time.perf_counter() - start
            self.worker_cpu[next_seq % CPU_HISTORY] = (time.thread_time() - cpu) / period
            self.worker_times.append(spent / period)
            if len(self.worker_times) > 20000:
                del self.worker_times[:10000]
            self.worker_max = max(self.worker_max, spent / period)
            self.processed += 1
            next_seq += 1

    def _apply_changes(self, seq: int) -> None:
        while True:
            try:
                change = self.changes.get_nowait()
            except queue.Empty:
                break
            self._apply(change, seq)
        if self.midi is not None:
            for change in self.midi.take(self.chain):
                self._apply(change, seq)

    def _apply(self, change: PendingChange, seq: int) -> None:
        row = change(self.chain)
        if row is not None and self.control_log is not None:
            self.control_log.add(seq * self.config.blocksize, row)

    # -- control -------------------------------------------------------------------------------------------
    def defer(self, change: PendingChange) -> None:
        """Apply a control change just before the next block the worker processes (logged at its first sample)."""
        self.changes.put(change)

    def start_worker(self) -> None:
        """Start the worker (without a stream: `bench stream` calls `callback` from its own clock)."""
        gc.collect()
        gc.freeze()  # everything built so far (models, chain, tables) leaves the collector's view: short pauses
        gc.callbacks.append(self._gc_timer)
        sys.setswitchinterval(0.0005)  # the worker and callback must not wait 5 ms for the GIL under OSC load
        self._running.set()
        self._worker = threading.Thread(target=self._work, name="latentbridge-worker", daemon=True)
        self._worker.start()

    def start(self) -> None:
        """Open the stream of `config.audio_backend`, start the worker, then the stream."""
        if self.config.audio_backend == "native":
            self._open_native()
            self.start_worker()
            try:
                self.stream.start()
            except OSError as exc:
                self._running.clear()
                raise LatentbridgeError(f"cannot start the audio device: {exc}") from exc
            return
        import sounddevice as sd

        cfg = self.config
        self.start_worker()
        try:
            with portaudio_messages() as said:
                self.stream = sd.Stream(device=(cfg.input_device, cfg.output_device), samplerate=cfg.samplerate,
                                        blocksize=cfg.blocksize, channels=cfg.channels, dtype="float32",
                                        callback=self.callback, latency="low")
                self.stream.start()
        except sd.PortAudioError as exc:
            self._running.clear()
            raise open_error(exc, said) from exc
        self.audio_backend = "sounddevice"

    def _open_native(self) -> None:
        """The native stream replaces the Python callback's rings and counters, and feeds the recorders."""
        from realtime import native_stream as ns

        cfg = self.config
        taps = [r.ring.slots if r is not None else 0 for r in (self.recorder, self.input_recorder)]
        self.stream = ns.open_stream(cfg.input_device, cfg.output_device, cfg.samplerate, cfg.blocksize, cfg.channels,
                                     cfg.prefill, SLOTS, self.fade_in, (taps[0], taps[1]), CALLBACK_PRIORITY)
        self.inputs = ns.NativeRing(self.stream, ns.INPUT, cfg.blocksize)
        self.outputs = ns.NativeRing(self.stream, ns.OUTPUT, cfg.blocksize)
        for recorder, which in ((self.recorder, ns.RECORDED_OUTPUT), (self.input_recorder, ns.RECORDED_INPUT)):
            if recorder is not None:
                recorder.source = ns.NativeRing(self.stream, which, cfg.blocksize, cfg.channels)
        self.counts = self.stream
        self.audio_backend = "native"

    def _gc_timer(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_max_ms = max(self.gc_max_ms, 1000 * (time.perf_counter() - self._gc_start))

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()
        self._running.clear()
        if self._worker is not None:
            self._worker.join(timeout=2)
        if self._gc_timer in gc.callbacks:
            gc.callbacks.remove(self._gc_timer)
        for recorder in (self.recorder, self.input_recorder):
            if recorder is not None:
                recorder.close()
        if self.control_log is not None:
            self.control_log.close(self.primed_samples)

    def warm_up(self, spare: Chain, seconds: float = 1.0, prime_blocks: int = PRIME_BLOCKS) -> None:
        """Run a spare chain of the same preset on silence, so the shared ONNX sessions are warm before the
        first real block (their first calls are slow), then the engine's own chain on `prime_blocks` blocks of
        silence (its first calls are slow too); `primed_samples` in the status says how many, so an offline run
        that starts with as much silence matches the live one sample for sample."""
        n = self.config.blocksize
        spare.prime(n, int(seconds * self.config.samplerate) // n)
        self.primed_samples = self.chain.prime(n, prime_blocks)

    def swap_chain(self, chain: Chain, preset: str = "") -> None:
        """Replace the chain (a preset load) between two worker blocks; the rate must match."""
        if chain.rate != self.config.samplerate:
            raise LatentbridgeError(f"the new chain runs at {chain.rate} Hz, the device at {self.config.samplerate}")
        with self.chain_lock:
            self.chain = chain
            if self.control_log is not None:
                self.control_log.add(self.next_block * self.config.blocksize, preset_row(preset))

    def late_cpu_bound(self) -> list[int]:
        """The late blocks the worker's own work explains: in the 2 * prefill blocks before, its CPU time
        added up to more than the write-ahead. The others came late because the worker did not get the CPU
        (a stalled core), which no buffer shorter than the stall hides."""
        p = self.config.prefill
        return [b for b in self.late_at
                if self.worker_cpu[np.arange(b - 2 * p, b) % CPU_HISTORY].sum() > p]

    def take_peak_db(self) -> float:
        """The output's peak level in dBFS since the last call (the meter)."""
        return 20.0 * float(np.log10(max(self.counts.take_peak(), 1e-6)))

    @property
    def added_latency_samples(self) -> int:
        return self.config.prefill * self.config.blocksize + self.chain.delay_samples

    def status(self) -> dict[str, Any]:
        times = np.array(self.worker_times[-5000:] or [0.0])
        cfg = self.config
        device_ms, cpu_load = None, 0.0
        if self.audio_backend == "native":
            device_ms = round(1000 * sum(self.stream.latency()), 2)
            cpu_load = float(self.stream.cpu_load())
        elif self.stream is not None:
            device_ms = round(1000 * (self.stream.latency[0] + self.stream.latency[1]), 2)
            cpu_load = float(self.stream.cpu_load)
        return {
            "preset": self.chain.name, "samplerate": cfg.samplerate, "blocksize": cfg.blocksize,
            "audio_backend": self.audio_backend,
            "blocks": self.seq, "processed": self.processed, "late_blocks": self.late, "xruns": self.xruns,
            "skipped": self.skipped, "late_at_block": self.late_at, "xrun_at_block": self.xrun_at,
            "callback_gaps_ms": self.gaps, "callback_overruns": self.callback_overruns,
            "callback_overrun_count": self.overrun_count,
            "late_cpu_bound": self.late_cpu_bound(),
            "realtime_priority": {"worker": self.worker_realtime, "callback": bool(self.callback_realtime)},
            "primed_samples": self.primed_samples, "gc_max_ms": round(self.gc_max_ms, 2),
            "cpu_load": round(cpu_load, 4),
            "added_latency_samples": self.added_latency_samples,
            "added_latency_ms": round(1000 * self.added_latency_samples / cfg.samplerate, 2),
            "device_latency_ms": device_ms,
            "worker_fraction": {"mean": round(float(times.mean()), 4),
                                "p99": round(float(np.quantile(times, 0.99)), 4),
                                "max": round(float(self.worker_max), 4)},
            "chain": self.chain.describe(),
            "midi": self.midi.status(self.chain) if self.midi is not None else None,
        }
