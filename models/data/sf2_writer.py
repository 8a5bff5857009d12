"""A minimal SoundFont 2.01 writer: mono 16-bit samples, instruments made of zones, one bank-0 preset per program.

Samples are float32 in [-1, 1] at their own rate (`Sample.rate`, any positive integer: a single-cycle loop can
be stored at whatever rate makes its period a whole number of samples), each with a loop. Every instrument zone
names its sample and a few generators (SoundFont 2.01 section 8.1.2 numbering, `GEN`); a preset is one global zone
pointing at its instrument. What this writes is what the spec requires and nothing more: no modulators (the
spec's default modulators apply), no one-shot samples, no stereo links, no ROM samples.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GEN = {  # generator operators used here (SoundFont 2.01, 8.1.2)
    "vibLfoToPitch": 6, "freqVibLFO": 24, "attackVolEnv": 34, "decayVolEnv": 36, "sustainVolEnv": 37,
    "releaseVolEnv": 38, "instrument": 41, "keyRange": 43, "initialAttenuation": 48, "sampleID": 53,
    "sampleModes": 54,
}
LOOP_CONTINUOUSLY = 1
TRAILING_ZEROS = 46  # the spec's minimum of zero samples after every sample
NAME_BYTES = 20


@dataclass(frozen=True)
class Sample:
    name: str
    audio: np.ndarray  # float32 [n]
    rate: int
    root_key: int
    loop: tuple[int, int]  # [start, end) in samples


@dataclass(frozen=True)
class Zone:
    sample: int  # index into the font's samples
    keys: tuple[int, int] = (0, 127)
    generators: dict[str, int] = field(default_factory=dict)  # GEN name -> signed 16-bit amount


@dataclass(frozen=True)
class Instrument:
    name: str
    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class Preset:
    name: str
    program: int
    instrument: int  # index into the font's instruments


def timecents(seconds: float) -> int:
    """An envelope time as the spec's timecents (1200 log2 seconds)."""
    return int(round(1200 * np.log2(max(seconds, 0.001))))


def _name(text: str) -> bytes:
    return text.encode("ascii", "replace")[: NAME_BYTES - 1].ljust(NAME_BYTES, b"\0")


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _list(tag: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", tag + b"".join(chunks))


def _generator(name: str, amount: int) -> bytes:
    return struct.pack("<Hh", GEN[name], amount)


def _key_range(lo: int, hi: int) -> bytes:
    return struct.pack("<HBB", GEN["keyRange"], lo, hi)


def _sample_data(samples: list[Sample]) -> tuple[bytes, list[int]]:
    """The smpl chunk's body and each sample's start (in samples)."""
    parts, starts, at = [], [], 0
    for s in samples:
        pcm = np.round(np.clip(np.asarray(s.audio, np.float64), -1, 1) * 32767).astype("<i2")
        starts.append(at)
        parts.append(pcm.tobytes() + bytes(2 * TRAILING_ZEROS))
        at += pcm.shape[0] + TRAILING_ZEROS
    return b"".join(parts), starts


def write_sf2(path: Path, name: str, samples: list[Sample], instruments: list[Instrument],
              presets: list[Preset]) -> None:
    """Write the font to `path` (see the module docstring)."""
    smpl, starts = _sample_data(samples)
    shdr = b""
    for s, start in zip(samples, starts, strict=True):
        shdr += _name(s.name) + struct.pack("<IIIIIBbHH", start, start + s.audio.shape[0], start + s.loop[0],
                                            start + s.loop[1], s.rate, s.root_key, 0, 0, 1)  # no correction, mono
    shdr += _name("EOS") + bytes(26)

    inst, ibag, igen = b"", b"", b""
    bags = gens = 0
    for instrument in instruments:
        inst += _name(instrument.name) + struct.pack("<H", bags)
        for zone in instrument.zones:
            ibag += struct.pack("<HH", gens, 0)
            body = [_key_range(*zone.keys)]
            body += [_generator(k, v) for k, v in zone.generators.items()]
            body.append(_generator("sampleID", zone.sample))
            igen += b"".join(body)
            bags, gens = bags + 1, gens + len(body)
    inst += _name("EOI") + struct.pack("<H", bags)
    ibag += struct.pack("<HH", gens, 0)
    igen += bytes(4)

    phdr, pbag, pgen = b"", b"", b""
    for i, preset in enumerate(sorted(presets, key=lambda p: p.program)):
        phdr += _name(preset.name) + struct.pack("<HHHIII", preset.program, 0, i, 0, 0, 0)
        pbag += struct.pack("<HH", i, 0)
        pgen += _generator("instrument", preset.instrument)
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, len(presets), 0, 0, 0)
    pbag += struct.pack("<HH", len(presets), 0)
    pgen += bytes(4)

    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", name.encode("ascii", "replace") + b"\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", smpl))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", bytes(10)),
                 _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", bytes(10)),
                 _chunk(b"igen", igen), _chunk(b"shdr", shdr))
    path.write_bytes(_chunk(b"RIFF", b"sfbk" + info + sdta + pdta))
