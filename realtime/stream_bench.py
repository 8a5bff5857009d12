"""`latentbridge bench stream`: each preset's chain in the live engine, driven by a simulated device clock
(a thread that calls the engine's audio callback every block period with the bundled guitar phrase, looped,
at the device rate), so it runs on any machine without an audio server. Per preset: the added latency, the
worker's time per block as a fraction of the block period (mean, p99, max), late blocks, and the RSS growth
of the process over the run. All presets are measured in one run, one after another, `morph-tagged` included:
its tagger stage hands a snapshot to its own thread every 0.5 s, so that ONNX call shares the CPUs with the
worker but is not part of the worker's time per block. A preset with a `midi_pad` stage is played by
`ChordLoop`: a new chord of as many notes as the pad has voices every half second, each struck while the last
one still sounds (so every voice is busy and stealing runs), on top of the looped phrase.
A stage with poly voices runs their analysis (tracker, spectra, allocator) on its own thread beside the encoder
(`PolySynth.prefetch`); with `serial_analysis`, every such preset runs a second time, right after, with that
analysis on the worker thread (row `analysis`: `thread` or `worker`), so the two are measured side by side.
"""

from __future__ import annotations

import resource
import threading
from typing import Any

import numpy as np

from export.core.audio_io import read_mono, resample
from export.onnx.bundled import BUNDLED_DIR
from plugin_host.chain import Chain
from plugin_host.midi_pad_stage import MidiPadStage
from plugin_host.neural_stage import ResynthStage
from plugin_host.presets import bundled_names, load_chain
from realtime import sim_clock
from realtime.engine import Engine, EngineConfig
from realtime.midi_input import MidiRouter

CHORD_ROOTS = (48, 53, 55, 50)  # C, F, G, D: stacked thirds from each


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def phrase(rate: int) -> np.ndarray:
    return resample(read_mono(BUNDLED_DIR / "demo_guitar_phrase.wav"), 16000, rate).astype(np.float32)


def run_clock(engine: Engine, audio: np.ndarray, seconds: float) -> sim_clock.ClockRun:
    """Call `engine.callback` every block period for `seconds` with `audio` looped, as a sound card would (on the
    calling thread; a machine stall pauses this clock with the engine: see `realtime.sim_clock`)."""
    n = engine.config.blocksize
    return sim_clock.run(engine, sim_clock.Looped(audio, int(seconds * engine.config.samplerate / n), n), keep=False)


class ChordLoop:
    """A scripted MIDI source for `MidiRouter`: each `drain()` is one block; every `every` blocks the previous
    chord is released and the next struck (`notes` notes, stacked thirds over the next root, velocity 100)."""

    port, api = "bench chord loop", "script"

    def __init__(self, notes: int, every: int) -> None:
        self.notes, self.every = notes, every
        self.blocks = self.received = 0
        self.sounding: list[int] = []

    def drain(self) -> list[tuple[bytes, float]]:
        got: list[bytes] = []
        if self.blocks % self.every == 0:
            root = CHORD_ROOTS[(self.blocks // self.every) % len(CHORD_ROOTS)]
            chord = [root + 12 * (i // 4) + (0, 4, 7, 11)[i % 4] for i in range(self.notes)]
            got += [bytes((0x90, n, 100)) for n in chord]
            got += [bytes((0x80, n, 0)) for n in self.sounding]
            self.sounding = chord
        self.blocks += 1
        self.received += len(got)
        return [(m, 0.0) for m in got]

    def close(self) -> None:
        self.sounding = []


def voices_of(chain: Chain) -> dict[str, int]:
    """Voices per neural stage: a midi_pad's, a poly resynth/morph's most voices, 1 for a mono one."""
    out = {}
    for stage in chain.stages:
        if isinstance(stage, MidiPadStage):
            out[stage.name] = stage.decoder.voices
        elif isinstance(stage, ResynthStage):
            out[stage.name] = stage.poly.config.voices if stage.poly.mode == "poly" else 1
    return out


def midi_voices(chain: Chain) -> int:
    """The voices of the chain's first midi_pad stage (0 when it has none)."""
    return next((s.decoder.voices for s in chain.stages if isinstance(s, MidiPadStage)), 0)


def poly_stages(chain: Chain) -> list[ResynthStage]:
    """The chain's resynth/morph stages whose voices prefetch their analysis (poly voices, harmonic decoder)."""
    return [s for s in chain.stages if isinstance(s, ResynthStage) and s.stream.prefetch is not None
            and s.poly.mode == "poly"]


def bench_stream(presets: list[str] | None = None, seconds: float = 20.0, samplerate: int = 48000,
                 blocksize: int = 256, prefill: int = 4, serial_analysis: bool = False) -> list[dict[str, Any]]:
    rows = []
    audio = phrase(samplerate)
    for name in presets or bundled_names():
        rows.append(bench_preset(name, audio, seconds, samplerate, blocksize, prefill, serial=False))
        if serial_analysis and rows[-1]["analysis"] == "thread":
            rows.append(bench_preset(name, audio, seconds, samplerate, blocksize, prefill, serial=True))
    return rows


def bench_preset(name: str, audio: np.ndarray, seconds: float, samplerate: int, blocksize: int, prefill: int,
                 serial: bool) -> dict[str, Any]:
    """One preset's row (see the module docstring); `serial`: its poly voices analyse on the worker thread."""
    chain = load_chain(name, samplerate)
    analysis = "thread" if poly_stages(chain) else "none"
    if serial:
        for stage in poly_stages(chain):
            stage.stream.prefetch = None
        analysis = "worker"
    pad = midi_voices(chain)
    midi = MidiRouter(ChordLoop(pad, max(1, samplerate // (2 * blocksize)))) if pad else None
    engine = Engine(chain, EngineConfig(samplerate, blocksize, prefill=prefill), midi=midi)
    engine.warm_up(load_chain(name, samplerate))
    before = rss_mb()
    engine.start_worker()
    clock = threading.Thread(target=run_clock, args=(engine, audio, seconds), name="clock")
    clock.start()
    clock.join()
    engine.stop()
    status = engine.status()
    return {"preset": name, "analysis": analysis, "seconds": seconds, "samplerate": samplerate,
            "blocksize": blocksize, "prefill": prefill, "added_latency_ms": status["added_latency_ms"],
            "chain_delay_samples": status["chain"]["delay_samples"],
            "worker_fraction": status["worker_fraction"], "late_blocks": status["late_blocks"],
            "blocks": status["blocks"], "realtime_priority": status["realtime_priority"],
            "voices": voices_of(chain), "midi_messages": status["midi"]["received"] if midi else 0,
            "output_peak_db": round(engine.take_peak_db(), 1), "rss_growth_mb": round(rss_mb() - before, 2)}
