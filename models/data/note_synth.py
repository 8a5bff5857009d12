"""Rendering one NSynth-style note from a General MIDI SoundFont with tinysoundfont.

A note is 4 s of float32 mono audio at 16 kHz (64000 samples): key down at 0 s with a MIDI
velocity, key up at 3.0 s, the release rendered to 4.0 s. Bank 0 presets only; one fixed gain
in dB for every note (no per-note normalisation, so velocity stays audible). Voices are flushed
after each note, so a render never depends on the notes rendered before it. `SoundFontSynth` (loading and
that flush) is shared with the phrase renderer, poly_synth.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError

SAMPLE_RATE = MODEL_RATE
NOTE_SECONDS = 4.0
HOLD_SECONDS = 3.0
NOTE_SAMPLES = int(NOTE_SECONDS * SAMPLE_RATE)
HOLD_SAMPLES = int(HOLD_SECONDS * SAMPLE_RATE)
DEFAULT_GAIN_DB = -8.0  # measured: the loudest note of FluidR3_GM peaks at +7.5 dBFS at 0 dB gain
CHANNEL = 0
BANK = 0
_FLUSH_BLOCK = 512
_FLUSH_BLOCKS = 64


class SoundFontSynth:
    """One SoundFont loaded into its own tinysoundfont synth at SAMPLE_RATE and a fixed gain in dB (the loading
    and the voice flush every renderer of SoundFonts shares)."""

    def __init__(self, soundfont: str | os.PathLike[str], gain_db: float) -> None:
        import tinysoundfont

        self.path = Path(soundfont)
        self.gain_db = gain_db
        self._synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE, gain=gain_db)
        try:
            self._sfid = self._synth.sfload(str(self.path))
        except Exception as exc:  # tinysoundfont raises its own exception types or OSError
            raise LatentbridgeError(f"{self.path}: cannot load SoundFont ({exc})") from exc

    def _flush(self) -> None:
        """Stop every voice and render until the synth outputs exact silence (a few ms of quick release)."""
        self._synth.sounds_off()
        for _ in range(_FLUSH_BLOCKS):
            if not np.any(np.frombuffer(self._synth.generate(_FLUSH_BLOCK), dtype=np.float32)):
                return
        raise LatentbridgeError(f"{self.path.name}: voices still sounding after sounds_off")


class NoteSynth(SoundFontSynth):
    """One SoundFont loaded into its own tinysoundfont synth, rendering isolated notes."""

    def __init__(self, soundfont: str | os.PathLike[str], gain_db: float = DEFAULT_GAIN_DB) -> None:
        super().__init__(soundfont, gain_db)
        self._program: int | None = None

    def preset_name(self, program: int) -> str | None:
        """The name of the bank-0 preset for a GM `program` (0-based), or None when the SoundFont lacks it."""
        name = self._synth.sfpreset_name(self._sfid, BANK, program)
        return None if name is None else str(name)

    def render(self, program: int, pitch: int, velocity: int) -> np.ndarray:
        """Render one note: (NOTE_SAMPLES,) float32 mono, not clipped (peaks may exceed 1)."""
        if self._program != program:
            try:
                self._synth.program_select(CHANNEL, self._sfid, BANK, program)
            except RuntimeError as exc:
                raise LatentbridgeError(f"{self.path.name}: no bank {BANK} preset for program "
                                        f"{program}") from exc
            self._program = program
        self._synth.noteon(CHANNEL, pitch, velocity)
        held = np.frombuffer(self._synth.generate(HOLD_SAMPLES), dtype=np.float32)
        self._synth.noteoff(CHANNEL, pitch)
        released = np.frombuffer(self._synth.generate(NOTE_SAMPLES - HOLD_SAMPLES), dtype=np.float32)
        self._flush()
        stereo = np.concatenate([held, released]).reshape(-1, 2)
        return stereo.mean(axis=1, dtype=np.float32)
