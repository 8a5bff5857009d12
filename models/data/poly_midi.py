"""Standard MIDI Files of `dataset poly` phrases, and note labels read back from any MIDI file (mido).

Written files are type 1 at 120 bpm with 8000 ticks per beat, so one tick is one sample at 16 kHz: a tempo track,
then one track per channel (program change, pitch-bend range RPN, pitch wheel, notes). Labels are in seconds;
`bend` lists [time_s, semitones] of the channel's pitch wheel while the note is held (empty when it stays at 0).
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import mido

from export.core.errors import LatentbridgeError
from models.data.gm_programs import GM_PROGRAMS, PERCUSSION_CHANNEL
from models.data.note_synth import SAMPLE_RATE
from models.data.poly_compose import BEND_RANGE, Phrase

TEMPO = 500_000  # microseconds per beat (120 bpm)
TICKS_PER_BEAT = TEMPO * SAMPLE_RATE // 1_000_000  # 8000: one tick per sample
RPN_MSB, RPN_LSB, DATA_MSB, DATA_LSB = 101, 100, 6, 38


@dataclass(frozen=True)
class NoteLabel:
    onset: float  # seconds
    offset: float  # seconds, key up (release tail excluded)
    pitch: int
    velocity: int
    program: int
    channel: int
    bend: tuple[tuple[float, float], ...]  # (seconds, semitones)

    def to_json(self) -> dict:
        return {"onset": self.onset, "offset": self.offset, "pitch": self.pitch, "velocity": self.velocity,
                "program": self.program, "channel": self.channel, "bend": [list(b) for b in self.bend]}


@dataclass(frozen=True)
class MidiLabels:
    notes: tuple[NoteLabel, ...]  # by onset, channel, pitch
    programs: dict[int, int]  # channel -> first program
    seconds: float  # end of the longest track


def note_bend(onset: float, offset: float, curve: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The pitch-wheel points of a channel's time-sorted `curve` that apply from onset to key-up: the value in
    effect at the onset (as a point at the onset), then every change before the offset; () when all are 0."""
    times = [t for t, _ in curve]
    first = bisect_right(times, onset)
    at_onset = curve[first - 1][1] if first else 0.0
    inside = [(t, v) for t, v in curve[first: bisect_left(times, offset)]]
    if at_onset == 0.0 and all(v == 0.0 for _, v in inside):
        return ()
    return ((onset, at_onset), *inside)


def semitones(pitch: int, bend_range: float = BEND_RANGE) -> float:
    """A mido pitch-wheel value (-8192..8191) in semitones."""
    return pitch * bend_range / 8192


def labels(phrase: Phrase) -> list[NoteLabel]:
    """The notes of a phrase as labels (seconds = samples / 16000)."""
    program = {v.channel: v.program for v in phrase.voices}
    curves = {v.channel: [(t / SAMPLE_RATE, semitones(p)) for t, ch, p in phrase.bends if ch == v.channel]
              for v in phrase.voices}
    result = []
    for n in phrase.notes:
        onset, offset = n.onset / SAMPLE_RATE, n.offset / SAMPLE_RATE
        result.append(NoteLabel(onset, offset, n.pitch, n.velocity, program[n.channel], n.channel,
                                note_bend(onset, offset, curves[n.channel])))
    return result


def write_midi(phrase: Phrase, path: str | os.PathLike[str], title: str) -> None:
    """Type-1 SMF of exactly what is rendered; at one tick, note-offs, then pitch wheel, then note-ons."""
    meta = mido.MidiTrack([mido.MetaMessage("track_name", name=title, time=0),
                           mido.MetaMessage("set_tempo", tempo=TEMPO, time=0),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
                           mido.MetaMessage("end_of_track", time=phrase.length)])
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(meta)
    for voice in phrase.voices:
        ch = voice.channel
        timed: list[tuple[int, int, mido.Message]] = []
        for n in phrase.notes:
            if n.channel == ch:
                timed.append((n.onset, 2, mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity)))
                timed.append((n.offset, 0, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
        timed += [(t, 1, mido.Message("pitchwheel", channel=ch, pitch=p)) for t, c, p in phrase.bends if c == ch]
        timed.sort(key=lambda item: (item[0], item[1], item[2].bytes()))
        track = mido.MidiTrack([
            mido.MetaMessage("track_name", name=GM_PROGRAMS[voice.program].name, time=0),
            mido.Message("program_change", channel=ch, program=voice.program, time=0),
            mido.Message("control_change", channel=ch, control=RPN_MSB, value=0, time=0),
            mido.Message("control_change", channel=ch, control=RPN_LSB, value=0, time=0),
            mido.Message("control_change", channel=ch, control=DATA_MSB, value=int(BEND_RANGE), time=0),
            mido.Message("control_change", channel=ch, control=DATA_LSB, value=0, time=0)])
        now = 0
        for tick, _, message in timed:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, phrase.length - now)))
        midi.tracks.append(track)
    midi.save(str(path))


