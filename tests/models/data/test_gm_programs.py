"""The General MIDI -> NSynth table: every program is mapped or skipped, ranges are playable, names valid."""

from __future__ import annotations

from models.data.gm_programs import (
    FAMILIES,
    GM_PROGRAMS,
    MIDI_HI,
    MIDI_LO,
    QUALITIES,
    SKIPPED,
    SOURCES,
    programs_for_families,
)


def test_every_program_is_mapped_or_skipped_exactly_once() -> None:
    assert set(GM_PROGRAMS) | set(SKIPPED) == set(range(128))
    assert not set(GM_PROGRAMS) & set(SKIPPED)
    assert all(reason.strip() for reason in SKIPPED.values())


def test_ranges_are_inside_the_nsynth_pitches() -> None:
    for program, gm in GM_PROGRAMS.items():
        assert gm.program == program
        assert MIDI_LO <= gm.lo < gm.hi <= MIDI_HI, gm


def test_family_and_source_names_are_official() -> None:
    assert FAMILIES == ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
                        "synth_lead", "vocal")
    assert SOURCES == ("acoustic", "electronic", "synthetic")
    assert len(QUALITIES) == 10 and QUALITIES[0] == "bright" and QUALITIES[-1] == "tempo-synced"
    for gm in GM_PROGRAMS.values():
        assert gm.family in FAMILIES and gm.source in SOURCES
        assert FAMILIES[gm.family_index] == gm.family and SOURCES[gm.source_index] == gm.source
        assert gm.name == gm.name.lower().strip() and gm.slug.replace("_", "").isalnum()


def test_every_family_has_programs_and_the_family_filter_works() -> None:
    for family in FAMILIES:
        chosen = programs_for_families([family])
        assert chosen and all(p.family == family for p in chosen)
    assert [p.program for p in programs_for_families(None)] == sorted(GM_PROGRAMS)
