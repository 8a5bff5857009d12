"""The bundled tracker driving the voices on real SoundFont notes: one note alone is the monophonic path, a
triad comes out as three notes where the monophonic path gives one, a chord struck again is attacked again."""

from __future__ import annotations

import numpy as np
import pytest

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.pitch_units import midi_to_hz
from export.poly.offline import decode_voices
from export.poly.poly_synth import PolyConfig
from models.data.note_synth import NoteSynth
from models.data.soundfonts import find_default_soundfonts

SECONDS = 2.0


@pytest.fixture(scope="module")
def ae() -> OnnxAutoencoder:
    return OnnxAutoencoder.open()


@pytest.fixture(scope="module")
def synth() -> NoteSynth:
    return NoteSynth(next(p for p in find_default_soundfonts() if "TimGM6mb" in p.name))


def note(synth: NoteSynth, program: int, pitch: int) -> np.ndarray:
    return synth.render(program, pitch, 100)[: int(SECONDS * 16000)]


def resynth(ae: OnnxAutoencoder, audio: np.ndarray, voices: str) -> np.ndarray:
    """What `morph --amount 0 --voices VOICES` computes on 16 kHz mono audio."""
    controls = ae.controls(audio)
    z = ae.align(ae.encode(audio), controls.frames)
    return decode_voices(ae, audio, z, controls) if voices == "poly" else ae.decode(z, controls)


def energy_at(audio: np.ndarray, midi: int) -> float:
    """Power within 30 cents of the note's fundamental, 0.5-1.5 s in."""
    part = audio[8000:24000] * np.hanning(16000)
    spectrum = np.abs(np.fft.rfft(part, 1 << 16)) ** 2
    hz = np.fft.rfftfreq(1 << 16, 1 / 16000)
    f0 = float(midi_to_hz(midi))
    return float(spectrum[(hz > f0 * 2 ** (-0.3 / 12)) & (hz < f0 * 2 ** (0.3 / 12))].sum())


def test_one_note_through_the_poly_voices_is_the_monophonic_path(ae, synth) -> None:
    for program, pitch in ((0, 60), (40, 67), (25, 52)):  # piano, violin, steel guitar
        audio = note(synth, program, pitch)
        mono = resynth(ae, audio, "mono")
        poly = resynth(ae, audio, "poly")
        assert np.abs(poly - mono).max() < 1e-5, (program, pitch)


def test_a_triad_comes_out_as_three_notes(ae, synth) -> None:
    chord = (48, 52, 55)
    audio = sum(note(synth, 48, p) for p in chord)  # strings
    poly, mono = resynth(ae, audio, "poly"), resynth(ae, audio, "mono")

    def kept(out: np.ndarray) -> float:
        """The weakest note's share of the three fundamentals' energy, relative to its share in the input."""
        return min((energy_at(out, p) / sum(energy_at(out, q) for q in chord))
                   / (energy_at(audio, p) / sum(energy_at(audio, q) for q in chord)) for p in chord)

    assert kept(poly) > 0.25, kept(poly)
    assert kept(mono) < 0.5 * kept(poly), (kept(mono), kept(poly))  # the monophonic path loses one of them


def test_a_chord_struck_again_while_it_rings_gets_a_new_attack(ae, synth) -> None:
    again = 12000  # 0.75 s: the first strum still rings
    chord = [note(synth, 25, p) for p in (52, 56, 59)]  # steel guitar, E major
    audio = sum(chord)
    audio[again:] += sum(c[: audio.shape[0] - again] for c in chord)
    audio *= 0.5
    controls = ae.controls(audio)
    z = ae.align(ae.encode(audio), controls.frames)
    notched = decode_voices(ae, audio, z, controls)
    plain = decode_voices(ae, audio, z, controls, config=PolyConfig(restrike_gain=1.0))
    differs = np.flatnonzero(np.abs(notched - plain) > 1e-6)
    assert differs.size, "no voice was struck again"
    # the notch starts within 48 ms of the second strum (a frame or two of the tracker), not before it
    assert again <= differs[0] < again + 768, differs[0] / 16000
