"""Judging autoencoder reconstructions on held-out instruments: CREPE pitch and periodicity, the note
classifier's family accuracy, a multi-resolution STFT distance, the loudness L1 (DDSP: mean |loudness of the
output - loudness of the input| in dB per frame, over frames where the input is above the tracker's floor, by
the model's own A-weighted loudness tracker) with its signed mean (the level difference: negative = quieter),
and a latent interpolation check.

Notes come from the held-out split (instruments never seen in training), spread evenly over instruments,
cut to their first `seconds` (16 kHz). Every decoder gets f0 and loudness estimated from the input audio,
never the label. CREPE and the spectral distance look at [start_s, end_s] of each note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.core.errors import LatentbridgeError
from export.core.progress import bar
from models.autoencoder.model import Autoencoder
from models.classifier.model import FAMILIES, NoteClassifier
from models.controls.loudness import LoudnessConfig, a_weighted_loudness
from models.data.nsynth_reader import NSynthDataset, NSynthExample
from models.data.soundfont_twins import train_twins
from models.judges.crepe import judge_note
from models.judges.spectral_distance import mrstft_distance
from models.spectral.model import SpectralAutoencoder
from models.wavenet.lpc_decoder import EXCITATION_BOUND, LPCWaveNet
from models.wavenet.model import WaveNet

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
# per-variant metrics of the report; loudness_l1 and loudness_difference are in dB
METRICS = ("pitch_accuracy", "periodicity", "family_accuracy", "mrstft", "loudness_l1", "loudness_difference")


@dataclass(frozen=True)
class EvalSettings:
    split: str = "test"
    notes: int = 64
    seconds: float = 2.0
    pitches: tuple[int, int] = (36, 84)
    velocities: tuple[int, ...] = (75, 100, 127)
    start_s: float = 0.1
    end_s: float = 1.9
    crepe: str = "full"
    pairs: int = 8  # interpolation pairs
    seed: int = 0


def eval_notes(data: Path, settings: EvalSettings) -> list[NSynthExample]:
    """`settings.notes` notes, round-robin over the split's instruments in a seeded order."""
    dataset = NSynthDataset(data, settings.split).filter(pitches=settings.pitches,
                                                         velocities=settings.velocities)
    rng = np.random.default_rng(settings.seed)
    pools = []
    for name in dataset.instruments():
        notes = [e for e in dataset.examples if e.instrument_str == name]
        pools.append([notes[i] for i in rng.permutation(len(notes))])
    chosen: list[NSynthExample] = []
    depth = 0
    while len(chosen) < settings.notes and any(depth < len(p) for p in pools):
        chosen += [p[depth] for p in pools if depth < len(p)][: settings.notes - len(chosen)]
        depth += 1
    if not chosen:
        raise LatentbridgeError(f"{data}: no {settings.split} notes with pitch {settings.pitches} and velocity "
                                f"in {list(settings.velocities)}")
    return chosen


def _load(notes: list[NSynthExample], samples: int) -> np.ndarray:
    from export.core.audio_io import MODEL_RATE, read_mono

    audio = np.zeros((len(notes), samples), dtype=np.float32)
    for i, example in enumerate(notes):
        wav = read_mono(example.audio_path, MODEL_RATE)[:samples]
        audio[i, : wav.shape[0]] = wav
    return audio


Decoder = Callable[[np.ndarray], np.ndarray]


def loudness_follow(output: np.ndarray, reference: np.ndarray, cfg: LoudnessConfig) -> tuple[float, float]:
    """(loudness L1, mean signed difference) in dB of mono `output` against `reference` [T]: per frame of the
    A-weighted loudness tracker, over the frames where the reference is above the floor (the shorter signal's
    frames; NaN when no frame counts)."""
    n = min(output.shape[-1], reference.shape[-1])
    pair = torch.from_numpy(np.stack([output[:n], reference[:n]]).astype(np.float32))
    out, ref = a_weighted_loudness(pair, cfg).double().numpy()
    counted = ref > cfg.floor_db
    if not counted.any():
        return float("nan"), float("nan")
    diff = out[counted] - ref[counted]
    return float(np.abs(diff).mean()), float(diff.mean())


