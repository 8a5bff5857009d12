"""Statistics of a `dataset poly` render: polyphony over time, the summary.json content and the printed table.

Polyphony is counted on a 100 Hz grid over the whole phrase (release tail included): how many labelled notes are
held (onset <= t < offset) at each frame; levels of MAX_LEVEL notes or more share the last bucket.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.data.instrument_splits import SPLITS, Instrument
from models.data.poly_compose import STYLES

FRAME_RATE = 100
MAX_LEVEL = 8


def polyphony(notes: Sequence[dict], seconds: float) -> list[int]:
    """Frames held at polyphony 0, 1, ..., MAX_LEVEL or more."""
    times = np.arange(int(round(seconds * FRAME_RATE))) / FRAME_RATE
    held = np.zeros(len(times), dtype=int)
    for n in notes:
        held += (times >= n["onset"]) & (times < n["offset"])
    return np.bincount(np.minimum(held, MAX_LEVEL), minlength=MAX_LEVEL + 1).tolist()


def write_json(path: Path, data: dict) -> None:
    """Atomic JSON write, one top-level entry per line."""
    body = ",\n".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in data.items())
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    os.replace(tmp, path)


def summary(records: Sequence[dict], instruments: Sequence[Instrument], split_of: dict[int, str],
            render_seconds: float, out: Path, args: argparse.Namespace, soundfonts: Sequence[Path]) -> dict:
    def per_split(values: dict[str, float]) -> dict[str, float]:
        return {s: values.get(s, 0) for s in SPLITS}

    styles = {style: per_split({s: sum(1 for r in records if r["split"] == s and r["style"] == style)
                                for s in SPLITS}) for style in STYLES}
    frames = np.sum([r["polyphony"] for r in records], axis=0) if records else np.zeros(MAX_LEVEL + 1)
    audio_seconds = sum(r["seconds"] for r in records)
    hours = audio_seconds / 3600
    gains = [r["gain_db"] for r in records]
    return {
        "out": str(out), "phrases": len(records),
        "splits": per_split({s: sum(1 for r in records if r["split"] == s) for s in SPLITS}),
        "styles": styles,
        "notes": per_split({s: sum(r["notes"] for r in records if r["split"] == s) for s in SPLITS}),
        "instruments": per_split({s: sum(1 for i in instruments if split_of[i.id] == s) for s in SPLITS}),
        "polyphony": {(f"{k}+" if k == MAX_LEVEL else str(k)): round(float(f) / max(1, frames.sum()), 4)
                      for k, f in enumerate(frames)},
        "audio_hours": round(hours, 4),
        "render_seconds": round(render_seconds, 2),
        "render_seconds_per_audio_hour": round(render_seconds / hours, 1) if hours else None,
        "audio_seconds_per_second": round(audio_seconds / render_seconds, 1) if render_seconds else None,
        "scaled_down": sum(1 for r in records if r["scaled"]), "min_gain_db": min(gains, default=args.gain_db),
        "gain_db": args.gain_db, "seed": args.seed, "phrases_requested": args.phrases, "limit": args.limit,
        "seconds_per_phrase": args.seconds, "ratios": args.ratios, "workers": args.workers,
        "soundfonts": [str(p) for p in soundfonts],
    }


def table(s: dict) -> str:
    lines = [f"{s['phrases']} phrases ({s['audio_hours']:.2f} h of audio) written to {s['out']} in "
             f"{s['seconds']:.1f} s; rendering {s['render_seconds_per_audio_hour']} s per audio hour "
             f"({s['audio_seconds_per_second']} audio-s/s, {s['workers']} worker(s))",
             f"{'':<16}" + "".join(f"{x:>9}" for x in (*SPLITS, "total"))]

    def row(name: str, counts: dict) -> str:
        return f"{name:<16}" + "".join(f"{counts[x]:>9}" for x in SPLITS) + f"{sum(counts.values()):>9}"

    lines.append(row("instruments", s["instruments"]))
    lines += [row(f"  {style}", counts) for style, counts in s["styles"].items()]
    lines.append(row("phrases", s["splits"]))
    lines.append(row("notes", s["notes"]))
    lines.append("polyphony (share of time): " + ", ".join(f"{k}: {100 * v:.1f}%"
                                                          for k, v in s["polyphony"].items()))
    lines.append(f"gain {s['gain_db']:g} dB; {s['scaled_down']} phrase(s) scaled down to avoid clipping "
                 f"(lowest {s['min_gain_db']:g} dB)")
    off = s.get("left_out_off_key")
    if off and off["report"]:
        lines.append(f"left out (instruments off their keys): {sum(off['phrases'].values())} phrase(s) "
                     f"({', '.join(f'{k} {v}' for k, v in off['phrases'].items())}): "
                     f"{'; '.join(off['instruments']) or 'none drawn'}")
        if off["soundfonts_not_checked"]:
            lines.append(f"not in the tuning report (labels unchecked; run `latentbridge dataset tuning`): "
                         f"{', '.join(off['soundfonts_not_checked'])}")
    return "\n".join(lines)
