"""Composing one `dataset poly` phrase: guitar strums, block chords, arpeggios, bass plus chords or a single line.

Times are integer samples at 16 kHz (one MIDI tick each, see poly_midi); pitches MIDI 21..108; a note's offset is
its key-up (release tail excluded). Every note ends by `hold` = length - TAIL_SECONDS. Pitch bends are 14-bit
pitch-wheel offsets (-8192..8191) per channel at the default +-2 semitone range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from models.data import poly_voicings as pv
from models.data.gm_programs import FAMILIES, MIDI_HI, MIDI_LO
from models.data.note_synth import SAMPLE_RATE

TAIL_SECONDS = 0.5
BEND_RANGE = 2.0  # semitones at full pitch wheel
BEND_STEP = SAMPLE_RATE // 100  # one pitch-wheel event every 10 ms while bending
MIN_NOTE = SAMPLE_RATE // 50  # notes shorter than 20 ms after tidying are dropped
CHORD_FAMILIES = ("keyboard", "organ", "string", "brass", "reed")
# style -> families each voice (channel 0, 1, ...) draws from, and the style's share of phrases
STYLES: dict[str, tuple[tuple[tuple[str, ...], ...], float]] = {
    "strum": ((("guitar",),), 0.22),
    "block": ((CHORD_FAMILIES,), 0.2),
    "arpeggio": ((CHORD_FAMILIES,), 0.2),
    "bass_chords": ((("bass",), (*CHORD_FAMILIES, "guitar")), 0.18),
    "line": ((FAMILIES,), 0.2),
}
STRING_DELAY = (0.005 * SAMPLE_RATE, 0.040 * SAMPLE_RATE)  # between strings of a strum, samples
STRUM_PATTERNS = ("D.DU.UDU", "D.D.D.D.", "D.DUDUDU", "D..UD.DU", "DUDUDUDU", "D...D.DU")  # eighths of one bar


@dataclass(frozen=True)
class Voice:
    channel: int
    program: int
    family: str
    lo: int  # playable MIDI range of the program
    hi: int


@dataclass(frozen=True)
class PolyNote:
    onset: int  # samples
    offset: int  # samples, key up
    pitch: int
    velocity: int
    channel: int


@dataclass(frozen=True)
class Phrase:
    style: str
    length: int  # samples, release tail included
    voices: tuple[Voice, ...]
    notes: tuple[PolyNote, ...]
    bends: tuple[tuple[int, int, int], ...]  # (sample, channel, pitch-wheel value -8192..8191), time order


@dataclass
class _Ctx:
    rng: np.random.Generator
    hold: int  # last allowed key-up sample
    beat: int  # samples per quarter note
    base_velocity: int

    def vel(self, accent: float = 0.0, spread: float = 9.0) -> int:
        return int(np.clip(round(self.base_velocity + accent + self.rng.normal(0, spread)), 1, 127))

    def jitter(self, t: int, ms: float = 8.0) -> int:
        return int(round(t + self.rng.normal(0, ms * SAMPLE_RATE / 1000)))


def _secs(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def _span(voice: Voice, lo: int = 28, hi: int = 96) -> tuple[int, int]:
    """The voice's range within [lo, hi] (most notes stay in 28..96), at least an octave when possible."""
    a, b = max(voice.lo, lo), min(voice.hi, hi)
    return (a, b) if b - a >= 12 else (max(MIDI_LO, voice.lo), min(MIDI_HI, voice.hi))


