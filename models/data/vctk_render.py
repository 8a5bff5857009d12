"""`latentbridge dataset speech`: espeak-ng speakers reading generated sentences, in the VCTK 0.80 layout.

OUT/wav48/p<ID>/p<ID>_<NNN>.wav, OUT/txt/p<ID>/p<ID>_<NNN>.txt (one line), OUT/speaker-info.txt
(VCTK columns ID AGE GENDER ACCENTS REGION, IDs without the p), OUT/README.txt and OUT/latentbridge.json
(rate, seed, espeak-ng settings and measured median F0 per speaker). Speaker IDs start at 900.
Audio is 16 kHz mono 16-bit WAV although the folder is called wav48 (kept for layout compatibility).
Silence is trimmed lightly: stretches below -50 dBFS at either end are cut to at most 0.1 s (espeak-ng
ends every utterance with ~0.35 s of silence). Everything is written into a temporary directory beside
OUT and renamed into place once complete. The same seed gives the same text and byte-identical audio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np  # already loaded by export.core.audio_io

from export.core.audio_io import MODEL_RATE
from export.core.errors import LatentbridgeError
from models.data.output_dir import check_out, staged_dir
from models.data.workers import unordered_results

FIRST_ID = 900
MARKER = "latentbridge.json"  # what a previous render left; --force replaces only such a directory
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
# espeak-ng language voice -> (VCTK-style ACCENTS, REGION)
ACCENTS: dict[str, tuple[str, str]] = {
    "en": ("English", "Southern England"),  # "en-gb+fN" would ignore the variant; "en" is the same voice
    "en-gb-x-rp": ("English", "Received Pronunciation"),
    "en-gb-x-gbclan": ("English", "Lancaster"),
    "en-gb-x-gbcwmd": ("English", "West Midlands"),
    "en-gb-scotland": ("Scottish", "Edinburgh"),
    "en-us": ("American", "General American"),
    "en-us-nyc": ("American", "New York"),
    "en-029": ("Caribbean", "Caribbean"),
}
# espeak-ng -p ranges per gender: measured median F0 about 75-125 Hz (male), 145-250 Hz (female)
PITCH = {"M": (30, 60), "F": (40, 70)}
MIN_F0_GAP = 30.0  # Hz, female minus male median F0 the speech model relies on
SPEED = (135, 185)  # words per minute
TRIM_DB, TRIM_PAD_S = -50.0, 0.1  # light silence trim: threshold in dBFS, silence kept at each end
README = """Synthetic speech dataset rendered by `latentbridge dataset speech` with espeak-ng.