def _scores(name: str, audio: np.ndarray, notes: list[NSynthExample], reference: np.ndarray | None,
            classifier: NoteClassifier | None, settings: EvalSettings,
            loudness: LoudnessConfig) -> dict[str, float]:
    pitch, periodicity, distance, l1, bias = [], [], [], [], []
    with bar(f"judging {name}", total=len(notes), unit="note") as progress:
        for i, example in enumerate(notes):
            judged = judge_note(audio[i], example.pitch, settings.start_s, settings.end_s, model=settings.crepe)
            pitch.append(judged.pitch_accuracy)
            periodicity.append(judged.periodicity)
            if reference is not None:
                distance.append(mrstft_distance(audio[i], reference[i], settings.start_s, settings.end_s))
                note_l1, note_bias = loudness_follow(audio[i], reference[i], loudness)
                if not np.isnan(note_l1):
                    l1.append(note_l1)
                    bias.append(note_bias)
            progress.update(1)
    out = {"pitch_accuracy": float(np.mean(pitch)), "periodicity": float(np.mean(periodicity))}
    if distance:
        out["mrstft"] = float(np.mean(distance))
    if l1:
        out["loudness_l1"] = float(np.mean(l1))
        out["loudness_difference"] = float(np.mean(bias))
    if classifier is not None:
        family, _ = classifier.predict(audio)
        labels = np.array([FAMILIES.index(e.instrument_family_str) for e in notes])
        out["family_accuracy"] = float(np.mean(family.argmax(axis=1) == labels))
    return out


@torch.no_grad()
def reconstruct(model: Autoencoder, audio: np.ndarray, batch: int = 8) -> np.ndarray:
    """Autoencoder reconstructions [N, T] (controls estimated from the audio; tail zero-padded to T)."""
    out = np.zeros_like(audio)
    for i in range(0, audio.shape[0], batch):
        recon = model.reconstruct(torch.from_numpy(audio[i: i + batch])).numpy()
        out[i: i + batch, : recon.shape[1]] = recon
    return out


@torch.no_grad()
def baseline(model: SpectralAutoencoder, audio: np.ndarray, batch: int = 8) -> np.ndarray:
    return np.concatenate([model.reconstruct(torch.from_numpy(audio[i: i + batch])).numpy()
                           for i in range(0, audio.shape[0], batch)])


@torch.no_grad()
def interpolate(model: Autoencoder, a: np.ndarray, b: np.ndarray, alphas: tuple[float, ...]) -> np.ndarray:
    """Decode (1 - alpha) z(a) + alpha z(b) with a's pitch and loudness, per alpha: [len(alphas), T]."""
    x = torch.from_numpy(np.stack([a, b]))
    f0, periodicity, loudness = model.compute_controls(x)
    z, _ = model.encode(x)
    frames = f0.shape[1]
    out = []
    for alpha in alphas:
        mix = (1.0 - alpha) * z[:1] + alpha * z[1:]
        audio, _ = model.decode(model.align_z(mix, frames), f0[:1], periodicity[:1], loudness[:1])
        out.append(audio[0].numpy())
    return np.stack(out)


def interpolation_check(model: Autoencoder, classifier: NoteClassifier, notes: list[NSynthExample],
                        audio: np.ndarray, settings: EvalSettings) -> dict[str, Any]:
    """Mean classifier probability of family A and of family B along latent paths A -> B (different
    families, the same pitch where the notes allow, else the nearest)."""
    rng = np.random.default_rng(settings.seed)
    pairs = []
    for i in rng.permutation(len(notes)):
        others = [j for j in range(len(notes)) if notes[j].instrument_family_str != notes[i].instrument_family_str]
        if others:
            j = min(others, key=lambda k: abs(notes[k].pitch - notes[i].pitch))
            pairs.append((int(i), j))
        if len(pairs) == settings.pairs:
            break
    if not pairs:
        raise LatentbridgeError("the interpolation check needs notes of at least two families")
    p_a, p_b = np.zeros(len(ALPHAS)), np.zeros(len(ALPHAS))
    for i, j in pairs:
        family, _ = classifier.predict(interpolate(model, audio[i], audio[j], ALPHAS))
        p_a += family[:, FAMILIES.index(notes[i].instrument_family_str)]
        p_b += family[:, FAMILIES.index(notes[j].instrument_family_str)]
    return {"alphas": list(ALPHAS), "pairs": len(pairs), "p_family_a": (p_a / len(pairs)).round(4).tolist(),
            "p_family_b": (p_b / len(pairs)).round(4).tolist()}