def _chord_times(ctx: _Ctx, count: int) -> list[tuple[int, int]]:
    """`count` consecutive (start, end) segments filling 0..hold, each a whole number of beats when they fit."""
    unit = ctx.beat if (count - 1) * ctx.beat < ctx.hold else ctx.hold // count
    units = max(count, ctx.hold // unit)
    cuts = sorted(int(c) for c in ctx.rng.choice(np.arange(1, units), size=count - 1, replace=False))
    edges = [0, *[c * unit for c in cuts], ctx.hold]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _strum(ctx: _Ctx, voices: tuple[Voice, ...]) -> list[PolyNote]:
    """Down and up strums of 4-6 string guitar voicings, 5-40 ms between strings; strings ring until struck
    again, damped at a chord change, or the phrase ends."""
    rng, ch = ctx.rng, voices[0].channel
    pattern = str(rng.choice(STRUM_PATTERNS))
    eighth = ctx.beat // 2
    shapes = [pv.guitar_voicing(rng) for _ in range(int(rng.integers(1, 4)))]
    per_chord = int(rng.choice([4, 8]))  # eighths between chord changes
    notes: list[PolyNote] = []
    ringing: dict[int, tuple[int, int, int]] = {}  # string -> (onset, pitch, velocity)
    strums = [k for k in range(ctx.hold // eighth) if pattern[k % len(pattern)] != "."]
    for k in strums:
        frets = shapes[(k // per_chord) % len(shapes)]
        strings = pv.guitar_pitches(frets)
        down = pattern[k % len(pattern)] == "D"
        if not down:
            strings = strings[::-1][: int(rng.integers(4, len(strings) + 1))]
        gap = rng.uniform(*STRING_DELAY)
        start = max(0, ctx.jitter(k * eighth, 6))
        hit = {s for s, _ in strings}
        now = dict(pv.guitar_pitches(frets))
        moved = [s for s in ringing if s not in hit and now.get(s) != ringing[s][1]]
        for s in moved:  # the fretting hand left this string: damp it
            old_on, old_pitch, old_vel = ringing.pop(s)
            notes.append(PolyNote(old_on, start, old_pitch, old_vel, ch))
        accent = 12.0 if k % 4 == 0 else 0.0 if down else -10.0
        on = start
        for i, (s, pitch) in enumerate(strings):
            if i:  # the next string: the strum's delay, humanised, within 5..40 ms
                on += int(round(np.clip(gap * rng.uniform(0.8, 1.2), *STRING_DELAY)))
            if s in ringing:
                old_on, old_pitch, old_vel = ringing.pop(s)
                notes.append(PolyNote(old_on, on, old_pitch, old_vel, ch))
            ringing[s] = (on, pitch, ctx.vel(accent - 2.0 * i, 6.0))
    notes += [PolyNote(on, ctx.hold, pitch, velocity, ch) for on, pitch, velocity in ringing.values()]
    return notes


def _chord_plan(ctx: _Ctx, voice: Voice, count: int, lo: int, hi: int) -> list[tuple[int, int, int, tuple[int, ...]]]:
    """`count` chords of a progression filling 0..hold on `voice`: (start, end, root pitch class, pitches),
    2-5 notes, inversions, near a centre drawn in [lo, hi]."""
    a, b = _span(voice, lo, hi)
    center = int(ctx.rng.integers(a, max(a + 1, b - 11)))
    plan = []
    for (start, end), (root_pc, quality) in zip(_chord_times(ctx, count), pv.progression(ctx.rng, count),
                                                strict=True):
        root = center + (root_pc - center) % 12
        size = int(ctx.rng.choice([2, 3, 3, 4, 4, 5]))
        pitches = pv.fit_range(pv.chord_pitches(root, quality, int(ctx.rng.integers(4)), size), a, b)
        plan.append((start, end, root_pc, pitches or (center,)))
    return plan


def _block_notes(ctx: _Ctx, voice: Voice, plan: list[tuple[int, int, int, tuple[int, ...]]]) -> list[PolyNote]:
    """Each chord of `plan` struck once or repeated on beats; humanised onsets, releases and velocities."""
    notes = []
    for start, end, _, pitches in plan:
        step = max(ctx.beat, (end - start) // int(ctx.rng.choice([1, 1, 2, 4])))
        for h in range(start, end, step):
            stop = min(end, h + step) - int(ctx.rng.uniform(0, 0.25) * step)
            accent = ctx.rng.normal(0, 6)
            notes += [PolyNote(ctx.jitter(h, 10), ctx.jitter(stop, 10), p, ctx.vel(accent, 5.0), voice.channel)
                      for p in pitches]
    return notes


def _block(ctx: _Ctx, voices: tuple[Voice, ...]) -> list[PolyNote]:
    """Held block chords: triads and sevenths, inversions, 2-5 notes."""
    return _block_notes(ctx, voices[0], _chord_plan(ctx, voices[0], int(ctx.rng.integers(2, 6)), 40, 84))


def _arpeggio(ctx: _Ctx, voices: tuple[Voice, ...]) -> list[PolyNote]:
    """Broken chords up, down or up-down over 1-2 octaves; notes sustained (overlapping) to the chord's end
    or for a few steps."""
    rng, voice = ctx.rng, voices[0]
    step = int(ctx.beat / rng.choice([2, 3, 4]))
    shape, sustain = str(rng.choice(["up", "down", "updown"])), rng.random() < 0.6
    notes = []
    for start, end, _, pitches in _chord_plan(ctx, voice, int(rng.integers(1, 4)), 36, 84):
        tones = list(pitches)
        if rng.random() < 0.5:  # spread over two octaves
            tones = sorted({*pitches, *[p + 12 for p in pitches if p + 12 <= _span(voice)[1]]})
        order = {"up": tones, "down": tones[::-1], "updown": tones + tones[-2:0:-1]}[shape]
        for i, t in enumerate(range(start, end - step // 2, step)):
            stop = end if sustain else min(end, t + step * int(rng.integers(1, 4)))
            notes.append(PolyNote(ctx.jitter(t, 6), ctx.jitter(stop, 8), order[i % len(order)],
                                  ctx.vel(8.0 if i % len(order) == 0 else 0.0), voice.channel))
    return notes


def _bass_chords(ctx: _Ctx, voices: tuple[Voice, ...]) -> list[PolyNote]:
    """A bass line on the first voice (chord roots, sometimes fifths) under block chords on the second."""
    rng, bass = ctx.rng, voices[0]
    plan = _chord_plan(ctx, voices[1], int(rng.integers(2, 5)), 48, 84)
    notes = _block_notes(ctx, voices[1], plan)
    a, b = _span(bass, 28, 60)
    every = int(ctx.beat * rng.choice([0.5, 1, 2]))
    for start, end, root_pc, _ in plan:
        root = a + (root_pc - a) % 12
        for t in range(start, end - every // 2, every):
            fifth = rng.random() < 0.2 and root + 7 <= b
            stop = t + int(every * rng.uniform(0.6, 0.95))
            notes.append(PolyNote(ctx.jitter(t, 6), stop, root + 7 * fifth, ctx.vel(6.0), bass.channel))
    return notes


def _line(ctx: _Ctx, voices: tuple[Voice, ...]) -> tuple[list[PolyNote], list[tuple[int, int, int]]]:
    """A monophonic melody by scale steps and leaps, legato (key-up at the next onset) or detached; sometimes
    one slow bend or a vibrato."""
    rng, voice = ctx.rng, voices[0]
    a, b = _span(voice, 36, 90)
    scale = pv.MINOR_SCALE if rng.random() < 0.4 else pv.MAJOR_SCALE
    key = int(rng.integers(12))
    allowed = [p for p in range(a, b + 1) if (p - key) % 12 in scale]
    idx = int(rng.integers(len(allowed) // 4, 3 * len(allowed) // 4 + 1))
    legato = rng.random() < 0.5
    onsets, t = [], 0
    while t < ctx.hold - ctx.beat // 4:
        onsets.append(t)
        t += int(ctx.beat * rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
    notes = []
    for i, on in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else ctx.hold
        idx = int(np.clip(idx + rng.choice([-2, -1, -1, 1, 1, 2, 0, 4, -4]), 0, len(allowed) - 1))
        off = nxt if legato else on + int((nxt - on) * rng.uniform(0.4, 0.8))
        notes.append(PolyNote(on, min(off, ctx.hold), allowed[idx], ctx.vel(), voice.channel))
    mode = str(rng.choice(["none", "none", "bend", "vibrato"]))
    bends: list[tuple[int, int, int]] = []
    long_notes = [n for n in notes if n.offset - n.onset >= SAMPLE_RATE // 4]
    if mode != "none" and long_notes:
        chosen = [long_notes[int(i)] for i in sorted(rng.choice(len(long_notes), min(2, len(long_notes)),
                                                                replace=False))]
        for note in chosen:
            bends += _bend_curve(rng, note, mode)
    return notes, bends


def _bend_curve(rng: np.random.Generator, note: PolyNote, mode: str) -> list[tuple[int, int, int]]:
    """Pitch-wheel events on the note's channel: a ramp to +-0.5..2 semitones, or a 4.5-6.5 Hz vibrato of
    0.1-0.4 semitones fading in; back to 0 at the key-up."""
    start = note.onset + int((note.offset - note.onset) * rng.uniform(0.1, 0.4))
    times = np.arange(start, note.offset, BEND_STEP)
    if mode == "bend":
        target = float(rng.choice([-1, 1]) * rng.choice([0.5, 1.0, 1.0, 2.0]))
        ramp = max(BEND_STEP, int(rng.uniform(0.15, 0.5) * SAMPLE_RATE))
        semis = target * np.clip((times - start) / ramp, 0.0, 1.0)
    else:
        depth, rate = rng.uniform(0.1, 0.4), rng.uniform(4.5, 6.5)
        age = (times - start) / SAMPLE_RATE
        semis = depth * np.clip(age / 0.2, 0.0, 1.0) * np.sin(2 * np.pi * rate * age)
    values = np.clip(np.round(semis / BEND_RANGE * 8192), -8192, 8191).astype(int)
    events = [(int(t), note.channel, int(v)) for t, v in zip(times, values, strict=True)]
    return [*events, (note.offset, note.channel, 0)]


def _tidy(notes: list[PolyNote], hold: int) -> list[PolyNote]:
    """Clamp to 0..hold, end a note where the same pitch restarts on its channel, drop too-short notes."""
    clamped = [replace(n, onset=max(0, n.onset), offset=min(hold, n.offset)) for n in notes]
    clamped.sort(key=lambda n: (n.channel, n.pitch, n.onset))
    kept: list[PolyNote] = []
    for i, n in enumerate(clamped):
        after = clamped[i + 1] if i + 1 < len(clamped) else None
        if after is not None and (after.channel, after.pitch) == (n.channel, n.pitch) and after.onset < n.offset:
            n = replace(n, offset=after.onset)
        if n.offset - n.onset >= MIN_NOTE:
            kept.append(n)
    return sorted(kept, key=lambda n: (n.onset, n.channel, n.pitch))


COMPOSERS: dict[str, Callable[[_Ctx, tuple[Voice, ...]], list[PolyNote]]] = {
    "strum": _strum, "block": _block, "arpeggio": _arpeggio, "bass_chords": _bass_chords,
}


def compose(rng: np.random.Generator, style: str, voices: tuple[Voice, ...], seconds: float) -> Phrase:
    """One phrase of `style` for `voices` (one per channel, in STYLES order), `seconds` long."""
    length = _secs(seconds)
    bpm = float(rng.uniform(72, 132))
    ctx = _Ctx(rng, max(MIN_NOTE, length - _secs(TAIL_SECONDS)), int(round(60 / bpm * SAMPLE_RATE)),
               int(rng.integers(50, 111)))
    bends: list[tuple[int, int, int]] = []
    if style == "line":
        notes, bends = _line(ctx, voices)
    else:
        notes = COMPOSERS[style](ctx, voices)
    notes = _tidy(notes, ctx.hold)
    return Phrase(style, length, voices, tuple(notes), tuple(sorted(bends)))