Layout follows VCTK-Corpus 0.80: wav48/p<ID>/p<ID>_<NNN>.wav, txt/p<ID>/p<ID>_<NNN>.txt and
speaker-info.txt (ID AGE GENDER ACCENTS REGION; IDs without the p). Speaker IDs start at 900.
NOTE: the audio is 16 kHz mono 16-bit WAV, although the folder is named wav48 (kept for layout
compatibility with VCTK readers). Leading and trailing silence below -50 dBFS is cut to at most
0.1 s per end. Ages, accents and regions describe espeak-ng voice settings, not people.
latentbridge.json lists the seed, the sample rate and each speaker's espeak-ng voice, pitch and
speed, with the median F0 measured on the rendered audio.
"""


@dataclass(frozen=True)
class Speaker:
    id: str  # "p900"
    gender: str  # "M" or "F"
    age: int
    language: str  # espeak-ng language voice, a key of ACCENTS
    variant: str  # espeak-ng voice variant, e.g. "m3"
    pitch: int  # espeak-ng -p
    speed: int  # espeak-ng -s

    @property
    def voice(self) -> str:
        return f"{self.language}+{self.variant}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created; see --force)")
    parser.add_argument("--speakers", type=int, default=8, help="number of speakers, half male half female")
    parser.add_argument("--utterances", type=int, default=40, help="utterances per speaker")
    parser.add_argument("--seed", type=int, default=0, help="seed for the speakers' settings and sentences")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    parser.add_argument("--force", action="store_true", help="replace a previous `dataset speech` output")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def make_speakers(n: int, seed: int) -> list[Speaker]:
    """`n` speakers alternating M, F (so half each; the extra one is male), settings drawn from `seed`."""
    rng = random.Random(f"speakers-{seed}")
    variants = {"M": rng.sample(MALE_VARIANTS, len(MALE_VARIANTS)),
                "F": rng.sample(FEMALE_VARIANTS, len(FEMALE_VARIANTS))}
    languages = rng.sample(sorted(ACCENTS), len(ACCENTS))
    speakers = []
    for i in range(n):
        gender = "M" if i % 2 == 0 else "F"
        pool = variants[gender]
        speakers.append(Speaker(id=f"p{FIRST_ID + i}", gender=gender, age=rng.randint(19, 64),
                                language=languages[i % len(languages)], variant=pool[(i // 2) % len(pool)],
                                pitch=rng.randint(*PITCH[gender]), speed=rng.randint(*SPEED)))
    return speakers


def make_script(speakers: list[Speaker], utterances: int, seed: int) -> list[tuple[Speaker, str, str]]:
    """(speaker, utterance id, sentence) for every utterance; each speaker reads different sentences."""
    from models.data.sentences import sentences

    pool = sentences(seed, len(speakers) * utterances)
    return [(spk, f"{spk.id}_{j + 1:03d}", pool[k * utterances + j])
            for k, spk in enumerate(speakers) for j in range(utterances)]


Task = tuple[str, int, int, str, str, str]  # voice, pitch, speed, root, utterance id, text


def _render_one(task: Task) -> tuple[str, int, np.ndarray]:
    """Worker: speak, write WAV + transcript; (utterance id, samples, per-frame F0 in Hz)."""
    from export.core.audio_io import write_audio
    from models.data.espeak_voice import EspeakVoice, frame_f0, speak

    voice, pitch, speed, root, utt, text = task
    audio = trim_silence(speak(text, EspeakVoice(voice, pitch, speed)))
    speaker = utt.split("_")[0]
    write_audio(Path(root) / "wav48" / speaker / f"{utt}.wav", audio, MODEL_RATE, fmt="wav16")
    _write_text(Path(root) / "txt" / speaker / f"{utt}.txt", text + "\n")
    return utt, audio.size, frame_f0(audio)


def trim_silence(audio: np.ndarray, sample_rate: int = MODEL_RATE) -> np.ndarray:
    """Cut leading and trailing samples below TRIM_DB dBFS, keeping up to TRIM_PAD_S seconds at each end."""
    loud = np.flatnonzero(np.abs(audio) > 10 ** (TRIM_DB / 20))
    if not loud.size:
        return audio
    pad = int(TRIM_PAD_S * sample_rate)
    return audio[max(loud[0] - pad, 0):loud[-1] + pad + 1]


def _write_text(path: Path, text: str) -> None:
    """Atomic text write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _render(tasks: list[Task], workers: int) -> Iterator[tuple[str, int, np.ndarray]]:
    from export.core.progress import bar

    with bar("speaking", total=len(tasks), unit="utt") as progress:
        for result in unordered_results(_render_one, tasks, workers, chunksize=4):
            progress.update(1)
            yield result


def speaker_info(speakers: list[Speaker]) -> str:
    """speaker-info.txt in VCTK 0.80's column format."""
    lines = ["ID  AGE  GENDER  ACCENTS  REGION"]
    for s in speakers:
        accent, region = ACCENTS[s.language]
        lines.append(f"{s.id[1:]:<5}{s.age:<5}{s.gender:<5}{accent:<11}{region}")
    return "\n".join(lines) + "\n"


