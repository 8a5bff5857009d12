"""`latentbridge dataset {notes,speech,clips,poly,organs,tuning,phrase,plot}`: training data in the official
layouts (and the SoundFont checks they need).

Each renderer module exposes `add_arguments(parser)` and `run(args) -> int`; they are
imported only when their command runs.
"""

from __future__ import annotations

import argparse
import importlib

RENDERERS: dict[str, tuple[str, str, str]] = {
    "notes": ("models.data.nsynth_render",
              "NSynth-style notes from General MIDI SoundFonts (examples.json + audio/*.wav)",
              "latentbridge dataset notes --out data/notes_small --limit 200"),
    "speech": ("models.data.vctk_render",
               "espeak-ng speakers reading sentences, in the VCTK layout",
               "latentbridge dataset speech --out data/speech --speakers 8 --utterances 20"),
    "clips": ("models.data.mtat_render",
              "tagged multi-instrument music clips, MagnaTagATune layout",
              "latentbridge dataset clips --out data/clips --clips 200"),
    "poly": ("models.data.poly_render",
             "polyphonic phrases (strums, chords, arpeggios, bass + chords, lines) with MIDI and JSON labels",
             "latentbridge dataset poly --out data/poly --limit 40"),
    "organs": ("models.data.organ_fonts",
               "SoundFonts of additive drawbar and pipe organs (and a bass), one random registration each",
               "latentbridge dataset organs --out data/organ_fonts --fonts 12"),
    "tuning": ("models.data.key_tuning",
               "which SoundFont instruments sound off the keys that play them (CREPE on rendered notes)",
               "latentbridge dataset tuning --out tuning.json"),
    "phrase": ("models.data.demo_phrase", "the demo input: a nylon-guitar phrase, 44.1 kHz stereo",
               "latentbridge dataset phrase --out guitar_phrase.wav"),
    "plot": ("models.data.notes_plot", "spectrogram grid of a few rendered notes (PNG)",
             "latentbridge dataset plot data/notes_small --out notes.png"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="render training data in the official layouts",
                                   description="Render training data in the official layouts.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (module_name, help_text, example) in RENDERERS.items():
        sub = kinds.add_parser(kind, help=help_text, description=help_text,
                               epilog=f"Example: {example}")
        importlib.import_module(module_name).add_arguments(sub)
        sub.set_defaults(func=lambda args, m=module_name: importlib.import_module(m).run(args))
