"""Scratch: `latentbridge ARGS` with the poly voices patched from PATCH in the environment: `nosub` (the
allocator without the sub-octave rule), `voices=N` (N voices in the offline morph), `variant=V` (variants.py),
`subonset` (a peak an octave or two below a sounding voice or another peak starts as any other peak where the
onset head fires at its semitone, and needs `harmonic_on` only where it does not), `held=F,R,O` (the held-loudness
rule with F settle frames, R dB per frame and strike onset O; with or without `voices=N`)."""

import os
import sys
from pathlib import Path

import numpy as np

import export.poly.offline as offline
import export.poly.voice_allocator as voice_allocator
from export.app.cli import main
from export.poly.held_loudness import HeldLoudnessConfig
from export.poly.poly_synth import PolyConfig

sys.path.insert(0, str(Path(__file__).parent))
import variants  # noqa: E402

PATCH = os.environ.get("PATCH", "")


def patch_suboctaves() -> None:
    allocator = voice_allocator.VoiceAllocator
    frame, related = allocator.frame, allocator._harmonic
    below = np.array([-12.0, -24.0])

    def logged_frame(self, activations, onsets=None):  # noqa: ANN001, ANN202 - a patched method
        self.onsets_now = onsets
        return frame(self, activations, onsets)

    def harmonic(self, midi, others):  # noqa: ANN001, ANN202 - a patched method
        above = midi - np.concatenate([self.midi[self.sounding], others])
        if not (np.abs(above[:, None] - below[None, :]) <= 0.35).any():
            return related(self, midi, others)
        semitone = int(np.clip(round(midi) - voice_allocator.LOWEST_MIDI, 0, 87))
        if self.onsets_now is None or self.onsets_now[semitone] < self.config.onset:
            return True
        return bool((np.abs(above[:, None] - voice_allocator.HARMONIC_INTERVALS[None, :]) <= 0.35).any())

    allocator.frame, allocator._harmonic = logged_frame, harmonic


def patch() -> None:
    if "subonset" in PATCH:
        patch_suboctaves()
    if "nosub" in PATCH:
        voice_allocator.RELATED_INTERVALS = voice_allocator.HARMONIC_INTERVALS
    if "variant=" in PATCH:
        variants.install(PATCH.split("variant=")[1].split()[0])
    if "voices=" in PATCH or "held=" in PATCH:
        count = int(PATCH.split("voices=")[1].split()[0]) if "voices=" in PATCH else PolyConfig().voices
        held = HeldLoudnessConfig()
        if "held=" in PATCH:
            frames, rise, onset = PATCH.split("held=")[1].split()[0].split(",")
            held = HeldLoudnessConfig(int(frames), float(rise), float(onset))
        patched, decode = PolyConfig(voices=count, held=held), offline.decode_voices

        def decode_voices(ae, audio, z, controls, progress=None, mode="poly", config=None, tracker=None):  # noqa: ANN001, ANN202
            return decode(ae, audio, z, controls, progress, mode, patched, tracker)  # the caller's config: None

        offline.decode_voices = decode_voices


if __name__ == "__main__":
    patch()
    sys.exit(main(sys.argv[1:]))