def _espeak_version() -> str:
    from models.data.espeak_voice import espeak_binary

    done = subprocess.run([espeak_binary(), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().split("  Data at")[0]


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out = Path(args.out)
    if args.speakers < 1:
        raise LatentbridgeError("--speakers must be at least 1")
    if args.speakers > 99:
        raise LatentbridgeError("--speakers must be at most 99 (IDs p900..p998)")
    if not 1 <= args.utterances <= 999:
        raise LatentbridgeError("--utterances must be between 1 and 999")
    if args.workers < 1:
        raise LatentbridgeError("--workers must be at least 1")
    version = _espeak_version()
    check_out(out, args.force, (MARKER,), "dataset speech")
    speakers = make_speakers(args.speakers, args.seed)
    script = make_script(speakers, args.utterances, args.seed)

    with staged_dir(out) as tmp:
        tasks = [(s.voice, s.pitch, s.speed, str(tmp), utt, text) for s, utt, text in script]
        samples: dict[str, int] = dict.fromkeys((s.id for s in speakers), 0)
        f0: dict[str, list[np.ndarray]] = {s.id: [] for s in speakers}
        for utt, length, frames in _render(tasks, args.workers):
            spk = utt.split("_")[0]
            samples[spk] += length
            f0[spk].append(frames)
        table = []
        for s in speakers:
            frames = np.concatenate(f0[s.id])
            accent, region = ACCENTS[s.language]
            table.append({**asdict(s), "voice": s.voice, "accent": accent, "region": region,
                          "utterances": args.utterances, "seconds": round(samples[s.id] / MODEL_RATE, 2),
                          "median_f0_hz": round(float(np.median(frames)), 1) if frames.size else 0.0})
        summary = {"sample_rate": MODEL_RATE, "format": "wav16 mono (folder named wav48)",
                   "trim": {"threshold_dbfs": TRIM_DB, "kept_silence_s": TRIM_PAD_S},
                   "seed": args.seed, "espeak_ng": version, "speakers": table,
                   "utterances": len(script), "audio_seconds": round(sum(samples.values()) / MODEL_RATE, 2),
                   "median_f0_hz_by_gender": _by_gender(table)}
        (tmp / "speaker-info.txt").write_text(speaker_info(speakers), encoding="utf-8")
        (tmp / "README.txt").write_text(README, encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    elapsed = time.monotonic() - started
    summary = {"out": str(out), **summary, "render_seconds": round(elapsed, 2),
               "utterances_per_second": round(len(script) / max(elapsed, 1e-9), 2)}
    print(json.dumps(summary, indent=1) if args.json else _table(summary))
    return 0


def _by_gender(table: list[dict]) -> dict[str, float]:
    """Median over speakers of their median F0, per gender."""
    return {g: round(float(np.median([row["median_f0_hz"] for row in table if row["gender"] == g])), 1)
            for g in ("M", "F") if any(row["gender"] == g for row in table)}


def _table(summary: dict) -> str:
    lines = [f"{summary['utterances']} utterances ({summary['audio_seconds']:.1f} s of audio) written to "
             f"{summary['out']} in {summary['render_seconds']:.1f} s "
             f"({summary['utterances_per_second']:.1f} utterances/s)",
             f"{'speaker':<9}{'gender':<8}{'accent':<34}{'voice':<30}{'utts':>6}{'seconds':>9}{'F0 Hz':>8}"]
    for row in summary["speakers"]:
        accent = f"{row['accent']} ({row['region']})"
        voice = f"{row['voice']} -p{row['pitch']} -s{row['speed']}"
        lines.append(f"{row['id']:<9}{row['gender']:<8}{accent:<34}{voice:<30}{row['utterances']:>6}"
                     f"{row['seconds']:>9.1f}{row['median_f0_hz']:>8.1f}")
    by_gender = summary["median_f0_hz_by_gender"]
    lines.append("median F0 by gender: " + ", ".join(f"{g} {hz:.1f} Hz" for g, hz in by_gender.items()))
    if "M" in by_gender and "F" in by_gender and by_gender["F"] - by_gender["M"] < MIN_F0_GAP:
        lines.append(f"warning: female median F0 is less than {MIN_F0_GAP:g} Hz above male")
    return "\n".join(lines)
