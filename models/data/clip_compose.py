"""Generating music clips: a seeded random arrangement -> a Standard MIDI File -> per-channel stems.

Times in an `Arrangement` are in beats (quarter notes) at one constant tempo; pitches are MIDI numbers.
Melodic parts use channels 0..3, drums GM channel 10 (index 9, bank 128). Stems are float32 mono 16 kHz,
rendered by tinysoundfont from the MIDI file as written (parsed back with mido), one channel at a time,
sample-accurate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.data.gm_programs import GM_PROGRAMS, PERCUSSION_CHANNEL

SAMPLE_RATE = MODEL_RATE
TICKS_PER_BEAT = 480
SYNTH_GAIN_DB = -6.0
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
KEY_NAMES = {"major": ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"),
             "minor": ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")}
# chord progressions as 0-based scale degrees, one chord per bar
PROGRESSIONS = {"major": ((0, 4, 5, 3), (0, 3, 4, 4), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 0, 4)),
                "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4))}
# role -> (families it draws from, pitch window [lo, hi] the program must cover)
ROLES: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "melody": (("brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
                "vocal"), (0, 0)),  # window set per clip from the drawn register
    "bass": (("bass", "bass", "bass", "string", "brass", "reed", "keyboard", "synth_lead"),  # bass 3 times
             (40, 52)),
    "chords": (("keyboard", "guitar", "mallet", "organ", "string"), (52, 72)),
    "pad": (("string", "organ", "synth_lead", "vocal", "brass"), (52, 84)),
}
ACOUSTIC_KITS, ELECTRONIC_KITS = (0, 8, 16, 32, 40, 48), (24, 25)  # GM2 drum-kit presets of bank 128
KICK, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 39, 42, 46, 49, 51
DRUM_PATTERNS = ("rock", "four_on_floor", "half_time", "ride")


@dataclass(frozen=True)
class Note:
    start: float  # beats
    length: float  # beats
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    role: str  # melody, bass, chords, pad or drums
    channel: int
    program: int  # GM program (0-based); for drums the bank-128 kit preset
    volume: int  # CC7 at time 0
    pattern: str
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Arrangement:
    bpm: int
    key: int  # pitch class of the tonic, 0 = C
    mode: str  # major or minor
    beats_per_bar: int  # 4 or 3
    progression: tuple[int, ...]
    seconds: float
    parts: tuple[Part, ...]

    @property
    def tempo(self) -> int:
        """MIDI set_tempo value, microseconds per beat."""
        return int(mido.bpm2tempo(self.bpm))

    @property
    def total_beats(self) -> float:
        return self.seconds * 1e6 / self.tempo

    @property
    def key_name(self) -> str:
        return KEY_NAMES[self.mode][self.key]


def _scale(key: int, mode: str) -> tuple[int, ...]:
    return tuple((key + step) % 12 for step in (MAJOR if mode == "major" else MINOR))


def _chord(scale: tuple[int, ...], degree: int) -> tuple[int, ...]:
    """Pitch classes of the diatonic triad on `degree`: root, third, fifth."""
    return tuple(scale[(degree + 2 * k) % 7] for k in range(3))


def _near(pc: int, center: int, lo: int, hi: int) -> int:
    """The pitch of class `pc` closest to `center`, kept inside [lo, hi] when possible."""
    pitch = center + ((pc - center + 6) % 12) - 6
    while pitch < lo and pitch + 12 <= hi:
        pitch += 12
    while pitch > hi and pitch - 12 >= lo:
        pitch -= 12
    return pitch


def _pick_program(rng: np.random.Generator, role: str, window: tuple[int, int], available: frozenset[int],
                  taken: set[int]) -> int:
    families, _ = ROLES[role]
    lo, hi = window
    by_family: dict[str, list[int]] = {}
    for gm in GM_PROGRAMS.values():
        if gm.lo <= lo and gm.hi >= hi and gm.program in available and gm.program not in taken:
            by_family.setdefault(gm.family, []).append(gm.program)
    choices = [f for f in families if f in by_family]
    if not choices:
        raise LatentbridgeError(f"the SoundFont has no program playing {lo}..{hi} for the {role} part")
    family = choices[int(rng.integers(len(choices)))]
    return int(rng.choice(by_family[family]))


def _vel(rng: np.random.Generator, base: int) -> int:
    return int(np.clip(base + rng.integers(-10, 11), 1, 127))


def _melody(rng: np.random.Generator, scale: tuple[int, ...], chords: list[tuple[int, ...]], center: int,
            bar: int, total: float) -> tuple[str, list[Note]]:
    pitches = [p for p in range(center - 8, center + 10) if p % 12 in scale]
    styles = {"flowing": (0.5, 0.5, 1.0), "steady": (1.0,), "lyrical": (1.0, 2.0, 1.0, 0.5),
              "sparse": (2.0, 1.0)}
    style = str(rng.choice(list(styles)))
    base, i, t, notes = int(rng.integers(70, 110)), len(pitches) // 2, 0.0, []
    while t < total:
        length = float(rng.choice(styles[style]))
        if t % bar == 0:  # downbeat: land on a chord tone
            tones = [k for k, p in enumerate(pitches) if p % 12 in chords[int(t // bar) % len(chords)]]
            i = min(tones, key=lambda k: abs(k - i))
        else:
            i = int(np.clip(i + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(pitches) - 1))
        if t == 0 or rng.random() > 0.12:  # rests, never on the first note
            notes.append(Note(t, length * 0.9, pitches[i], _vel(rng, base)))
        t += length
    return style, notes


def _bass(rng: np.random.Generator, chords: list[tuple[int, ...]], lo: int, bar: int,
          total: float) -> tuple[str, list[Note]]:
    pattern = str(rng.choice(["whole", "root_fifth", "pulse", "eighths"]))
    patterns: dict[str, list[tuple[float, float, int]]] = {  # (offset, length, chord tone) per bar
        "whole": [(0.0, float(bar), 0)], "root_fifth": [(0.0, 2.0, 0), (2.0, bar - 2.0, 2)],
        "pulse": [(float(b), 1.0, 0) for b in range(bar)],
        "eighths": [(b / 2, 0.5, 0) for b in range(2 * bar)]}
    steps = patterns[pattern]
    floor, base, notes = max(lo, 28), int(rng.integers(80, 112)), []
    for n in range(int(np.ceil(total / bar))):
        chord = chords[n % len(chords)]
        for offset, length, tone in steps:
            pitch = floor + (chord[tone] - floor) % 12
            notes.append(Note(n * bar + offset, length * 0.92, pitch, _vel(rng, base)))
    return pattern, notes


def _chords(rng: np.random.Generator, chords: list[tuple[int, ...]], bar: int, total: float,
            pad: bool) -> tuple[str, list[Note]]:
    pattern = "sustain" if pad else str(rng.choice(["block", "beats", "arpeggio", "offbeat"]))
    center, notes = int(rng.integers(58, 68)), []
    base = int(rng.integers(50, 75) if pad else rng.integers(60, 95))
    for n in range(int(np.ceil(total / bar))):
        chord = chords[n % len(chords)]
        voicing = sorted(_near(pc, center, 48, 84) for pc in chord)
        if pad:
            voicing = [*voicing, voicing[0] + 12]
        start = float(n * bar)
        if pattern in ("block", "sustain"):
            hits = [(start, bar * (1.0 if pad else 0.95), voicing)]
        elif pattern == "beats":
            hits = [(start + b, 0.9, voicing) for b in range(bar)]
        elif pattern == "offbeat":
            hits = [(start + b + 0.5, 0.4, voicing) for b in range(bar)]
        else:
            hits = [(start + k / 2, 0.5, [voicing[k % len(voicing)]]) for k in range(2 * bar)]
        notes += [Note(s, length, p, _vel(rng, base)) for s, length, chord_notes in hits for p in chord_notes]
    return pattern, notes


def _drums(rng: np.random.Generator, bar: int, total: float) -> tuple[str, list[Note]]:
    pattern = str(rng.choice(DRUM_PATTERNS))
    base, notes = int(rng.integers(80, 115)), []
    hat = RIDE if pattern == "ride" else CLOSED_HAT
    for n in range(int(np.ceil(total / bar))):
        s = float(n * bar)
        hits = [(s, CRASH)] if n % 4 == 0 else []
        if pattern == "four_on_floor":
            hits += [(s + b, KICK) for b in range(bar)] + [(s + b + 0.5, OPEN_HAT) for b in range(bar)]
            hits += [(s + b, CLAP) for b in range(1, bar, 2)]
        elif pattern == "half_time":
            hits += [(s, KICK), (s + bar // 2 + 0.5 * (bar % 2), SNARE)] + [(s + b, hat) for b in range(bar)]
        else:
            hits += [(s, KICK), (s + (2 if bar == 4 else 1.5), KICK)]
            hits += [(s + b, SNARE) for b in range(1, bar, 2)]
            hits += [(s + k / 2, hat) for k in range(2 * bar)]
        notes += [Note(t, 0.25, pitch, _vel(rng, base - 15 * (pitch in (CLOSED_HAT, RIDE))))
                  for t, pitch in hits]
    return pattern, notes


def compose(rng: np.random.Generator, seconds: float, programs: frozenset[int],
            kits: frozenset[int]) -> Arrangement:
    """A random arrangement: tempo 60..180 BPM, key, mode, meter, 1..4 melodic parts, drums on or off
    (drums only when the SoundFont has a GM drum kit)."""
    bpm, key = int(rng.integers(60, 181)), int(rng.integers(12))
    mode = "major" if rng.random() < 0.5 else "minor"
    bar = 3 if rng.random() < 0.2 else 4
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    scale = _scale(key, mode)
    chords = [_chord(scale, d) for d in progression]
    n_parts = int(rng.integers(1, 5))
    roles = ["melody", *[str(r) for r in rng.permutation(["bass", "chords", "pad"])[: n_parts - 1]]]
    drums = bool(rng.random() < (0.65 if n_parts > 1 else 0.3))
    total = seconds * 1e6 / mido.bpm2tempo(bpm)
    parts: list[Part] = []
    taken: set[int] = set()
    for channel, role in enumerate(roles):
        if role == "melody":
            center = int(rng.integers(50, 86))
            window = (center - 8, center + 9)
        else:
            window = ROLES[role][1]
        program = _pick_program(rng, role, window, programs, taken)
        taken.add(program)
        if role == "melody":
            pattern, notes = _melody(rng, scale, chords, center, bar, total)
        elif role == "bass":
            pattern, notes = _bass(rng, chords, GM_PROGRAMS[program].lo, bar, total)
        else:
            pattern, notes = _chords(rng, chords, bar, total, pad=role == "pad")
        volume = int(rng.integers(*{"melody": (100, 121), "bass": (85, 111), "chords": (70, 101),
                                    "pad": (60, 91)}[role]))
        parts.append(Part(role, channel, program, volume, pattern, _clip(notes, total)))
    kit_choices = sorted(k for k in kits if k in ACOUSTIC_KITS + ELECTRONIC_KITS)
    if drums and kit_choices:
        kit = int(rng.choice(kit_choices))
        pattern, notes = _drums(rng, bar, total)
        parts.append(Part("drums", PERCUSSION_CHANNEL, kit, int(rng.integers(80, 111)), pattern,
                          _clip(notes, total)))
    return Arrangement(bpm, key, mode, bar, progression, seconds, tuple(parts))


def _clip(notes: list[Note], total: float) -> tuple[Note, ...]:
    """Notes that start inside the clip, cut at its end."""
    return tuple(Note(n.start, min(n.length, total - n.start), n.pitch, n.velocity)
                 for n in notes if n.start < total - 1e-6)


def write_midi(arrangement: Arrangement, path: str | os.PathLike[str]) -> None:
    """Type-1 SMF: a tempo/meter/key track, then one track per part (name = role, program, CC7, notes)."""
    ticks = TICKS_PER_BEAT
    end = int(round(arrangement.total_beats * ticks))
    meta = mido.MidiTrack([
        mido.MetaMessage("track_name", name="latentbridge clip", time=0),
        mido.MetaMessage("set_tempo", tempo=arrangement.tempo, time=0),
        mido.MetaMessage("time_signature", numerator=arrangement.beats_per_bar, denominator=4, time=0),
        mido.MetaMessage("key_signature", key=arrangement.key_name, time=0),
        mido.MetaMessage("end_of_track", time=end)])
    tracks = [meta]
    for part in arrangement.parts:
        ch = part.channel
        timed: list[tuple[int, int, mido.Message]] = []  # (tick, order: offs before ons, message)
        for note in part.notes:
            on = int(round(note.start * ticks))
            off = min(end, max(on + 1, int(round((note.start + note.length) * ticks))))
            timed.append((on, 1, mido.Message("note_on", channel=ch, note=note.pitch,
                                              velocity=note.velocity)))
            timed.append((off, 0, mido.Message("note_off", channel=ch, note=note.pitch, velocity=0)))
        timed.sort(key=lambda item: (item[0], item[1]))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=part.role, time=0),
                                mido.Message("program_change", channel=ch, program=part.program, time=0),
                                mido.Message("control_change", channel=ch, control=7, value=part.volume,
                                             time=0)])
        now = 0
        for tick, _, message in timed:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=end - now))
        tracks.append(track)
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    midi.tracks.extend(tracks)
    midi.save(str(path))


def midi_events(path: str | os.PathLike[str]) -> list[tuple[int, mido.Message]]:
    """Channel messages of a MIDI file with their sample index at 16 kHz."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError) as exc:
        raise LatentbridgeError(f"{path}: cannot read MIDI file ({exc})") from exc
    seconds, events = 0.0, []
    for message in midi:  # merged tracks, `time` in seconds (tempo applied)
        seconds += message.time
        if not message.is_meta:
            events.append((int(round(seconds * SAMPLE_RATE)), message))
    return events


