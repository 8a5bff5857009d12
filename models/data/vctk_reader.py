"""Reading VCTK-layout speech datasets: ours (`dataset speech`) and the real VCTK releases, unchanged.

0.80 (and ours): <root>/wav48/p225/p225_001.wav, speaker-info.txt IDs without the "p".
0.92: <root>/wav48_silence_trimmed/p225/p225_001_mic1.flac (mic1 by default, or mic2), IDs with the
"p" and an extra COMMENTS column (kept in `region`). Transcripts are <root>/txt/p225/p225_001.txt; an
utterance without one (real VCTK has a few) is kept with text "". Items are (VCTKUtterance, float32
mono audio at 16 kHz, resampled by export.core.audio_io). Utterances are sorted by utterance_id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.core.audio_io import MODEL_RATE, read_mono
from export.core.errors import LatentbridgeError

AUDIO_DIRS = (("wav48_silence_trimmed", "0.92"), ("wav48", "0.80"))
MICS = ("mic1", "mic2")
GENDERS = ("M", "F")
_ID = re.compile(r"^[ps]?\d+$")


@dataclass(frozen=True)
class VCTKSpeaker:
    id: str  # "p225" (the "p" added when speaker-info.txt leaves it out)
    age: int | None
    gender: str  # "M", "F" or "" when speaker-info.txt does not say
    accent: str
    region: str  # REGION (and, in 0.92, COMMENTS), as written; may be ""


@dataclass(frozen=True)
class VCTKUtterance:
    speaker: str
    utterance_id: str  # "p225_001"
    gender: str
    accent: str
    text: str  # "" when the release has no transcript for this utterance
    audio_path: Path


def _speaker_id(token: str) -> str:
    return token if token[0] in "ps" else f"p{token}"


def parse_speaker_info(path: str | Path) -> dict[str, VCTKSpeaker]:
    """Speaker ID -> VCTKSpeaker; missing trailing fields are empty, malformed lines raise."""
    path = Path(path)
    if not path.is_file():
        raise LatentbridgeError(f"{path}: no such file (a VCTK dataset needs speaker-info.txt)")
    speakers = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].upper() == "ID":
            continue
        where = f"{path}:{number}"
        if not _ID.match(fields[0]):
            raise LatentbridgeError(f"{where}: malformed speaker line (ID {fields[0]!r} is not a VCTK ID)")
        age: int | None = None
        if len(fields) > 1:
            if not fields[1].isdigit():
                raise LatentbridgeError(f"{where}: malformed speaker line "
                                        f"(AGE {fields[1]!r} is not a number)")
            age = int(fields[1])
        gender = fields[2].upper() if len(fields) > 2 else ""
        if gender and gender not in GENDERS:
            raise LatentbridgeError(f"{where}: malformed speaker line (GENDER {fields[2]!r} is not M or F)")
        speaker = VCTKSpeaker(id=_speaker_id(fields[0]), age=age, gender=gender,
                              accent=fields[3] if len(fields) > 3 else "", region=" ".join(fields[4:]))
        speakers[speaker.id] = speaker
    return speakers


def find_audio_dir(root: Path) -> tuple[Path, str]:
    """(audio directory, release '0.92' or '0.80') under `root`."""
    for name, release in AUDIO_DIRS:
        if (root / name).is_dir():
            return root / name, release
    raise LatentbridgeError(f"{root}: no wav48_silence_trimmed/ or wav48/ folder (not a VCTK dataset)")


def _audio_files(audio_dir: Path, release: str, mic: str) -> dict[str, Path]:
    """Utterance ID -> audio file."""
    if release == "0.92":
        suffix = f"_{mic}.flac"
        return {f.name[:-len(suffix)]: f for f in audio_dir.glob(f"*/*{suffix}")}
    return {f.stem: f for f in audio_dir.glob("*/*.wav")}


class VCTKDataset:
    """Utterances of a VCTK-layout dataset, optionally restricted to some speakers and/or one gender."""

    def __init__(self, root: str | Path, speakers: Iterable[str] | None = None, gender: str | None = None,
                 mic: str = "mic1", sample_rate: int = MODEL_RATE) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LatentbridgeError(f"{self.root}: no such dataset directory")
        if mic not in MICS:
            raise LatentbridgeError(f"mic {mic!r}: choose mic1 or mic2")
        if gender is not None and gender.upper() not in GENDERS:
            raise LatentbridgeError(f"gender {gender!r}: choose M or F")
        info = parse_speaker_info(self.root / "speaker-info.txt")
        audio_dir, self.release = find_audio_dir(self.root)
        self.sample_rate = sample_rate
        wanted = None if speakers is None else {_speaker_id(s) for s in speakers}
        if wanted is not None:
            unknown = sorted(wanted - set(info) - {d.name for d in audio_dir.iterdir() if d.is_dir()})
            if unknown:
                raise LatentbridgeError(f"{self.root}: unknown speaker {unknown[0]}")
        utterances = []
        for utt, audio in sorted(_audio_files(audio_dir, self.release, mic).items()):
            spk_id = audio.parent.name
            spk = info.get(spk_id, VCTKSpeaker(spk_id, None, "", "", ""))
            if wanted is not None and spk_id not in wanted:
                continue
            if gender is not None and spk.gender != gender.upper():
                continue
            txt = self.root / "txt" / spk_id / f"{utt}.txt"
            text = txt.read_text(encoding="utf-8", errors="replace").strip() if txt.is_file() else ""
            utterances.append(VCTKUtterance(spk_id, utt, spk.gender, spk.accent, text, audio))
        if not utterances:
            raise LatentbridgeError(f"{self.root}: no {mic + ' ' if self.release == '0.92' else ''}"
                                    f"utterance matches (release {self.release})")
        self.utterances: tuple[VCTKUtterance, ...] = tuple(utterances)
        used = {u.speaker for u in utterances}
        self.speakers: dict[str, VCTKSpeaker] = {
            s: info.get(s, VCTKSpeaker(s, None, "", "", "")) for s in sorted(used)}

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[VCTKUtterance, np.ndarray]:
        utt = self.utterances[index]
        return utt, read_mono(utt.audio_path, self.sample_rate)
