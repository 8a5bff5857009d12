"""`latentbridge render STEM... --preset P --out DIR`: stems through a preset's chain offline (ONNX Runtime
only), one output per stem with its rate, channels and length, plus a JSON sidecar; several stems run in
parallel worker processes (`--workers`)."""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from export.core.audio_io import FORMAT_SUFFIX, check_outputs
from export.core.errors import LatentbridgeError

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg")


def stems(items: list[str]) -> list[Path]:
    """Files as given, folders expanded to the audio files inside and glob patterns (quoted, e.g. 'mix/*.wav')
    to what they match (sorted); one-line error if none."""
    import glob

    found: list[Path] = []
    for item in items:
        path = Path(item)
        if not path.exists() and glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise LatentbridgeError(f"{item}: the pattern matches no file")
            found += matches
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise LatentbridgeError(f"{path}: no such stem (file or folder)")
    if not found:
        raise LatentbridgeError("no stems to render")
    return found


def output_paths(stem: Path, out_dir: Path, fmt: str, force: bool) -> tuple[Path, Path]:
    """(output, sidecar) of a stem; one-line errors before any work if they exist or would replace the stem."""
    target = out_dir / f"{stem.stem}{FORMAT_SUFFIX[fmt]}"
    sidecar = target.with_suffix(".json")
    check_outputs([target, sidecar], [stem], force)
    return target, sidecar