def timed_messages(path: str | os.PathLike[str]) -> tuple[list[tuple[float, mido.Message]], float]:
    """Channel messages of any MIDI file with exact times in seconds (tempo map applied), and the file's end."""
    try:
        midi = mido.MidiFile(str(path))
        if midi.type == 2:
            raise ValueError("type 2 (asynchronous tracks) is not supported")
        merged = list(mido.merge_tracks(midi.tracks))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise LatentbridgeError(f"{path}: cannot read MIDI file ({exc})") from exc
    tick = base_tick = 0
    base, tempo, per_beat = 0.0, TEMPO, midi.ticks_per_beat * 1_000_000
    out = []
    for message in merged:
        tick += message.time
        seconds = base + (tick - base_tick) * tempo / per_beat  # one exact division per segment
        if message.type == "set_tempo":
            base, base_tick, tempo = seconds, tick, message.tempo
        elif not message.is_meta:
            out.append((seconds, message))
    return out, base + (tick - base_tick) * tempo / per_beat


def read_midi(path: str | os.PathLike[str]) -> MidiLabels:
    """Note labels of a MIDI file: note-on/off pairs per channel and pitch (first in, first out; a held note
    ends at the file's end), program changes, pitch wheel with the RPN 0 bend range. Channel 10 (drums) is
    left out."""
    messages, end = timed_messages(path)
    programs: dict[int, int] = {}
    current_program: dict[int, int] = {}
    rpn: dict[int, tuple[int, int]] = {}
    bend_range: dict[int, float] = {}
    curves: dict[int, list[tuple[float, float]]] = {}
    held: dict[tuple[int, int], list[tuple[float, int, int]]] = {}
    spans: list[tuple[float, float, int, int, int, int]] = []
    for t, m in messages:
        if not hasattr(m, "channel") or m.channel == PERCUSSION_CHANNEL:
            continue
        ch = m.channel
        if m.type == "program_change":
            current_program[ch] = m.program
            programs.setdefault(ch, m.program)
        elif m.type == "control_change" and m.control in (RPN_MSB, RPN_LSB):
            msb, lsb = rpn.get(ch, (127, 127))
            rpn[ch] = (m.value, lsb) if m.control == RPN_MSB else (msb, m.value)
        elif m.type == "control_change" and m.control in (DATA_MSB, DATA_LSB) and rpn.get(ch) == (0, 0):
            whole, cents = divmod(round(bend_range.get(ch, BEND_RANGE) * 100), 100)
            bend_range[ch] = m.value + cents / 100 if m.control == DATA_MSB else whole + m.value / 100
        elif m.type == "pitchwheel":
            curves.setdefault(ch, []).append((t, semitones(m.pitch, bend_range.get(ch, BEND_RANGE))))
        elif m.type == "note_on" and m.velocity > 0:
            held.setdefault((ch, m.note), []).append((t, m.velocity, current_program.get(ch, 0)))
        elif m.type in ("note_on", "note_off") and held.get((ch, m.note)):
            on, velocity, program = held[(ch, m.note)].pop(0)
            spans.append((on, t, m.note, velocity, program, ch))
    spans += [(on, end, pitch, velocity, program, ch) for (ch, pitch), queue in held.items()
              for on, velocity, program in queue]
    notes = [NoteLabel(on, off, pitch, velocity, program, ch, note_bend(on, off, curves.get(ch, [])))
             for on, off, pitch, velocity, program, ch in spans]
    notes.sort(key=lambda n: (n.onset, n.channel, n.pitch))
    return MidiLabels(tuple(notes), programs, end)
