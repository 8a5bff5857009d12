"""`latentbridge bench encode`: speed of the exported autoencoder's graphs on ONNX Runtime (no torch).

One run measures, side by side on the same audio (a 20-s harmonic test signal at 16 kHz, mono, threads 1 and
2): the trackers (`controls`), the offline encoder, the streaming encoder in blocks of 128 / 256 / 512
samples (state carried between calls), the streaming harmonic decoder in blocks of 1 / 2 / 4 frames, and the
whole offline chain (controls + encoder + decoder). Rows: {"graph", "mode", "block_samples", "threads",
"seconds_audio", "seconds_wall", "realtime_factor"} (audio seconds per wall second), plus "ratio_to_offline"
for the encoder rows. With the bundled model, one more row per thread count: `morph`, the offline morph of the
bundled demo phrase (4 s, stereo 44.1 kHz: identical channels, morphed once) toward `reed` by 0.8 as `make demo`
runs it, timed from the decoded audio to the morphed audio (resampling both ways included; process start, model
loading and file I/O not).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from export.autoencoder.runtime import Controls, DecoderStream, EncoderStream, OnnxAutoencoder
from export.core.audio_io import read_audio
from export.onnx.bundled import BUNDLED_DIR, default_model

SECONDS = 20.0


def test_signal(seconds: float = SECONDS, rate: int = 16000) -> np.ndarray:
    """A gliding harmonic tone with a tremolo and a little noise (the trackers and encoder do real work)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110.0 * 2 ** (np.sin(2 * np.pi * 0.1 * t) * 1.5)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 9))
    noise = np.random.default_rng(0).normal(0.0, 0.01, t.shape)
    return (0.3 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + noise).astype(np.float32)


def _row(graph: str, mode: str, block: int, threads: int, audio_s: float, wall: float) -> dict[str, Any]:
    return {"graph": graph, "mode": mode, "block_samples": block, "threads": threads, "seconds_audio": audio_s,
            "seconds_wall": wall, "realtime_factor": audio_s / wall}


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def _rows_for(ae: OnnxAutoencoder, audio: np.ndarray, threads: int) -> list[dict[str, Any]]:
    """Every row for one session thread count."""
    usable = audio[: audio.shape[0] // ae.hop * ae.hop]
    audio_s = usable.shape[0] / ae.sample_rate
    controls = ae.controls(usable)
    rows = [_row("controls", "offline", usable.shape[0], threads, audio_s, _timed(lambda: ae.controls(usable))),
            _row("encoder", "offline", usable.shape[0], threads, audio_s,
                 _timed(lambda: ae.graphs["encoder"].run(audio=usable[None])))]
    if "encoder_stream" in ae.graphs:
        for block in (128, 256, 512):
            stream = EncoderStream(ae.graphs["encoder_stream"], ae.frames_per_z, ae.frame_hop)
            wall = _timed(lambda s=stream, b=block: [s.push(usable[i: i + b]) for i in range(0, usable.shape[0], b)])
            rows.append(_row("encoder", "stream", block, threads, audio_s, wall))
    z = ae.align(ae.encode(usable), controls.frames)
    for frames in (1, 2, 4):
        decoder = DecoderStream(ae.graphs["decoder"])

        def decode_blocks(d: DecoderStream = decoder, k: int = frames) -> None:
            for i in range(0, controls.frames, k):
                d.push(z[i: i + k], Controls(controls.f0[i: i + k], controls.periodicity[i: i + k],
                                             controls.loudness[i: i + k]))
        rows.append(_row("decoder", "stream", frames * ae.frame_hop, threads, audio_s, _timed(decode_blocks)))
    chain = _timed(lambda: ae.decode(ae.align(ae.encode(usable), controls.frames), ae.controls(usable)))
    rows.append(_row("chain", "offline", usable.shape[0], threads, audio_s, chain))
    base = rows[1]["seconds_wall"]
    for r in rows:
        if r["graph"] == "encoder":
            r["ratio_to_offline"] = r["seconds_wall"] / base
    return rows


def morph_row(ae: OnnxAutoencoder, threads: int, target: str = "reed", amount: float = 0.8) -> dict[str, Any]:
    """The bundled demo phrase through the offline morph (as `make demo`), with the bundled latent bank."""
    from export.autoencoder.latent_bank import LatentBank
    from export.autoencoder.morphing import morph, parse_target

    audio, rate = read_audio(BUNDLED_DIR / "demo_guitar_phrase.wav")
    bank_path = BUNDLED_DIR / f"{default_model('autoencoder').name}.bank.npz"
    bank = LatentBank.load(bank_path) if bank_path.is_file() else None
    goal = parse_target(target, bank, ae)
    wall = _timed(lambda: morph(ae, audio, rate, goal, amount, bank))
    row = _row("morph", "offline", audio.shape[1], threads, audio.shape[1] / rate, wall)
    return {**row, "input": f"demo_guitar_phrase.wav ({audio.shape[0]} ch, {rate} Hz)", "target": target,
            "amount": amount}


def bench_encode(prefix: str | None = None, seconds: float = SECONDS) -> list[dict[str, Any]]:
    """Every row of the benchmark (see the module docstring)."""
    audio = test_signal(seconds)
    rows = []
    for threads in (1, 2):
        ae = OnnxAutoencoder.open(prefix, threads=threads)
        rows += _rows_for(ae, audio, threads)
        if prefix is None:
            rows.append(morph_row(ae, threads))
    return rows
