"""The decoding end of a stream with switchable voices: `mono` (today's single decoder) or `poly` (one decoder
voice per note the multi-pitch tracker hears, all sharing the (morphed) latent, summed).

Audio is float32 mono at 16 kHz in whole control frames (128 samples); `push(audio [k * hop], z [k, Z],
controls)` returns the k frames' output [k * hop] with no added delay. In `mono` mode, once no other voice
sounds, slot 0 alone is decoded with the monophonic controls: the same call as the monophonic decoder, so the
same audio bit for bit. In `poly` mode a push runs the tracker once over its k frames, then the allocator
(voice_allocator.py) and the per-voice controls (voice_controls.py, all voices at once) frame by frame, and
all N slots over the k frames in one batched call (voice_decoder.py); the tracker streams, so its one run
over k frames gives what k runs of one frame would. Gains move toward each slot's target by at most
`attack_step` per frame on the way up and `release_step` on the way down, and the decoder ramps them within
each frame, so notes, voice changes and mode switches never click. A voice struck again while it sounds (the
allocator's `restruck`; never slot 0 on the monophonic controls, which stays today's path) dips to
`restrike_gain` within that frame and rises back within the next: a 16-ms notch, so the new attack is heard. A
tracked voice held at one pitch swells in loudness only slowly unless its note is struck (held_loudness.py), so a
held note is not heard as struck again while others enter the mixture. A voice one or two octaves below another
is credited only with the loudness its own harmonics carry (`voice_controls.sub_octave_credit`), so a false
sub-octave stays quiet and does not halve the note above it.
`prefetch(audio)` (poly mode) starts the analysis of a push's audio (everything the audio alone decides: the
tracker, the spectra, the allocator, the refined f0s and the loudness shares) on the voices' own thread, and the
next `push` of that audio collects it: a stream runs it beside its encoder and controls (two cores: the ONNX call
and numpy's FFTs release the GIL). The analysis sees the same audio in the
same order, so the output is the same bit for bit. The thread that waits on it (the engine's worker, under
SCHED_FIFO where allowed) lends it its scheduling policy and priority with each job, so ordinary threads cannot
starve it.
Switching to `poly` starts the tracker
and the spectra from silence (their first frames after a switch see zeros before it); switching back lets the
other voices fade out before slot 0 runs alone.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from export.autoencoder.runtime import Controls, OnnxAutoencoder
from export.core.errors import LatentbridgeError
from export.poly.held_loudness import HeldLoudness, HeldLoudnessConfig
from export.poly.tracker import onset_index
from export.poly.voice_allocator import AllocatorConfig, VoiceAllocator
from export.poly.voice_controls import (
    SHARE_WINDOW,
    FrameSpectra,
    harmonic_energy,
    refine_f0,
    share_db,
    sub_octave_credit,
)
from export.poly.voice_decoder import MAX_VOICES, VoiceDecoder

if TYPE_CHECKING:
    from export.poly.tracker import FrameSource, FrameStream

MODES = ("mono", "poly")
# A tracked voice is a pitched note even where YIN calls the mixture aperiodic (chords are): its decoder
# gets at least this periodicity, so six voices do not add six noise floors (measured: fewer false notes).
TRACKED_PERIODICITY = 0.95
DEFAULT_VOICES = 6


@dataclass
class VoiceFrames:
    """A push's voices as the audio alone decides them, each [k, N]: the allocator's gain target, whether the
    slot is on the monophonic controls, the re-strike notch, the refined f0 (Hz), the loudness share (dB) and
    the onset activation at the slot's semitone."""

    target: np.ndarray
    mono: np.ndarray
    notch: np.ndarray
    hz: np.ndarray
    shares: np.ndarray
    onset: np.ndarray


@dataclass(frozen=True)
class PolyConfig:
    voices: int = DEFAULT_VOICES
    on: float = 0.5  # tracker activation that starts a voice
    off: float = 0.3  # activation below which it ends
    attack_step: float = 1.0  # largest gain rise per frame (one frame: an 8 ms ramp)
    release_step: float = 1.0 / 3  # largest gain fall per frame (24 ms)
    restrike_gain: float = 0.0  # a re-struck voice's gain at the end of its frame (1 = no notch)
    held: HeldLoudnessConfig = field(default_factory=HeldLoudnessConfig)  # a held voice's loudness rises slowly


