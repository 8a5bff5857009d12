"""The bundled style phrases (`latentbridge style phrase --instrument reed|string --out FILE`): short legato
phrases rendered deterministically from a General MIDI SoundFont (FluidR3, the notes dataset's, when present).

Mono 16-bit WAV at 16 kHz, `SECONDS` long: the phrase's notes `STEP_S` apart (each released as the next starts,
the last held), velocity 100, peak-normalised to -6 dBFS.
"""

from __future__ import annotations

import argparse

import numpy as np

from export.core.audio_io import MODEL_RATE, write_audio
from export.core.errors import LatentbridgeError

SECONDS, STEP_S, VELOCITY, PEAK = 3.0, 0.5, 100, 0.5
# instrument -> (GM program, MIDI notes)
PHRASES: dict[str, tuple[int, tuple[int, ...]]] = {
    "reed": (71, (62, 65, 69, 67, 64, 60)),  # clarinet: D4 F4 A4 G4 E4 C4
    "string": (40, (67, 71, 74, 72, 69, 66)),  # violin: G4 B4 D5 C5 A4 F#4
}


def render_style_phrase(instrument: str, soundfont: str) -> np.ndarray:
    """[SECONDS * 16 kHz] float32 mono phrase (see the module docstring)."""
    import tinysoundfont

    if instrument not in PHRASES:
        raise LatentbridgeError(f"unknown style phrase {instrument!r} (choose {', '.join(PHRASES)})")
    program, notes = PHRASES[instrument]
    synth = tinysoundfont.Synth(samplerate=MODEL_RATE, gain=-8.0)
    try:
        sfid = synth.sfload(soundfont)
    except Exception as exc:  # tinysoundfont raises its own exception types or OSError
        raise LatentbridgeError(f"{soundfont}: cannot load SoundFont ({exc})") from exc
    synth.program_select(0, sfid, 0, program)
    step, total = int(STEP_S * MODEL_RATE), int(SECONDS * MODEL_RATE)
    parts = []
    for i, pitch in enumerate(notes):
        synth.noteon(0, pitch, VELOCITY)
        length = step if i < len(notes) - 1 else total - step * (len(notes) - 1)
        parts.append(np.frombuffer(synth.generate(length), dtype=np.float32))
        if i < len(notes) - 1:
            synth.noteoff(0, pitch)
    mono = np.concatenate(parts).reshape(-1, 2).mean(axis=1)
    peak = float(np.abs(mono).max())
    if peak == 0:
        raise LatentbridgeError(f"{soundfont}: rendered silence for GM program {program}")
    return (mono * (PEAK / peak)).astype(np.float32)


def run_phrase(args: argparse.Namespace) -> int:
    from models.data.soundfonts import resolve_soundfonts

    fonts = resolve_soundfonts([args.soundfont] if args.soundfont else None)
    font = next((f for f in fonts if "fluidr3" in f.name.lower()), fonts[0])
    path = write_audio(args.out, render_style_phrase(args.instrument, str(font))[None], MODEL_RATE, "wav16",
                       force=args.force)
    print(f"wrote {path} ({args.instrument}, {SECONDS:g} s, {MODEL_RATE} Hz mono, {font.name})")
    return 0


def add_phrase_parser(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("phrase", help="render a bundled style phrase (reed or string) from a SoundFont",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example: latentbridge style phrase --instrument reed --out reed.wav")
    parser.add_argument("--instrument", choices=sorted(PHRASES), required=True)
    parser.add_argument("--out", required=True, help="output .wav (16-bit, 16 kHz mono)")
    parser.add_argument("--soundfont", default=None, help="SoundFont (default: FluidR3, else the first found)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    parser.set_defaults(func=run_phrase)
