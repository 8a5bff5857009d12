"""How the live session's family check depends on where the plucks fall on the engine's blocks and frames (scratch).

Run from the repository root: python bench/results/live_session_phase_2026-12-07/live_phase.py [--windows F] OFFSET...
Renders the live session's plucked input (tests/jack_player.plucks), shifted by OFFSET samples at 48 kHz, through
`morph-reed` at amount 0 and 1 (render_audio, blocks of 256) and prints the note classifier's mean P(reed) over the
test's two spans (A: 21-30 s, B: 31-42 s); with --windows, writes every window's probability to F as JSON.
"""

import copy
import json
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [".", "tests", "tests/realtime"]
from jack_player import plucks  # noqa: E402
from test_live_session import BLOCK, RATE, TIMELINE, family_probabilities  # noqa: E402  (the live check's judge)

from plugin_host.presets import read_preset  # noqa: E402
from plugin_host.render import RenderSettings, render_audio  # noqa: E402

SETTLE = 1.0  # seconds after each OSC change, as the live check waits
SPANS = {"A": (TIMELINE["amount0"] + SETTLE, TIMELINE["amount1"]),
         "B": (TIMELINE["amount1"] + SETTLE, TIMELINE["flood"])}


def main() -> None:
    args = sys.argv[1:]
    out = Path(args.pop(1)) if args and args[0] == "--windows" else None
    offsets = [int(a) for a in args if a != "--windows"]
    played, preset, rows = plucks(62.0, every=1.0), read_preset("morph-reed"), []
    for offset in offsets:
        audio = np.concatenate([np.zeros(offset, np.float32), played])
        row: dict[str, object] = {"offset": offset}
        for amount in (0.0, 1.0):
            chosen = copy.deepcopy(preset)
            chosen["stages"][1]["parameters"]["amount"] = amount
            rendered = render_audio(chosen, audio[None, :], RATE, RenderSettings(blocksize=BLOCK))[0]
            for name, (a, b) in SPANS.items():
                row[f"{name}{amount:.0f}"] = family_probabilities(
                    rendered[offset + int(a * RATE): offset + int(b * RATE)], "reed").tolist()
        rows.append(row)
        print(json.dumps({k: v if k == "offset" else round(float(np.mean(v)), 4) for k, v in row.items()}), flush=True)
    if out is not None:
        out.write_text(json.dumps(rows) + "\n")


if __name__ == "__main__":
    main()
