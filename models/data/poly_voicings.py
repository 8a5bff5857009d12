"""Chord material for `dataset poly`: chord qualities, keyboard-style voicings and guitar shapes in standard tuning.

Pitches are MIDI numbers; a voicing is a sorted tuple of distinct pitches. A guitar voicing is one fret (or None,
muted) per string, low E string first; fretted notes stay within a four-fret hand span and fret 12.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STANDARD_TUNING: tuple[int, ...] = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4
MAX_FRET = 12
# chord quality -> intervals above the root
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "dom7": (0, 4, 7, 10), "m7b5": (0, 3, 6, 10),
}
MAJOR_SCALE, MINOR_SCALE = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
_M = None
# open chords: name -> frets low E..high E (None = not played)
OPEN_SHAPES: dict[str, tuple[int | None, ...]] = {
    "C": (_M, 3, 2, 0, 1, 0), "A": (_M, 0, 2, 2, 2, 0), "Am": (_M, 0, 2, 2, 1, 0), "D": (_M, _M, 0, 2, 3, 2),
    "Dm": (_M, _M, 0, 2, 3, 1), "E": (0, 2, 2, 1, 0, 0), "Em": (0, 2, 2, 0, 0, 0), "G": (3, 2, 0, 0, 0, 3),
    "A7": (_M, 0, 2, 0, 2, 0), "E7": (0, 2, 0, 1, 0, 0), "D7": (_M, _M, 0, 2, 1, 2), "G7": (3, 2, 0, 0, 0, 1),
    "C7": (_M, 3, 2, 3, 1, 0), "Am7": (_M, 0, 2, 0, 1, 0), "Em7": (0, 2, 0, 0, 0, 0), "Dmaj7": (_M, _M, 0, 2, 2, 2),
    "Cmaj7": (_M, 3, 2, 0, 0, 0), "Fmaj7": (_M, _M, 3, 2, 1, 0), "B7": (_M, 2, 1, 2, 0, 2),
    "Asus2": (_M, 0, 2, 2, 0, 0), "Dsus4": (_M, _M, 0, 2, 3, 3), "Esus4": (0, 2, 2, 2, 0, 0),
}
# movable barre shapes: frets relative to the barre fret
BARRE_SHAPES: dict[str, tuple[int | None, ...]] = {
    "E": (0, 2, 2, 1, 0, 0), "Em": (0, 2, 2, 0, 0, 0), "E7": (0, 2, 0, 1, 0, 0), "Em7": (0, 2, 0, 0, 0, 0),
    "A": (_M, 0, 2, 2, 2, 0), "Am": (_M, 0, 2, 2, 1, 0), "A7": (_M, 0, 2, 0, 2, 0), "Am7": (_M, 0, 2, 0, 1, 0),
    "Amaj7": (_M, 0, 2, 1, 2, 0),
}


def guitar_pitches(frets: Sequence[int | None]) -> list[tuple[int, int]]:
    """(string index, pitch) of every played string."""
    return [(s, STANDARD_TUNING[s] + f) for s, f in enumerate(frets) if f is not None]


def guitar_voicing(rng: np.random.Generator) -> tuple[int | None, ...]:
    """An open chord, or a barre shape at fret 1..9; sometimes only the top 4 or 5 of its strings."""
    if rng.random() < 0.5:
        frets = OPEN_SHAPES[str(rng.choice(sorted(OPEN_SHAPES)))]
    else:
        shape = BARRE_SHAPES[str(rng.choice(sorted(BARRE_SHAPES)))]
        barre = int(rng.integers(1, 10))
        frets = tuple(None if f is None else f + barre for f in shape)
    played = [s for s, f in enumerate(frets) if f is not None]
    keep = int(rng.choice([len(played), len(played), max(4, len(played) - 1), 4]))  # every shape has >= 4
    drop = set(played[: len(played) - keep])
    return tuple(None if s in drop else f for s, f in enumerate(frets))


def playable(frets: Sequence[int | None]) -> bool:
    """4-6 strings, frets within 0..MAX_FRET, fretted notes within a four-fret span."""
    used = [f for f in frets if f is not None]
    fretted = [f for f in used if f > 0]
    return (len(frets) == 6 and 4 <= len(used) and all(0 <= f <= MAX_FRET for f in used)
            and (not fretted or max(fretted) - min(fretted) <= 4))


def chord_pitches(root: int, quality: str, inversion: int, size: int) -> tuple[int, ...]:
    """A close-position chord: `quality` on `root`, inverted, then thinned to 2 or extended to 5 notes
    (doubling the bass an octave down, then the top an octave up)."""
    tones = [root + i for i in QUALITIES[quality]]
    inversion %= len(tones)
    tones = tones[inversion:] + [t + 12 for t in tones[:inversion]]
    if size < len(tones):
        tones = [tones[0], tones[-1]] if size == 2 else tones[:size]
    while len(tones) < size:
        tones = [tones[0] - 12, *tones] if len(tones) % 2 else [*tones, tones[-1] + 12]
    return tuple(sorted(set(tones)))


def fit_range(pitches: Sequence[int], lo: int, hi: int) -> tuple[int, ...]:
    """Shift a voicing by octaves into [lo, hi]; notes that still fall outside are dropped."""
    out = list(pitches)
    while out and min(out) < lo and max(out) + 12 <= hi:
        out = [p + 12 for p in out]
    while out and max(out) > hi and min(out) - 12 >= lo:
        out = [p - 12 for p in out]
    return tuple(sorted({p for p in out if lo <= p <= hi}))


def progression(rng: np.random.Generator, count: int) -> list[tuple[int, str]]:
    """`count` chords of a key: (root pitch class, quality) from scale degrees, triads or sevenths."""
    key, minor = int(rng.integers(12)), bool(rng.random() < 0.4)
    scale = MINOR_SCALE if minor else MAJOR_SCALE
    sevenths = rng.random() < 0.35
    chords = []
    for _ in range(count):
        degree = int(rng.integers(7))
        third, fifth, seventh = ((scale[(degree + k) % 7] - scale[degree]) % 12 for k in (2, 4, 6))
        base = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}[(third, fifth)]
        quality = base
        if sevenths:
            quality = {("maj", 11): "maj7", ("maj", 10): "dom7", ("min", 10): "min7", ("dim", 10): "m7b5"}.get(
                (base, seventh), base)
        elif base in ("maj", "min") and rng.random() < 0.15:
            quality = str(rng.choice(["sus2", "sus4"]))
        chords.append(((key + scale[degree]) % 12, quality))
    return chords