def evaluate(model: Autoencoder, data: Path, settings: EvalSettings, classifier: NoteClassifier | None,
             spectral: SpectralAutoencoder | None, wavenet: WaveNet | LPCWaveNet | None = None,
             temperature: float = 0.7, bound: float = EXCITATION_BOUND
             ) -> tuple[dict[str, Any], dict[str, np.ndarray], list[NSynthExample]]:
    """The eval JSON (see the README), the audio of every variant, and the notes; `bound` is an LPC WaveNet's
    excitation bound (models.wavenet.lpc_decoder.generate)."""
    notes = eval_notes(data, settings)
    samples = int(round(settings.seconds * model.cfg.sample_rate))
    original = _load(notes, samples)
    variants = {"original": original, "reconstruction": reconstruct(model, original)}
    if wavenet is not None:
        from models.evaluation.eval_wavenet import lpc_note_reconstructions, note_reconstructions

        if isinstance(wavenet, LPCWaveNet):
            decoded = lpc_note_reconstructions(wavenet, model, original, temperature, settings.seed, bound)
        else:
            decoded = note_reconstructions(wavenet, model, original, temperature, settings.seed)
        variants["wavenet"] = np.pad(decoded, ((0, 0), (0, samples - decoded.shape[1])))
    if spectral is not None:
        variants["spectral_baseline"] = baseline(spectral, original)
    loudness = model.tracker_configs()[1]
    scores = {name: _scores(name, audio, notes, None if name == "original" else original,
                            classifier if name != "spectral_baseline" else None, settings, loudness)
              for name, audio in variants.items()}
    report: dict[str, Any] = {"notes": len(notes), "instruments": len({e.instrument_str for e in notes}),
                              "split": settings.split, "seconds": settings.seconds}
    for metric in METRICS:
        report[metric] = {name: s[metric] for name, s in scores.items() if metric in s}
    if wavenet is None:
        report["wavenet"] = "not judged (no WaveNet decoder given)"
    else:
        report["wavenet_temperature"] = temperature
        if isinstance(wavenet, LPCWaveNet):
            report["wavenet_excitation_bound"] = bound
    if classifier is not None:
        report["interpolation"] = interpolation_check(model, classifier, notes, original, settings)
    return report, variants, notes


def classifier_report(classifier: NoteClassifier, data: Path, split: str = "test", notes: int = 1000,
                      seed: int = 0) -> dict[str, Any]:
    """Family and pitch accuracy of the note classifier on held-out notes (every velocity and pitch it covers),
    per family and per instrument; where the dataset names its SoundFonts, also without the held-out instruments
    that have a same-sounding twin in train (soundfont_twins.train_twins), which are not held out."""
    cfg = classifier.cfg
    settings = EvalSettings(split=split, notes=notes, pitches=(cfg.pitch_min, cfg.pitch_min + cfg.n_pitches - 1),
                            velocities=(25, 50, 75, 100, 127), seed=seed)
    chosen = eval_notes(data, settings)
    family, pitch = classifier.predict(_load(chosen, cfg.n_samples))
    labels = np.array([FAMILIES.index(e.instrument_family_str) for e in chosen])
    hits = family.argmax(axis=1) == labels
    per_family = {f: float(hits[labels == k].mean()) for k, f in enumerate(FAMILIES) if (labels == k).any()}
    names = np.array([e.instrument_str for e in chosen])
    per_instrument = {str(n): float(hits[names == n].mean()) for n in sorted(set(names))}
    pitch_hits = pitch.argmax(axis=1) == np.array([e.pitch - cfg.pitch_min for e in chosen])
    twins = {k: v for k, v in train_twins(data, split).items() if k in per_instrument}
    clean = ~np.isin(names, list(twins))
    return {"notes": len(chosen), "instruments": len(per_instrument), "split": split,
            "family_accuracy": float(hits.mean()), "pitch_accuracy": float(pitch_hits.mean()),
            "family_accuracy_per_family": per_family, "family_accuracy_per_instrument": per_instrument,
            "instruments_with_train_twin": twins, "notes_without_twins": int(clean.sum()),
            "family_accuracy_without_twins": float(hits[clean].mean()) if clean.any() else None}
