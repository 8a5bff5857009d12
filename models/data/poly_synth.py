"""Rendering a `dataset poly` MIDI file with tinysoundfont: all channels mixed, one fixed gain, peak-safe.

Output is float32 mono at 16 kHz, `length` samples, events sample-accurate. Every render starts from a silent synth
with reset controllers and pitch wheels, so a phrase never depends on the phrases rendered before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mido
import numpy as np

from export.core.errors import LatentbridgeError
from models.data.note_synth import SAMPLE_RATE, SoundFontSynth

PEAK_CEILING = 0.98  # a phrase whose peak would exceed this is scaled down (in 0.01 dB steps) to fit
_CHANNELS = 16


class PolySynth(SoundFontSynth):
    """One SoundFont in its own tinysoundfont synth at a fixed gain in dB, rendering whole MIDI phrases."""

    def has_program(self, program: int) -> bool:
        return self._synth.sfpreset_name(self._sfid, 0, program) is not None

    def render(self, events: Sequence[tuple[float, mido.Message]], length: int) -> tuple[np.ndarray, float]:
        """(length,) float32 mono of the timed messages, and the gain in dB applied (the fixed gain, lowered
        only when the peak would pass PEAK_CEILING)."""
        synth, blocks, pos = self._synth, [], 0
        for ch in range(_CHANNELS):
            synth.control_change(ch, 121, 0)
            synth.pitchbend(ch, 8192)
        for seconds, message in events:
            at = min(int(round(seconds * SAMPLE_RATE)), length)
            if at > pos:
                blocks.append(np.frombuffer(synth.generate(at - pos), dtype=np.float32))
                pos = at
            self._apply(message)
        if pos < length:
            blocks.append(np.frombuffer(synth.generate(length - pos), dtype=np.float32))
        self._flush()
        audio = np.concatenate(blocks).reshape(-1, 2).mean(axis=1, dtype=np.float32)
        peak = float(np.max(np.abs(audio), initial=0.0))
        if peak <= PEAK_CEILING:
            return audio, self.gain_db
        cut_db = math.floor(2000 * math.log10(PEAK_CEILING / peak)) / 100
        return (audio * np.float32(10 ** (cut_db / 20))).astype(np.float32), round(self.gain_db + cut_db, 2)

    def _apply(self, m: mido.Message) -> None:
        synth = self._synth
        if m.type == "note_on" and m.velocity > 0:
            synth.noteon(m.channel, m.note, m.velocity)
        elif m.type in ("note_on", "note_off"):
            synth.noteoff(m.channel, m.note)
        elif m.type == "pitchwheel":
            synth.pitchbend(m.channel, m.pitch + 8192)
        elif m.type == "control_change":
            synth.control_change(m.channel, m.control, m.value)
        elif m.type == "program_change":
            try:
                synth.program_change(m.channel, m.program, False)
            except RuntimeError as exc:
                raise LatentbridgeError(f"{self.path.name}: no bank-0 preset for program {m.program}") from exc
        else:
            raise LatentbridgeError(f"unsupported MIDI message {m.type} on channel {m.channel}")