def write_result(stem: Path, audio: Any, rate: int, rendered: Any, preset: dict[str, Any], settings: Any,
                 out_dir: Path, fmt: str, force: bool, seed: int, seconds: float,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the output and its JSON sidecar (atomically); the sidecar's report."""
    from export.core.audio_io import atomic_output, write_audio
    from plugin_host.render import model_files

    target, sidecar = output_paths(stem, out_dir, fmt, force)
    write_audio(target, rendered, rate, fmt, force=force)
    report = {"input": str(stem), "output": str(target), "preset": preset, "sample_rate": rate,
              "channels": int(audio.shape[0]), "frames": int(audio.shape[1]), "format": fmt,
              "stereo": settings.stereo, "blocksize": settings.blocksize, "seed": seed,
              "automation": [vars(p) for p in settings.automation], "models": model_files(preset),
              "seconds": round(seconds, 3), "realtime_factor": round(audio.shape[1] / rate / seconds, 2),
              **(extra or {})}
    with atomic_output(sidecar, force=force) as tmp:
        tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def render_file(stem: Path, preset: dict[str, Any], settings: Any, out_dir: Path, fmt: str, force: bool,
                seed: int, show_progress: bool) -> dict[str, Any]:
    import numpy as np

    from export.core.audio_io import read_audio
    from export.core.progress import bar
    from plugin_host.render import render_audio

    np.random.seed(seed)
    output_paths(stem, out_dir, fmt, force)
    start = time.perf_counter()
    audio, rate = read_audio(stem)
    with bar(stem.name, total=audio.size, unit="sample") as progress:
        rendered = render_audio(preset, audio, rate, settings, progress.update if show_progress else None)
    return write_result(stem, audio, rate, rendered, preset, settings, out_dir, fmt, force, seed,
                        time.perf_counter() - start)


def render_with_ray(args: argparse.Namespace, files: list[Path], preset: dict[str, Any], settings: Any,
                    out_dir: Path) -> list[dict[str, Any]]:
    from export.core.audio_io import read_audio
    from export.core.progress import bar
    from plugin_host.render_ray import connect, render_on_ray

    for f in files:
        output_paths(f, out_dir, args.format, args.force)
    jobs = [read_audio(f) for f in files]
    ray = connect(args.ray, args.workers)
    reports: list[dict[str, Any]] = [{} for _ in files]
    with bar(f"stems on Ray ({args.ray})", total=len(files), unit="file") as overall:
        def done(i: int, rendered: Any, seconds: float) -> None:
            audio, rate = jobs[i]
            reports[i] = write_result(files[i], audio, rate, rendered, preset, settings, out_dir, args.format,
                                      args.force, args.seed, seconds, {"ray": args.ray})
            overall.update(1)
        render_on_ray(ray, jobs, preset, settings, args.seed, done)
    return reports


NEURAL = ("resynth", "morph")


def with_option(preset: dict[str, Any], key: str, value: str | float | None, flag: str | None = None) -> dict[str, Any]:
    """The preset with `key` (`voices`, `decoder`, `align_attacks_ms`) set to `value` on every resynth and morph
    stage (unchanged for None; one-line error naming `flag` (default --KEY) when the preset has no such stage)."""
    if value is None:
        return preset
    if not any(s["kind"] in NEURAL for s in preset["stages"]):
        raise LatentbridgeError(f"{flag or '--' + key}: preset {preset['name']} has no resynth or morph stage")
    return {**preset, "stages": [dict(s, **{key: value}) if s["kind"] in NEURAL else s for s in preset["stages"]]}


def check_decoders(preset: dict[str, Any]) -> dict[str, Any]:
    """The preset, once every resynth and morph stage's decoder can play its voices (one-line error before any
    work: a WaveNet stage has one voice)."""
    from export.wavenet.stream_synth import check_decoder

    for s in preset["stages"]:
        if s["kind"] in NEURAL:
            try:
                check_decoder(s.get("decoder", "harmonic"), s.get("voices", "mono"))
            except LatentbridgeError as exc:
                raise LatentbridgeError(f"preset {preset['name']}: stage {s['name']!r}: {exc}") from exc
    return preset


def run(args: argparse.Namespace) -> int:
    from export.autoencoder.morphing import check_align_attacks
    from export.core.progress import bar
    from plugin_host.control_change import read_automation
    from plugin_host.presets import read_preset
    from plugin_host.render import RenderSettings

    files = stems(args.stems)
    if args.align_attacks is not None:
        check_align_attacks(args.align_attacks)
    preset = with_option(with_option(read_preset(args.preset), "voices", args.voices), "decoder", args.decoder)
    preset = check_decoders(with_option(preset, "align_attacks_ms", args.align_attacks, "--align-attacks"))
    automation = read_automation(args.automation) if args.automation else []
    if args.blocksize < 16 or args.blocksize > 8192:
        raise LatentbridgeError(f"--blocksize must be in [16, 8192], got {args.blocksize}")
    settings = RenderSettings(args.blocksize, args.stereo, automation)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f.stem for f in files]
    if len(set(names)) != len(names):
        raise LatentbridgeError("two stems have the same name; their outputs would collide")
    workers = max(1, min(args.workers or (os.cpu_count() or 1), len(files)))
    reports = []
    if args.ray:
        reports = render_with_ray(args, files, preset, settings, out_dir)
    elif workers == 1:
        reports = [render_file(f, preset, settings, out_dir, args.format, args.force, args.seed, True)
                   for f in files]
    else:
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool, \
                bar("stems", total=len(files), unit="file") as overall:
            futures = [pool.submit(render_file, f, preset, settings, out_dir, args.format, args.force, args.seed,
                                   False) for f in files]
            for future in futures:
                reports.append(future.result())
                overall.update(1)
    if args.json:
        print(json.dumps(reports, indent=1))
    else:
        for r in reports:
            print(f"{r['output']}: {r['channels']} ch, {r['sample_rate']} Hz, {r['frames']} frames, "
                  f"{r['seconds']:.1f} s ({r['realtime_factor']:.1f}x real time)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from export.wavenet.note_decoders import DECODERS

    parser = subparsers.add_parser("render", help="render stems through a preset's chain offline",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog="Example: latentbridge render stems/ --preset morph-reed --out rendered/")
    parser.add_argument("stems", nargs="+", help="audio files or folders of them")
    parser.add_argument("--preset", default="morph-reed", help="bundled preset name or YAML/JSON file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", choices=sorted(FORMAT_SUFFIX), default="wav24",
                        help="output format (default wav24)")
    parser.add_argument("--stereo", choices=("independent", "ms"), default="independent",
                        help="channels independent, or mid/side through separate chains")
    parser.add_argument("--blocksize", type=int, default=256,
                        help="processing block: 256 (default) is the live block, bit-identical to the engine; "
                             "4096 renders about 5x faster, equal to live within 1e-5 for neural-only chains "
                             "(pedalboard effects depend on the block split)")
    parser.add_argument("--voices", choices=("mono", "poly"), default=None,
                        help="set every resynth/morph stage to one voice (mono) or a voice per tracked note (poly); "
                             "default: as the preset says")
    parser.add_argument("--decoder", choices=DECODERS, default=None,
                        help="set every resynth/morph stage's decoder: harmonic, the autoencoder's WaveNet (wavenet) "
                             "or the LPC WaveNet (lpc) on the native kernel (one voice: mono stages only); default: "
                             "as the preset says (harmonic unless it names one)")
    parser.add_argument("--align-attacks", type=float, default=None, metavar="MS",
                        help="set every resynth/morph stage's align_attacks_ms: the output MS earlier, so the "
                             "decoder's late attacks line up with the stem (0..100; 64 measured best on chords, "
                             "README); default: as the preset says (0 unless it names one)")
    parser.add_argument("--automation", default=None,
                        help="breakpoints: CSV or JSON (seconds, stage, parameter, value)")
    parser.add_argument("--workers", type=int, default=0, help="parallel processes (default: one per core)")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="run one Ray task per stem: a cluster address (auto, HOST:PORT, ray://HOST:10001) "
                             "or `local` for a Ray instance on this machine (--workers CPUs); needs latentbridge[ray]")
    parser.add_argument("--seed", type=int, default=0, help="random seed (recorded in the sidecar)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.set_defaults(func=run)
