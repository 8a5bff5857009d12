"""The `midi_pad` stage: its input passes through delayed by its delay, notes sound at their pitch, the same MIDI at
the same input samples gives the same output whatever the block sizes, and `render --automation` replays MIDI
rows as the live chain played them."""

from __future__ import annotations

import numpy as np
import pytest

from export.autoencoder.runtime import OnnxAutoencoder
from export.core.audio_io import resample
from export.core.pitch_units import hz_to_midi
from plugin_host.control_change import ControlChange
from plugin_host.presets import load_chain, read_preset
from plugin_host.render import RenderSettings, render_audio

RATE = 48000
MIDI_AT = {4800: [b"\x90\x39\x64"], 24000: [b"\x80\x39\x00", b"\x90\x45\x50"], 52000: [b"\x80\x45\x00"]}


def run(blocks: list[int], audio: np.ndarray, prime: bool = False) -> np.ndarray:
    """The midi-pad chain on `audio` in blocks of the given sizes (repeated), MIDI_AT sent at its samples; primed
    first as live and render prime it when `prime`."""
    chain = load_chain("midi-pad", RATE)
    if prime:
        chain.prime(256)
    out, pos, i = [], 0, 0
    while pos < audio.shape[0]:
        n = blocks[i % len(blocks)]
        i += 1
        nxt = min([p for p in MIDI_AT if p > pos] + [audio.shape[0], pos + n])
        if pos in MIDI_AT:
            chain.midi(MIDI_AT[pos])
        out.append(chain.process(audio[pos:nxt]))
        pos = nxt
    return np.concatenate(out)


def test_same_midi_same_output_whatever_the_block_sizes_and_the_input_passes_through() -> None:
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(56000)).astype(np.float32)
    a = run([256], audio)
    b = run([1, 63, 64, 65, 511, 8193], audio)
    np.testing.assert_array_equal(a, b)
    silent = run([256], np.zeros_like(audio))
    delay = load_chain("midi-pad", RATE).delay_samples
    np.testing.assert_allclose(a - silent, np.pad(audio, (delay, 0))[: audio.shape[0]], atol=1e-6)
    assert np.all(silent[:4800] == 0) and np.sqrt(np.mean(silent[8000:20000] ** 2)) > 0.01


def test_notes_sound_at_their_pitch() -> None:
    out = run([256], np.zeros(56000, np.float32))
    ae = OnnxAutoencoder.open()
    for note, (start, end) in ((57, (9000, 23000)), (69, (37500, 52000))):  # 69 after 57's release
        controls = ae.controls(resample(out[start:end], RATE, 16000))
        voiced = controls.periodicity > 0.5
        assert voiced.mean() > 0.8
        assert float(hz_to_midi(np.median(controls.f0[voiced]))) == pytest.approx(note, abs=0.25)


def test_render_replays_midi_rows_as_the_chain_played_them() -> None:
    audio = (0.05 * np.random.default_rng(1).standard_normal(56000)).astype(np.float32)
    live = run([256], audio, prime=True)
    rows = [ControlChange(p / RATE, "", "", m.hex(), "midi", p, RATE) for p, ms in MIDI_AT.items() for m in ms]
    rendered = render_audio(read_preset("midi-pad"), audio[None], RATE, RenderSettings(256, automation=rows))[0]
    delay = load_chain("midi-pad", RATE).delay_samples  # render compensates it
    np.testing.assert_array_equal(rendered[: audio.shape[0] - delay], live[delay:])
    assert np.abs(rendered).max() > 0.1
