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
import torch

sys.path[:0] = [".", "tests"]
from jack_player import plucks  # noqa: E402

from export.core.audio_io import resample  # noqa: E402
from export.onnx.bundled import BUNDLED_DIR  # noqa: E402
from models.data.gm_programs import FAMILIES  # noqa: E402
from models.training.checkpoint import load_model  # noqa: E402
from plugin_host.presets import read_preset  # noqa: E402
from plugin_host.render import RenderSettings, render_audio  # noqa: E402

RATE, BLOCK = 48000, 256
SPANS = {"A": (21.0, 30.0), "B": (31.0, 42.0)}  # a second after each OSC change of the live session's timeline
MODEL, _ = load_model(BUNDLED_DIR / "classifier_default.pt", "classifier")


def p_reed(audio48: np.ndarray) -> list[float]:
    audio = resample(audio48, RATE, 16000)
    n = MODEL.cfg.n_samples
    windows = np.stack([audio[i: i + n] for i in range(0, audio.shape[0] - n + 1, n // 2)])
    with torch.no_grad():
        probs = torch.softmax(MODEL(torch.from_numpy(windows))[0].double(), -1).numpy()
    return probs[:, FAMILIES.index("reed")].tolist()


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
                row[f"{name}{amount:.0f}"] = p_reed(rendered[offset + int(a * RATE): offset + int(b * RATE)])
        rows.append(row)
        print(json.dumps({k: v if k == "offset" else round(float(np.mean(v)), 4) for k, v in row.items()}), flush=True)
    if out is not None:
        out.write_text(json.dumps(rows) + "\n")


if __name__ == "__main__":
    main()
