"""The README's performance figures come from files: every `bench/results/*.json` (written by `latentbridge bench
... --save`) carries a complete machine block, and each figure the README quotes equals its file's value at the
README's rounding. `--save` itself: the machine block, atomic write, no overwrite without --force.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from export.app.cli import build_parser, main
from export.core.bench_results import CPU_KEYS, MACHINE_KEYS, load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEXT = " ".join(README.split())  # sentences wrap over lines: match on single spaces
NUM = r"(\d+(?:\.\d+)?)"
GENERATE_COLUMNS = {"naive": ("naive", 1, 1), "torch queues": ("torch_queues", 1, 1),
                    "ONNX Runtime step loop": ("onnxruntime_step", 1, 1), "native B1 1 thread": ("native", 1, 1),
                    "B4 2 threads": ("native", 4, 2), "B8 2 threads": ("native", 8, 2),
                    "portable C": ("native_portable", 1, 1), "fp16 weights": ("native_fp16", 1, 1)}
REFERENCE_MACS = 618_496  # weight-matrix entries of the reference config = multiply-adds per sample


def result(name: str) -> dict[str, Any]:
    return load(RESULTS / f"{name}.json")


def agrees(shown: str, value: float) -> bool:
    """`shown` is `value` rounded to as many decimals as `shown` has."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return math.isclose(round(value, decimals), float(shown), abs_tol=10 ** -(decimals + 3))


def significant(shown: str) -> int:
    return len(shown.replace(".", "").lstrip("0"))


def find(pattern: str) -> tuple[str, ...]:
    match = re.search(pattern, TEXT)
    assert match, f"the README no longer says: {pattern}"
    return match.groups()