class ClipSynth:
    """One SoundFont in a tinysoundfont synth that renders MIDI channels as separate mono stems."""

    def __init__(self, soundfont: str | os.PathLike[str]) -> None:
        import tinysoundfont

        self.path = Path(soundfont)
        self._synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE, gain=SYNTH_GAIN_DB)
        try:
            self._sfid = self._synth.sfload(str(self.path))
        except Exception as exc:  # tinysoundfont raises its own exception types or OSError
            raise LatentbridgeError(f"{self.path}: cannot load SoundFont ({exc})") from exc
        self.programs = self._presets(0)  # GM programs with a bank-0 preset
        self.kits = self._presets(128)  # drum kits

    def _presets(self, bank: int) -> frozenset[int]:
        return frozenset(p for p in range(128) if self._synth.sfpreset_name(self._sfid, bank, p) is not None)

    def render_stems(self, events: Sequence[tuple[int, mido.Message]], length: int) -> dict[int, np.ndarray]:
        """channel -> (length,) float32 mono stem, each rendered alone from a silent, reset synth."""
        return {ch: self._render_channel([(s, m) for s, m in events if m.channel == ch], ch, length)
                for ch in sorted({m.channel for _, m in events})}

    def _render_channel(self, events: Sequence[tuple[int, mido.Message]], channel: int,
                        length: int) -> np.ndarray:
        synth, blocks, pos = self._synth, [], 0
        synth.control_change(channel, 121, 0)  # reset controllers left by the previous stem
        for sample, message in events:
            at = min(sample, length)
            if at > pos:
                blocks.append(np.frombuffer(synth.generate(at - pos), dtype=np.float32))
                pos = at
            if message.type == "note_on" and message.velocity > 0:
                synth.noteon(channel, message.note, message.velocity)
            elif message.type in ("note_on", "note_off"):
                synth.noteoff(channel, message.note)
            elif message.type == "control_change":
                synth.control_change(channel, message.control, message.value)
            elif message.type == "program_change":
                try:
                    synth.program_change(channel, message.program, channel == PERCUSSION_CHANNEL)
                except RuntimeError as exc:
                    raise LatentbridgeError(f"{self.path.name}: no preset for program {message.program} "
                                            f"on channel {channel}") from exc
            else:
                raise LatentbridgeError(f"unsupported MIDI message {message.type} on channel {channel}")
        if pos < length:
            blocks.append(np.frombuffer(synth.generate(length - pos), dtype=np.float32))
        self._flush()
        return np.concatenate(blocks).reshape(-1, 2).mean(axis=1, dtype=np.float32)

    def _flush(self) -> None:
        """Silence every voice and render until the synth outputs exact zeros."""
        self._synth.sounds_off()
        for _ in range(64):
            if not np.any(np.frombuffer(self._synth.generate(512), dtype=np.float32)):
                return
        raise LatentbridgeError(f"{self.path.name}: voices still sounding after sounds_off")
