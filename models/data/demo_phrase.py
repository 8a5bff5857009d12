"""The bundled demo input: a short monophonic nylon-guitar phrase rendered from a GM SoundFont, 44.1 kHz stereo.

Notes E3 G3 A3 B3 D4 then E4 held (MIDI 52 55 57 59 62 64), 0.45 s apart, velocity 90, GM program 24
(acoustic nylon guitar) through tinysoundfont's own stereo output; 4.0 s, peak-normalised to -3 dBFS.
`latentbridge dataset phrase --out FILE` writes it (the README's main command morphs it).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from export.core.audio_io import write_audio
from export.core.errors import LatentbridgeError

RATE = 44100
NOTES = (52, 55, 57, 59, 62, 64)
STEP_SECONDS = 0.45
SECONDS = 4.0
PROGRAM = 24


def render_phrase(soundfont: str | os.PathLike[str]) -> np.ndarray:
    """(2, SECONDS * RATE) float32 stereo phrase (see the module docstring)."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=RATE, gain=-8.0)
    try:
        sfid = synth.sfload(str(soundfont))
    except Exception as exc:  # tinysoundfont raises its own exception types or OSError
        raise LatentbridgeError(f"{soundfont}: cannot load SoundFont ({exc})") from exc
    synth.program_select(0, sfid, 0, PROGRAM)
    step = int(STEP_SECONDS * RATE)
    parts = []
    for i, pitch in enumerate(NOTES):
        synth.noteon(0, pitch, 90)
        length = step if i < len(NOTES) - 1 else int(SECONDS * RATE) - step * (len(NOTES) - 1)
        if i < len(NOTES) - 1:
            parts.append(np.frombuffer(synth.generate(length), dtype=np.float32))
            synth.noteoff(0, pitch)
        else:
            parts.append(np.frombuffer(synth.generate(length), dtype=np.float32))
    stereo = np.concatenate(parts).reshape(-1, 2).T.copy()
    peak = float(np.abs(stereo).max())
    if peak == 0:
        raise LatentbridgeError(f"{soundfont}: rendered silence for GM program {PROGRAM}")
    return (stereo * (10 ** (-3 / 20) / peak)).astype(np.float32)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output .wav (16-bit, 44.1 kHz stereo)")
    parser.add_argument("--soundfont", default=None, help="SoundFont (default: TimGM6mb, else the first found)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")


def run(args: argparse.Namespace) -> int:
    from models.data.soundfonts import resolve_soundfonts

    fonts = resolve_soundfonts([args.soundfont] if args.soundfont else None)
    font = next((f for f in fonts if "timgm6mb" in f.name.lower()), fonts[0])
    path = write_audio(args.out, render_phrase(font), RATE, "wav16", force=args.force)
    print(f"wrote {path} ({SECONDS:g} s, {RATE} Hz stereo, {font.name})")
    return 0