def table(first_header: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and rows of the README table whose first header cell is `first_header`."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[start:]]
    rows = []
    for line, row in zip(lines[start + 2:], cells[2:], strict=False):
        if not line.startswith("|"):
            break
        rows.append(row)
    return cells[0], rows


def files() -> list[Path]:
    return sorted(RESULTS.glob("*.json"))


def test_there_are_results_for_every_bench() -> None:
    assert {result(p.stem)["bench"] for p in files()} == {"generate", "encode", "stream", "stalls", "render", "style"}


def bench_files() -> list[Path]:
    """Every `bench ... --save` file: the top level (the README's tables) and the per-machine folders beside it
    (other JSON there, such as judge reports, carries no `bench` key)."""
    nested = [p for p in sorted(RESULTS.glob("*/*.json")) if "bench" in json.loads(p.read_text(encoding="utf-8"))]
    return files() + nested


@pytest.mark.parametrize("path", bench_files(), ids=lambda p: str(p.relative_to(RESULTS)))
def test_every_results_file_has_a_complete_machine_block(path: Path) -> None:
    document = load(path)
    machine = document["machine"]
    assert [k for k in MACHINE_KEYS if machine.get(k) is None] == []
    cpu = machine["cpu"]
    assert [k for k in CPU_KEYS if cpu.get(k) is None] == []
    assert len(cpu["flags"]) > 10 and set(cpu["key_flags"]) <= set(cpu["flags"])
    assert machine["cores"] >= len(machine["affinity"]) >= 1 and machine["memory_mb"]["total"] > 0
    assert len(machine["loadavg_start"]) == 3 and machine["others_cpus"] >= 0
    assert re.fullmatch(r"[0-9a-f]{40}", machine["git_commit"]) and machine["started"] <= machine["finished"]
    command = machine["command_line"].split()
    assert command[:3] == ["latentbridge", "bench", document["bench"]]
    args = build_parser().parse_args(command[1:])  # the recorded command line is one latentbridge runs
    assert args.bench == document["bench"] and args.save.endswith(path.name)
    assert document["results"]


def test_readme_cites_only_results_files_that_exist() -> None:
    names = {p.name for p in files()}
    assert set(re.findall(r"bench/results/([\w.-]+\.json)", README)) <= names


def test_results_files_table() -> None:
    header, rows = table("results file")
    assert header[:5] == ["results file", "date (UTC)", "command", "load average at start", "others' CPU (cores)"]
    assert sorted(r[0].strip("`") for r in rows) == [p.name for p in files()]
    for name, date, command, load_start, others in rows:
        machine = load(RESULTS / name.strip("`"))["machine"]
        assert date == machine["started"][:16].replace("T", " ")
        assert command.strip("`") == machine["command_line"]
        assert agrees(load_start, machine["loadavg_start"][0]) and agrees(others, machine["others_cpus"])


def test_the_machine_is_named_as_its_files_say() -> None:
    machine = result("generate")["machine"]
    cpu = machine["cpu"]
    day, load_start, others = find(r"\(`bench/results/generate.json`, (\d{4}-\d\d-\d\d)\) .*? \(load average " + NUM
                                   + r" at the start, " + NUM + " of the 2 cores busy with other processes")
    assert day == machine["started"][:10] and agrees(load_start, machine["loadavg_start"][0])
    assert agrees(others, machine["others_cpus"])
    (model_name, family, model) = find(r"\(CPU `([^`]+)`, family (\d+) model (\d+)")
    assert (model_name, family, model) == (cpu["model_name"], cpu["family"], cpu["model"])
    for name in files():
        assert load(name)["machine"]["cpu"]["model_name"] == cpu["model_name"]


def test_generate_table_equals_its_file() -> None:
    rows = result("generate")["results"]
    header, lines = table("config")
    assert header[1:] == list(GENERATE_COLUMNS)
    assert len(lines) == 2
    for line in lines:
        config = "default" if line[0].startswith("default") else "reference"
        mine = [r for r in rows if r["config"].startswith(config)]
        for column, cell in zip(GENERATE_COLUMNS.values(), line[1:], strict=True):
            (row,) = [r for r in mine if (r["backend"], r["batch"], r["threads"]) == column]
            shown = re.search(NUM + "×", cell).group(1)
            assert agrees(shown, row["realtime_factor_16k"]) and significant(shown) >= 2, (config, column, cell)
            us = re.search(NUM + " µs", cell)
            if us:
                assert agrees(us.group(1), row["us_per_sample"])


def test_generate_ratios_equal_their_file() -> None:
    rows = result("generate")["results"]

    def ratio(config: str, backend: str) -> float:
        return next(r for r in rows if r["config"].startswith(config) and r["backend"] == backend)["ratio_to_native"]

    onnx_default, onnx_ref, torch_default, torch_ref = find(
        r"is (\d+)× \(default\) and (\d+)× \(reference\) faster than the ONNX Runtime step loop, (\d+)× / (\d+)× "
        r"faster than torch's queue loop")
    assert agrees(onnx_default, ratio("default", "onnxruntime_step"))
    assert agrees(onnx_ref, ratio("reference", "onnxruntime_step"))
    assert agrees(torch_default, ratio("default", "torch_queues"))
    assert agrees(torch_ref, ratio("reference", "torch_queues"))
    fp16_default, fp16_reference, megabytes = find(
        r"Half-precision weights run at " + NUM + r"× \(default\) and " + NUM + r"× \(reference\) the float32 speed in "
        r"this run: the reference's float32 weights are " + NUM + " MB")

    def speed(config: str, backend: str) -> float:
        return next(r for r in rows if r["config"].startswith(config) and r["backend"] == backend and r["batch"] == 1
                    and r["threads"] == 1)["realtime_factor_16k"]

    assert agrees(fp16_default, speed("default", "native_fp16") / speed("default", "native"))
    assert agrees(fp16_reference, speed("reference", "native_fp16") / speed("reference", "native"))
    assert agrees(megabytes, REFERENCE_MACS * 4 / 1e6)
    macs, speed_shown, rate = find(r"The reference needs ([\d ]+) multiply-adds per sample: at ([\d.]+)× real time .*? "
                             r"that is ([\d.]+) G multiply-adds/s")
    assert int(macs.replace(" ", "")) == REFERENCE_MACS
    native = next(r for r in rows if r["config"].startswith("reference") and r["backend"] == "native"
                  and r["batch"] == 1 and r["threads"] == 1)
    assert agrees(speed_shown, native["realtime_factor_16k"])
    assert agrees(rate, REFERENCE_MACS * 16000 * float(speed_shown) / 1e9)


def test_stream_figures_equal_their_files() -> None:
    header, lines = table("preset")
    assert header == ["preset", "added latency (ms)", "worker mean", "p99", "max", "late blocks", "RSS growth (MB)"]
    files_rows = {(name, r["preset"]): r for name in ("stream", "stream-prefill3", "stream-prefill2")
                  for r in result(name)["results"]}
    seen = set()
    for label, latency, mean, p99, worst, late, rss in lines:
        prefill = re.search(r"--prefill (\d)", label)
        key = (f"stream-prefill{prefill.group(1)}" if prefill else "stream", label.split(",")[0].strip("` "))
        row = files_rows[key]
        seen.add(key)
        w = row["worker_fraction"]
        assert agrees(latency, row["added_latency_ms"]) and agrees(mean, w["mean"]) and agrees(p99, w["p99"])
        assert agrees(worst, w["max"]) and int(late) == row["late_blocks"] and agrees(rss, row["rss_growth_mb"])
    assert seen == set(files_rows), "every preset the files hold is in the table"
    others, mean_low, mean_high, p99_low, p99_high = find(
        r"other processes kept up to " + NUM + r" of its 2 cores busy meanwhile\), worker time per block as a fraction "
        r"of the block period \(mean " + NUM + "–" + NUM + ", p99 " + NUM + "–" + NUM + " for the neural presets")
    assert agrees(others, max(result(n)["machine"]["others_cpus"] for n in ("stream", "stream-prefill3",
                                                                           "stream-prefill2")))
    neural = [r for (name, _), r in files_rows.items() if name == "stream" and r["chain_delay_samples"] > 0]
    means = [r["worker_fraction"]["mean"] for r in neural]
    p99s = [r["worker_fraction"]["p99"] for r in neural]
    assert agrees(mean_low, min(means)) and agrees(mean_high, max(means))
    assert agrees(p99_low, min(p99s)) and agrees(p99_high, max(p99s))
    reed = files_rows[("stream", "morph-reed")]
    (latency,) = find(r"reports an added latency of \*\*" + NUM + r" ms\*\*")
    assert agrees(latency, reed["added_latency_ms"])
    p3, p2 = find(r"`--prefill 3` gives " + NUM + r" ms, `--prefill 2` " + NUM + " ms")
    assert agrees(p3, files_rows[("stream-prefill3", "morph-reed")]["added_latency_ms"])
    assert agrees(p2, files_rows[("stream-prefill2", "morph-reed")]["added_latency_ms"])


def test_render_figures_equal_their_file() -> None:
    document = result("render")
    report = document["results"]
    others, preset, wall, factor, wall_big, factor_big, stems, stem_s, workers, wall_n, wall_1, speedup = find(
        r"`latentbridge bench render` \(`bench/results/render.json`, other processes using " + NUM
        + r" of the 2 cores meanwhile\): a 3-minute stereo 44.1 kHz stem through `([\w-]+)` in " + NUM + r" s \("
        + NUM + r"× real time\) in live-sized blocks, " + NUM + r" s \(" + NUM + r"×\) with `--blocksize 4096`; "
        r"(\d+) stems of " + NUM + r" s with (\d+) worker processes took " + NUM + " s against " + NUM
        + r" s with one \(speedup " + NUM + "×")
    assert agrees(others, document["machine"]["others_cpus"])
    assert preset == report["preset"] and report["stem_seconds"] == 180 and report["sample_rate"] == 44100
    assert agrees(wall, report["wall_s"]["256"]) and agrees(factor, report["realtime_factor"]["256"])
    assert agrees(wall_big, report["wall_s"]["4096"]) and agrees(factor_big, report["realtime_factor"]["4096"])
    s = report["scaling"]
    assert int(stems) == s["stems"] and agrees(stem_s, s["stem_seconds"]) and int(workers) == s["cores"]
    assert agrees(wall_n, s["wall_s"][workers]) and agrees(wall_1, s["wall_s"]["1"]) and agrees(speedup, s["speedup"])


def test_encode_and_morph_figures_equal_their_file() -> None:
    rows = result("encode")["results"]

    def row(graph: str, threads: int) -> dict[str, Any]:
        return next(r for r in rows if r["graph"] == graph and r["threads"] == threads)

    morph = row("morph", 1)
    seconds, factor = find(r"morphs in " + NUM + r" s on one ONNX Runtime thread \(" + NUM + "× real time")
    assert agrees(seconds, morph["seconds_wall"]) and agrees(factor, morph["realtime_factor"])
    assert morph["seconds_audio"] == pytest.approx(4.0) and morph["input"].startswith("demo_guitar_phrase.wav (2 ch")
    one, two = find(r"the whole offline chain at " + NUM + r"× real time on one thread, " + NUM + "× on two")
    assert agrees(one, row("chain", 1)["realtime_factor"]) and agrees(two, row("chain", 2)["realtime_factor"])


def test_stalls_figures_equal_their_file() -> None:
    document = result("stalls")
    report = document["results"]
    seconds, others, over, worst = find(
        r"`latentbridge bench stalls --seconds (\d+)` \(`bench/results/stalls.json`, beside other processes using "
        + NUM + r" cores\) counted (\d+) stalls? over 5.3 ms \(the longest " + NUM + r" ms\)")
    assert float(seconds) == report["seconds"] and agrees(others, document["machine"]["others_cpus"])
    assert int(over) == sum(cpu["over_ms"]["5.3"] for cpu in report["cpus"]) and agrees(worst, report["max_ms"])


def test_style_figures_equal_their_file() -> None:
    rows = {r["method"]: r for r in result("style")["results"]}
    nsynth, nsynth_fall, stft, stft_fall, iterations, cnn, cnn_fall, cnn_100 = find(
        r"`nsynth` 100 iterations in " + NUM + r" s \(style loss −" + NUM + r" %\), `stft-gram` 100 in " + NUM
        + r" s \(−" + NUM + r" %\), `random-cnn` (\d+) in " + NUM + r" s \(−" + NUM + r" %; about " + NUM
        + " s for 100, extrapolated")
    assert rows["nsynth"]["iterations"] == rows["stft-gram"]["iterations"] == 100
    assert agrees(nsynth, rows["nsynth"]["command_s"]) and agrees(nsynth_fall, 100 * rows["nsynth"]["style_loss_fall"])
    assert agrees(stft, rows["stft-gram"]["command_s"])
    assert agrees(stft_fall, 100 * rows["stft-gram"]["style_loss_fall"])
    cnn_row = rows["random-cnn"]
    assert int(iterations) == cnn_row["iterations"] and agrees(cnn, cnn_row["command_s"])
    assert agrees(cnn_fall, 100 * cnn_row["style_loss_fall"])
    assert agrees(cnn_100, cnn_row["extrapolated_100_iterations_s"])


def test_autoencoder_graph_size_and_noise_table_are_what_the_files_hold() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    graphs = sorted((ROOT / "export" / "bundled").glob("ae_default.*.onnx"))
    count, total, table_mb, decoder_mb = find(r"The autoencoder's (\w+) graphs \(`ae_default\.\*\.onnx`\) take "
                                              + NUM + r" MB.*?the int8 table is " + NUM + r" MB of the decoder's "
                                              + NUM + " MB")
    assert count == {5: "five", 4: "four", 6: "six"}.get(len(graphs))
    assert agrees(total, sum(p.stat().st_size for p in graphs) / 1e6)
    decoder = ROOT / "export" / "bundled" / "ae_default.decoder.onnx"
    assert agrees(decoder_mb, decoder.stat().st_size / 1e6)
    proto = onnx.load(str(decoder))
    assert all(n.op_type != "DequantizeLinear" for p in graphs for n in onnx.load(str(p)).graph.node)
    constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in proto.graph.node
                 if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    (name,) = [k for k, v in constants.items() if v.dtype.name == "int8"]
    (cast,) = [n for n in proto.graph.node if list(n.input) == [name]]
    (mul,) = [n for n in proto.graph.node if cast.output[0] in n.input]
    assert cast.op_type == "Cast" and cast.attribute[0].i == onnx.TensorProto.FLOAT and mul.op_type == "Mul"
    scale = constants[next(i for i in mul.input if i != cast.output[0])]
    table_shape = constants[name].shape
    assert scale.dtype.name == "float32" and scale.size == min(table_shape)
    assert agrees(table_mb, constants[name].nbytes / 1e6)
    bands, samples = find(r"noise table \((\d+) bands × ([\d ]+) samples\) is stored as int8 values with one float32 "
                          r"scale per band, turned back into float32 by a Cast and a Mul node")
    assert sorted(table_shape) == sorted([int(bands), int(samples.replace(" ", ""))])


def test_save_writes_the_machine_block_and_never_overwrites_without_force(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "stalls.json"
    assert main(["bench", "stalls", "--seconds", "0.2", "--json", "--save", str(target)]) == 0
    printed = json.loads(capsys.readouterr().out)
    document = load(target)
    assert document["bench"] == "stalls" and document["results"] == printed  # --json prints as before
    machine = document["machine"]
    assert [k for k in MACHINE_KEYS if k not in machine] == [] and machine["cpu"]["flags"]
    assert machine["command_line"] == f"latentbridge bench stalls --seconds 0.2 --json --save {target}"
    assert [p.name for p in tmp_path.iterdir()] == ["stalls.json"]  # the temp file was renamed, none left
    before = target.read_bytes()
    assert main(["bench", "stalls", "--seconds", "0.2", "--save", str(target)]) == 2
    assert "already exists (use --force" in capsys.readouterr().err and target.read_bytes() == before
    assert main(["bench", "stalls", "--seconds", "0.2", "--save", str(target), "--force"]) == 0
    assert load(target)["machine"]["command_line"].endswith("--force")
    assert main(["bench", "stalls", "--seconds", "0.2", "--save", str(tmp_path)]) == 2  # a folder
