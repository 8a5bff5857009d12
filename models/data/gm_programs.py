"""General MIDI programs mapped to the NSynth taxonomy, with a playable pitch range each.

Programs are 0-based (GM 1..128 minus one). Families and sources use the official NSynth
names and indices. Programs with no NSynth family (timpani, orchestra hit, synth effects,
unpitched percussion, sound effects) are left out of `GM_PROGRAMS` and listed in `SKIPPED`.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES: tuple[str, ...] = ("bass", "brass", "flute", "guitar", "keyboard", "mallet",
                             "organ", "reed", "string", "synth_lead", "vocal")
SOURCES: tuple[str, ...] = ("acoustic", "electronic", "synthetic")
QUALITIES: tuple[str, ...] = ("bright", "dark", "distortion", "fast_decay", "long_release",
                              "multiphonic", "nonlinear_env", "percussive", "reverb", "tempo-synced")
MIDI_LO, MIDI_HI = 21, 108
PERCUSSION_CHANNEL = 9


@dataclass(frozen=True)
class GMProgram:
    program: int
    name: str
    family: str
    source: str
    lo: int
    hi: int

    @property
    def family_index(self) -> int:
        return FAMILIES.index(self.family)

    @property
    def source_index(self) -> int:
        return SOURCES.index(self.source)

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "_").replace("(", "").replace(")", "").replace("+", "")


# program, name, family, source, lowest MIDI note, highest MIDI note
_TABLE: tuple[tuple[int, str, str, str, int, int], ...] = (
    (0, "acoustic grand piano", "keyboard", "acoustic", 21, 108),
    (1, "bright acoustic piano", "keyboard", "acoustic", 21, 108),
    (2, "electric grand piano", "keyboard", "electronic", 21, 108),
    (3, "honky tonk piano", "keyboard", "acoustic", 21, 108),
    (4, "electric piano 1", "keyboard", "electronic", 28, 103),
    (5, "electric piano 2", "keyboard", "electronic", 28, 103),
    (6, "harpsichord", "keyboard", "acoustic", 29, 89),
    (7, "clavinet", "keyboard", "electronic", 29, 96),
    (8, "celesta", "keyboard", "acoustic", 60, 108),
    (9, "glockenspiel", "mallet", "acoustic", 72, 108),
    (10, "music box", "mallet", "acoustic", 53, 101),
    (11, "vibraphone", "mallet", "acoustic", 53, 89),
    (12, "marimba", "mallet", "acoustic", 45, 96),
    (13, "xylophone", "mallet", "acoustic", 60, 108),
    (14, "tubular bells", "mallet", "acoustic", 55, 84),
    (15, "dulcimer", "mallet", "acoustic", 45, 93),
    (16, "drawbar organ", "organ", "electronic", 24, 96),
    (17, "percussive organ", "organ", "electronic", 24, 96),
    (18, "rock organ", "organ", "electronic", 24, 96),
    (19, "church organ", "organ", "acoustic", 21, 96),
    (20, "reed organ", "organ", "acoustic", 29, 96),
    (21, "accordion", "organ", "acoustic", 36, 93),
    (22, "harmonica", "reed", "acoustic", 55, 96),
    (23, "tango accordion", "organ", "acoustic", 36, 93),
    (24, "acoustic guitar nylon", "guitar", "acoustic", 40, 88),
    (25, "acoustic guitar steel", "guitar", "acoustic", 40, 88),
    (26, "electric guitar jazz", "guitar", "electronic", 40, 88),
    (27, "electric guitar clean", "guitar", "electronic", 40, 88),
    (28, "electric guitar muted", "guitar", "electronic", 40, 88),
    (29, "overdriven guitar", "guitar", "electronic", 40, 88),
    (30, "distortion guitar", "guitar", "electronic", 40, 88),
    (31, "guitar harmonics", "guitar", "electronic", 52, 100),
    (32, "acoustic bass", "bass", "acoustic", 28, 67),
    (33, "electric bass finger", "bass", "electronic", 28, 72),
    (34, "electric bass pick", "bass", "electronic", 28, 72),
    (35, "fretless bass", "bass", "electronic", 28, 72),
    (36, "slap bass 1", "bass", "electronic", 28, 72),
    (37, "slap bass 2", "bass", "electronic", 28, 72),
    (38, "synth bass 1", "bass", "synthetic", 21, 72),
    (39, "synth bass 2", "bass", "synthetic", 21, 72),
    (40, "violin", "string", "acoustic", 55, 103),
    (41, "viola", "string", "acoustic", 48, 91),
    (42, "cello", "string", "acoustic", 36, 81),
    (43, "contrabass", "string", "acoustic", 28, 67),
    (44, "tremolo strings", "string", "acoustic", 28, 103),
    (45, "pizzicato strings", "string", "acoustic", 28, 96),
    (46, "orchestral harp", "string", "acoustic", 23, 103),
    (48, "string ensemble 1", "string", "acoustic", 28, 103),
    (49, "string ensemble 2", "string", "acoustic", 28, 103),
    (50, "synth strings 1", "string", "synthetic", 24, 103),
    (51, "synth strings 2", "string", "synthetic", 24, 103),
    (52, "choir aahs", "vocal", "acoustic", 36, 84),
    (53, "voice oohs", "vocal", "acoustic", 36, 84),
    (54, "synth voice", "vocal", "synthetic", 36, 88),
    (56, "trumpet", "brass", "acoustic", 52, 88),
    (57, "trombone", "brass", "acoustic", 34, 77),
    (58, "tuba", "brass", "acoustic", 24, 65),
    (59, "muted trumpet", "brass", "acoustic", 52, 86),
    (60, "french horn", "brass", "acoustic", 34, 79),
    (61, "brass section", "brass", "acoustic", 34, 88),
    (62, "synth brass 1", "brass", "synthetic", 24, 96),
    (63, "synth brass 2", "brass", "synthetic", 24, 96),
    (64, "soprano sax", "reed", "acoustic", 56, 91),
    (65, "alto sax", "reed", "acoustic", 49, 84),
    (66, "tenor sax", "reed", "acoustic", 44, 79),
    (67, "baritone sax", "reed", "acoustic", 36, 72),
    (68, "oboe", "reed", "acoustic", 58, 93),
    (69, "english horn", "reed", "acoustic", 52, 84),
    (70, "bassoon", "reed", "acoustic", 34, 77),
    (71, "clarinet", "reed", "acoustic", 50, 94),
    (72, "piccolo", "flute", "acoustic", 74, 108),
    (73, "flute", "flute", "acoustic", 59, 98),
    (74, "recorder", "flute", "acoustic", 60, 98),
    (75, "pan flute", "flute", "acoustic", 55, 96),
    (76, "blown bottle", "flute", "acoustic", 55, 91),
    (77, "shakuhachi", "flute", "acoustic", 55, 91),
    (78, "whistle", "flute", "acoustic", 60, 100),
    (79, "ocarina", "flute", "acoustic", 60, 91),
    (80, "lead 1 square", "synth_lead", "synthetic", 24, 100),
    (81, "lead 2 sawtooth", "synth_lead", "synthetic", 24, 100),
    (82, "lead 3 calliope", "synth_lead", "synthetic", 36, 100),
    (83, "lead 4 chiff", "synth_lead", "synthetic", 36, 100),
    (84, "lead 5 charang", "synth_lead", "synthetic", 24, 96),
    (85, "lead 6 voice", "synth_lead", "synthetic", 36, 96),
    (86, "lead 7 fifths", "synth_lead", "synthetic", 24, 96),
    (87, "lead 8 bass and lead", "synth_lead", "synthetic", 21, 96),
    (88, "pad 1 new age", "synth_lead", "synthetic", 28, 100),
    (89, "pad 2 warm", "synth_lead", "synthetic", 28, 100),
    (90, "pad 3 polysynth", "synth_lead", "synthetic", 28, 100),
    (91, "pad 4 choir", "vocal", "synthetic", 36, 88),
    (92, "pad 5 bowed", "string", "synthetic", 28, 100),
    (93, "pad 6 metallic", "synth_lead", "synthetic", 28, 100),
    (94, "pad 7 halo", "synth_lead", "synthetic", 28, 100),
    (95, "pad 8 sweep", "synth_lead", "synthetic", 28, 100),
    (104, "sitar", "guitar", "acoustic", 48, 84),
    (105, "banjo", "guitar", "acoustic", 48, 86),
    (106, "shamisen", "guitar", "acoustic", 48, 84),
    (107, "koto", "guitar", "acoustic", 55, 96),
    (108, "kalimba", "mallet", "acoustic", 55, 96),
    (109, "bagpipe", "reed", "acoustic", 55, 84),
    (110, "fiddle", "string", "acoustic", 55, 100),
    (111, "shanai", "reed", "acoustic", 58, 91),
    (112, "tinkle bell", "mallet", "acoustic", 72, 108),
    (114, "steel drums", "mallet", "acoustic", 52, 84),
)

GM_PROGRAMS: dict[int, GMProgram] = {row[0]: GMProgram(*row) for row in _TABLE}

# Left out on purpose: no NSynth family fits, or the sound has no stable pitch.
SKIPPED: dict[int, str] = {
    47: "timpani (pitched drum, no NSynth family)",
    55: "orchestra hit (a sampled chord hit)",
    **{p: "synth effect (no stable pitch)" for p in range(96, 104)},
    113: "agogo (unpitched percussion)",
    **{p: "unpitched percussion" for p in range(115, 120)},
    **{p: "sound effect" for p in range(120, 128)},
}


def programs_for_families(families: list[str] | None) -> list[GMProgram]:
    """The GM programs of the given NSynth families (all mapped programs when None)."""
    chosen = [p for p in GM_PROGRAMS.values() if families is None or p.family in families]
    return sorted(chosen, key=lambda p: p.program)
