"""MIDI voice allocation for the polyphonic pad: note on/off, sustain pedal (CC64), pitch bend, all notes / sound
off (CC123 / CC120), voice stealing and a per-voice ADSR, turned into the decoder's per-voice controls.

Pure numpy and deterministic. Time is counted in control frames of 128 samples at 16 kHz (8 ms, `FRAME_RATE`).
An event is a raw MIDI message (status byte, data bytes) with the frame it takes effect at; `render(k)` returns
the next k frames as [k, N] arrays: f0 (Hz: the note plus the channel's pitch bend times `bend_range`
semitones), loudness (dB on the autoencoder's A-weighted scale: the velocity's level, `velocity_db`, plus the
envelope in dB), gain (0..1: 0 while a voice is idle and in the frame a stolen voice fades out; the decoder ramps
it linearly within each frame) and periodicity (1 while a voice sounds, 0 idle). The output depends only on the
events and the frames asked for, not on how frames are grouped into calls. Stealing, when every voice is busy,
takes the voice released longest ago, then the one sustained by the pedal longest, then the oldest held note:
it fades out over one control frame (8 ms, the finest a per-frame gain allows) and the new note starts on it
in the next frame. A note-on of a note already sounding on its channel retriggers that voice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from export.core.pitch_units import midi_to_hz

FRAME_RATE = 16000 / 128  # control frames per second
# velocity 1..127 -> -54..-18 dB, linear in dB. The bundled autoencoder's loudness control, measured on
# demo_reed_note.wav normalised to a 0 dBFS peak: median -18.0 dB, 90th percentile -14.5 (-21.1 / -17.6 at its
# own -3 dBFS peak); its decoder follows the control from -60 dB up to about -12.5 dB, where it saturates. So
# velocity 127 is a full-scale note's typical level and the soft end is 36 dB below (a piano-like range).
SOFT_DB, LOUD_DB = -54.0, -18.0
SILENT_DB = -80.0  # the loudness of an idle voice (and the envelope's floor)
IDLE, ATTACK, DECAY, SUSTAIN, RELEASE = range(5)
NOTE_OFF, NOTE_ON, CONTROL, BEND = 0x80, 0x90, 0xB0, 0xE0
SUSTAIN_CC, ALL_SOUND_OFF, ALL_NOTES_OFF = 64, 120, 123


def velocity_db(velocity: int) -> float:
    """MIDI velocity 1..127 -> loudness in dB (see SOFT_DB, LOUD_DB)."""
    v = min(127, max(1, int(velocity)))
    return SOFT_DB + (LOUD_DB - SOFT_DB) * (v - 1) / 126.0


@dataclass(frozen=True)
class Envelope:
    """ADSR: attack, decay and release times in seconds, sustain as a level (linear amplitude 0..1). Attack rises
    linearly to 1, decay falls linearly to the sustain level, release falls linearly from where it starts to 0."""

    attack_s: float = 0.01
    decay_s: float = 0.2
    sustain: float = 0.7
    release_s: float = 0.3


@dataclass(frozen=True)
class MidiEvent:
    """A raw MIDI message taking effect at control frame `frame`."""

    frame: int
    message: tuple[int, ...]


@dataclass
class VoiceFrames:
    """Per-voice controls for k frames, each [k, N] float32; `pitch` [k] is the MIDI note of the newest note-on
    (60 before any), where the shared latent is looked up."""

    f0: np.ndarray
    loudness: np.ndarray
    gain: np.ndarray
    periodicity: np.ndarray
    pitch: np.ndarray


@dataclass
class _Voice:
    note: int = -1
    channel: int = 0
    level_db: float = SILENT_DB  # the velocity's loudness
    stage: int = IDLE
    level: float = 0.0  # the envelope (linear amplitude)
    release_from: float = 0.0
    key_down: bool = False
    sustained: bool = False  # the key is up, the pedal holds it
    started: int = 0  # order of its note-on (for stealing)
    released: int = 0  # order of its release (for stealing)
    fading: bool = False  # stolen: gain 0 in the next frame, then `next_note` starts
    next_note: tuple[int, int, int] | None = None  # (channel, note, velocity)
    f0: float = 261.63


@dataclass
class VoiceAllocator:
    """See the module docstring. `envelope` and `bend_range` may be changed between calls."""

    voices: int = 8
    envelope: Envelope = field(default_factory=Envelope)
    bend_range: float = 2.0  # semitones at full pitch bend
    frame: int = 0  # the next frame `render` produces

    def __post_init__(self) -> None:
        self._voices = [_Voice() for _ in range(self.voices)]
        self._events: list[MidiEvent] = []
        self._bend = [0.0] * 16  # per channel, -1..1
        self._pedal = [False] * 16
        self._order = 0
        self.pitch = 60.0

    def push(self, event: MidiEvent) -> None:
        """Queue an event; one for a frame already rendered takes effect at the next frame."""
        self._events.append(event)

    @property
    def sounding(self) -> int:
        return sum(v.stage != IDLE for v in self._voices)

    def render(self, k: int) -> VoiceFrames:
        """The next k frames (see the module docstring)."""
        n = self.voices
        f0, loudness, gain, periodicity = (np.zeros((k, n), np.float32) for _ in range(4))
        out = VoiceFrames(f0, loudness, gain, periodicity, np.zeros(k, np.float32))
        for i in range(k):
            due = [e for e in self._events if e.frame <= self.frame]
            if due:
                self._events = [e for e in self._events if e.frame > self.frame]
                for event in due:
                    self._handle(event.message)
            for j, voice in enumerate(self._voices):
                out.f0[i, j], out.loudness[i, j], out.gain[i, j], out.periodicity[i, j] = self._step(voice)
            out.pitch[i] = self.pitch
            self.frame += 1
        return out

    # -- events --------------------------------------------------------------------------------------------
    def _handle(self, message: tuple[int, ...]) -> None:
        if len(message) < 3:
            return
        kind, channel, a, b = message[0] & 0xF0, message[0] & 0x0F, message[1], message[2]
        if kind == NOTE_ON and b > 0:
            self._note_on(channel, a, b)
        elif kind == NOTE_OFF or kind == NOTE_ON:
            self._note_off(channel, a)
        elif kind == BEND:
            self._bend[channel] = ((b << 7 | a) - 8192) / 8192.0
        elif kind == CONTROL and a == SUSTAIN_CC:
            self._pedal[channel] = b >= 64
            if not self._pedal[channel]:
                for v in self._voices:
                    if v.channel == channel and v.sustained:
                        self._release(v)
        elif kind == CONTROL and a == ALL_NOTES_OFF:
            for v in self._voices:
                if v.channel == channel and v.key_down:
                    self._note_off(channel, v.note)
        elif kind == CONTROL and a == ALL_SOUND_OFF:
            for v in self._voices:
                if v.channel == channel and v.stage != IDLE:
                    v.fading, v.next_note = True, None

    def _note_on(self, channel: int, note: int, velocity: int) -> None:
        self.pitch = float(note)
        for v in self._voices:  # the same note sounding on this channel: retrigger it
            if v.stage != IDLE and not v.fading and v.channel == channel and v.note == note:
                self._start(v, channel, note, velocity, from_level=v.level)
                return
        idle = [v for v in self._voices if v.stage == IDLE and not v.fading]
        if idle:
            self._start(idle[0], channel, note, velocity, from_level=0.0)
            return
        free = [v for v in self._voices if not v.fading]
        victim = min(free or self._voices, key=self._steal_rank)
        victim.fading, victim.next_note = True, (channel, note, velocity)

    def _steal_rank(self, v: _Voice) -> tuple[int, int]:
        if v.stage == RELEASE:
            return 0, v.released
        return (1, v.started) if v.sustained else (2, v.started)

    def _start(self, v: _Voice, channel: int, note: int, velocity: int, from_level: float) -> None:
        self._order += 1
        v.note, v.channel, v.level_db = note, channel, velocity_db(velocity)
        v.stage, v.level, v.key_down, v.sustained, v.started = ATTACK, from_level, True, False, self._order

    def _note_off(self, channel: int, note: int) -> None:
        for v in self._voices:
            if v.next_note is not None and v.next_note[:2] == (channel, note):
                v.next_note = None  # released before its stolen voice was free: dropped
            if v.key_down and v.channel == channel and v.note == note and not v.fading:
                v.key_down = False
                if self._pedal[channel]:
                    v.sustained = True
                else:
                    self._release(v)

    def _release(self, v: _Voice) -> None:
        self._order += 1
        v.stage, v.release_from, v.released, v.sustained, v.key_down = RELEASE, v.level, self._order, False, False

    # -- one frame of one voice ----------------------------------------------------------------------------
    def _step(self, v: _Voice) -> tuple[float, float, float, float]:
        """Advance the voice by one frame; its (f0, loudness, gain, periodicity) for that frame."""
        if v.fading:  # this frame fades the stolen voice out; its new note (if any) starts in the next one
            v.fading = False
            values = (v.f0, self._loudness(v), 0.0, 1.0)
            v.stage, v.level = IDLE, 0.0
            if v.next_note is not None:
                self._start(v, *v.next_note, from_level=0.0)
                v.next_note = None
            return values
        if v.stage == IDLE:
            return v.f0, SILENT_DB, 0.0, 0.0
        env, dt = self.envelope, 1.0 / FRAME_RATE
        if v.stage == ATTACK:
            v.level += dt / max(env.attack_s, dt)
            if v.level >= 1.0:
                v.stage, v.level = DECAY, 1.0
        elif v.stage == DECAY:
            v.level -= (1.0 - env.sustain) * dt / max(env.decay_s, dt)
            if v.level <= env.sustain:
                v.stage, v.level = SUSTAIN, env.sustain
        elif v.stage == SUSTAIN:
            v.level = env.sustain
        elif v.stage == RELEASE:
            v.level -= v.release_from * dt / max(env.release_s, dt)
        v.f0 = float(midi_to_hz(v.note + self._bend[v.channel] * self.bend_range))
        if v.level <= 0.0 and v.stage in (RELEASE, SUSTAIN):  # released out, or a zero sustain reached
            v.stage, v.level, v.key_down, v.sustained = IDLE, 0.0, False, False
            return v.f0, SILENT_DB, 0.0, 1.0
        return v.f0, self._loudness(v), 1.0, 1.0

    @staticmethod
    def _loudness(v: _Voice) -> float:
        if v.level <= 0.0:
            return SILENT_DB
        return max(SILENT_DB, v.level_db + 20.0 * math.log10(v.level))