def scheduling() -> tuple[int, int] | None:
    """The calling thread's scheduling policy and priority (None where the OS does not say)."""
    if not hasattr(os, "sched_getscheduler"):
        return None
    return os.sched_getscheduler(0), os.sched_getparam(0).sched_priority


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise LatentbridgeError(f"voices must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def check_voices(voices: int) -> int:
    if not isinstance(voices, int) or not 1 <= voices <= MAX_VOICES:
        raise LatentbridgeError(f"voice count must be an integer from 1 to {MAX_VOICES}, got {voices!r}")
    return voices


class PolySynth:
    """See the module docstring."""

    def __init__(self, ae: OnnxAutoencoder, mode: str = "mono", config: PolyConfig | None = None,
                 tracker: FrameSource | None = None) -> None:
        self.config = config or PolyConfig()
        check_voices(self.config.voices)
        self.ae, self.hop = ae, ae.frame_hop
        self.decoder = VoiceDecoder(ae, self.config.voices, start_gain=np.eye(1, self.config.voices)[0])
        self._tracker = tracker
        self._pool: ThreadPoolExecutor | None = None  # the analysis thread, started by the first prefetch
        self._thread_policy: tuple[int, int] | None = None  # the scheduling it last took
        self.mode = check_mode(mode)
        self._fresh_analysis()
        self.gain = np.eye(1, self.config.voices, dtype=np.float32)[0]  # slot 0 plays from the start

    @property
    def tracker(self) -> FrameSource:
        if self._tracker is None:
            from export.poly.tracker import PolyTracker  # opened on first use: mono chains never load it

            self._tracker = PolyTracker.open()
        return self._tracker

    def _fresh_analysis(self) -> None:
        cfg = self.config
        self.allocator = VoiceAllocator(AllocatorConfig(voices=cfg.voices, on=cfg.on, off=cfg.off))
        self.spectra = FrameSpectra(self.hop, self.ae.sample_rate)
        self.share_spectra = FrameSpectra(self.hop, self.ae.sample_rate, SHARE_WINDOW)
        self.held_loudness = HeldLoudness(cfg.voices, cfg.held)
        self.tracker_stream: FrameStream | None = None
        self.prefetched: tuple[np.ndarray, Future[VoiceFrames]] | None = None
        self.last_midi = np.full(self.config.voices, 60.0)

    def set_mode(self, mode: str) -> None:
        """Switch between `mono` and `poly` (between two pushes; the voices fade, see the module docstring)."""
        if check_mode(mode) != self.mode:
            self.mode = mode
            self._fresh_analysis()

    def prefetch(self, audio: np.ndarray) -> None:
        """Start the analysis of the audio [k * hop] the next `push` gets (poly mode; nothing in mono)."""
        if self.mode != "poly":
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="latentbridge-voices")
        self.prefetched = (audio, self._pool.submit(self._analyse_as, scheduling(), audio))

    def _analyse_as(self, policy: tuple[int, int] | None, audio: np.ndarray) -> VoiceFrames:
        """`_analyse` on the voices' thread, first taking the waiting thread's scheduling where it changed."""
        if policy is not None and policy != self._thread_policy:
            try:
                os.sched_setscheduler(0, policy[0], os.sched_param(policy[1]))
            except OSError:  # not allowed here: the thread keeps its own
                pass
            self._thread_policy = policy
        return self._analyse(audio)

    def _analyse(self, audio: np.ndarray) -> VoiceFrames:
        """Everything about the voices that the audio alone decides, frame by frame: the tracker (its k frames
        in one run), the spectra, the allocator, the refined f0s and the loudness shares."""
        if self.tracker_stream is None:
            self.tracker_stream = self.tracker.stream()
        activations, onsets = self.tracker_stream.push(audio)
        magnitudes, share_magnitudes = self.spectra.push(audio), self.share_spectra.push(audio)
        k, n, bin_hz = activations.shape[0], self.config.voices, self.spectra.bin_hz
        out = VoiceFrames(np.zeros((k, n), np.float32), np.empty((k, n), bool), np.empty((k, n), bool),
                          np.empty((k, n)), np.empty((k, n)), np.empty((k, n), np.float32))
        for i in range(k):
            voices = self.allocator.frame(activations[i], onsets[i])
            out.target[i], out.mono[i] = voices.gain, voices.mono
            out.notch[i] = voices.restruck & ~voices.mono
            named = voices.midi > 0
            self.last_midi[named] = voices.midi[named]
            out.hz[i] = refine_f0(magnitudes[i], self.last_midi, bin_hz)
            sounding = voices.gain > 0
            energy = harmonic_energy(share_magnitudes[i], out.hz[i], bin_hz)
            out.shares[i] = share_db(energy * sub_octave_credit(magnitudes[i], out.hz[i], sounding, bin_hz), sounding)
            out.onset[i] = onsets[i][onset_index(self.last_midi)]
        return out

    def _analysis(self, audio: np.ndarray) -> VoiceFrames:
        """This push's analysis: the prefetched one, else one now."""
        prefetched, self.prefetched = self.prefetched, None
        if prefetched is None:
            return self._analyse(audio)
        if prefetched[0] is not audio:
            raise LatentbridgeError("PolySynth.push got other audio than the prefetch before it")
        return prefetched[1].result()

    @property
    def sounding(self) -> int:
        """Slots with a gain above 0 after the last frame."""
        return int((self.gain > 0).sum())

    def push(self, audio: np.ndarray, z: np.ndarray, controls: Controls) -> np.ndarray:
        k = controls.frames
        if self.mode == "mono" and not self.gain[1:].any() and self.gain[0] == 1:
            return self.decoder.push_first(z, controls.f0, controls.periodicity, controls.loudness)
        f0, periodicity, loudness, target, notch = self._voice_controls(audio, controls)
        gain = np.empty((k, self.config.voices), np.float32)
        for i in range(k):
            step = np.where(target[i] > self.gain, self.config.attack_step, self.config.release_step)
            self.gain = np.clip(target[i], self.gain - step, self.gain + step).astype(np.float32)
            self.gain = np.where(notch[i], np.minimum(self.gain, self.config.restrike_gain), self.gain)
            gain[i] = self.gain
        return self.decoder.push(z, f0, periodicity, loudness, gain)

    def _voice_controls(self, audio: np.ndarray, controls: Controls
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per frame and slot: f0, periodicity, loudness, the gain target and the re-strike notch, each [k, N]."""
        k, n = controls.frames, self.config.voices
        target = np.zeros((k, n), np.float32)
        notch = np.zeros((k, n), bool)
        if self.mode == "mono":  # fading the other voices out: slot 0 back on the monophonic controls
            target[:, 0] = 1.0
            f0, periodicity, loudness = (np.repeat(c[:, None], n, axis=1).astype(np.float32)
                                         for c in (controls.f0, controls.periodicity, controls.loudness))
            return f0, periodicity, loudness, target, notch
        frames = self._analysis(audio)
        target, mono, notch, hz = frames.target, frames.mono, frames.notch, frames.hz
        loudness = np.empty((k, n))
        for i in range(k):  # the held loudness goes frame by frame
            sounding = target[i] > 0
            loudness[i] = self.held_loudness.frame(
                np.where(mono[i], controls.loudness[i], controls.loudness[i] + frames.shares[i]), sounding, mono[i],
                notch[i], hz[i], frames.onset[i])
        f0, periodicity = controls.f0[:, None], controls.periodicity[:, None]
        return (np.where(mono, f0, hz).astype(np.float32),
                np.where(mono, periodicity, np.maximum(periodicity, TRACKED_PERIODICITY)).astype(np.float32),
                loudness.astype(np.float32), target, notch)
