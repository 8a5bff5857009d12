"""Bench results as files: `latentbridge bench ... --save PATH` writes {"bench", "machine", "results"} as JSON,
atomically (a temp file renamed into place), never over an existing file without `--force`.

`machine` says where, when and how a run was made: the CPU (model name, family/model, the flags that decide which
kernels run, and all flags), cores and the affinity set, memory, the load average before and after, the CPU time
other processes used during the run (`others_cpus`: cores' worth on average; the machine may be shared) and the
time the hypervisor took from this VM (`steal_cpus`, likewise), UTC start and end, the git commit (and how many
tracked files differed from it), Python and package versions, and the command line (rebuilt from the parsed
options, so it is exact however the command was started). `results` is what `--json` prints. The README's
performance figures are read from these files (`bench/results/`, checked by tests/test_bench_results.py).
`run_bench` is the run of every bench command: begin, measure, finish, print.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from export.core.errors import LatentbridgeError

FORMAT = 1
# the flags that decide which loops run here: the native kernel's AVX2 + FMA, its F16C half weights, and what
# ONNX Runtime's MLAS may pick (AVX-512, VNNI, AMX); every avx512* flag is kept as well
KEY_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile",
             "hypervisor")
MACHINE_KEYS = ("cpu", "cores", "affinity", "memory_mb", "loadavg_start", "loadavg_end", "others_cpus", "steal_cpus",
                "started", "finished", "git_commit", "git_changed_files", "python", "packages", "platform",
                "command_line")
CPU_KEYS = ("vendor", "model_name", "family", "model", "stepping", "mhz", "key_flags", "flags")
PACKAGES = ("numpy", "onnxruntime-gpu", "onnxruntime", "onnx", "torch", "pedalboard")
SKIPPED_OPTIONS = ("command", "bench", "func")
REPO = Path(__file__).resolve().parents[2]
Results = TypeVar("Results")


def add_save_options(parser: argparse.ArgumentParser) -> None:
    """`--save PATH` and `--force` on a bench subcommand."""
    parser.add_argument("--save", metavar="PATH", default=None,
                        help="also write the result JSON with a `machine` block (CPU, flags, cores, memory, load, "
                             "date, git commit, command line) to PATH")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --save file")


def cpu_info(path: str | os.PathLike[str] = "/proc/cpuinfo") -> dict[str, Any]:
    """The first processor's entry of /proc/cpuinfo (every CPU of a machine is the same model here)."""
    fields: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.split("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    flags = fields.get("flags", "").split()
    return {"vendor": fields.get("vendor_id"), "model_name": fields.get("model name") or platform.processor(),
            "family": fields.get("cpu family"), "model": fields.get("model"), "stepping": fields.get("stepping"),
            "mhz": float(fields["cpu MHz"]) if "cpu MHz" in fields else None,
            "cache": fields.get("cache size"),
            "key_flags": [f for f in flags if f in KEY_FLAGS or f.startswith("avx512")], "flags": flags}


def memory_mb(path: str | os.PathLike[str] = "/proc/meminfo") -> dict[str, float | None]:
    values: dict[str, float | None] = {"total": None, "available": None}
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                values["total" if key == "MemTotal" else "available"] = round(int(rest.split()[0]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return values


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def command_line(args: argparse.Namespace) -> str:
    """`latentbridge bench NAME --option value ...` with every option as parsed (defaults included); each
    option's flag is its name with dashes, as every bench option is declared."""
    words = ["latentbridge", "bench", str(getattr(args, "bench", "?"))]
    for key, value in vars(args).items():
        if key in SKIPPED_OPTIONS or key.startswith("_") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif isinstance(value, list | tuple):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_seconds() -> tuple[float, float, float, float]:
    """(wall clock, CPU seconds busy on the whole machine, stolen by the hypervisor, and used by this process
    and its reaped children)."""
    import resource

    busy = steal = 0.0
    try:
        with open("/proc/stat", encoding="ascii") as f:
            user, nice, system, _idle, _iowait, irq, softirq, stolen = (int(x) for x in f.readline().split()[1:9])
        tick = os.sysconf("SC_CLK_TCK")
        busy, steal = (user + nice + system + irq + softirq) / tick, stolen / tick
    except (OSError, ValueError):
        pass
    own = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return time.monotonic(), busy, steal, own


def begin(args: argparse.Namespace) -> dict[str, Any]:
    """Called before a bench runs: refuses an existing `--save` file without `--force` (before any work) and
    notes the start time and load average."""
    save = getattr(args, "save", None)
    if save is not None:
        target = Path(save)
        if target.is_dir():
            raise LatentbridgeError(f"{target}: is a folder; --save takes a file name")
        if target.exists() and not getattr(args, "force", False):
            raise LatentbridgeError(f"{target}: already exists (use --force to overwrite)")
    return {"started": _now(), "loadavg_start": _loadavg(), "cpu_seconds": _cpu_seconds()}


def machine(args: argparse.Namespace, begun: dict[str, Any]) -> dict[str, Any]:
    changed = _git("status", "--porcelain", "--untracked-files=no")
    (wall0, busy0, steal0, own0), (wall1, busy1, steal1, own1) = begun["cpu_seconds"], _cpu_seconds()
    wall = max(wall1 - wall0, 1e-9)
    return {
        "cpu": cpu_info(), "cores": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)),
        "memory_mb": memory_mb(), "loadavg_start": begun["loadavg_start"], "loadavg_end": _loadavg(),
        "others_cpus": round(max(0.0, (busy1 - busy0) - (own1 - own0)) / wall, 2),
        "steal_cpus": round((steal1 - steal0) / wall, 3),
        "started": begun["started"], "finished": _now(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_changed_files": None if changed is None else len(changed.splitlines()),
        "python": platform.python_version(), "packages": packages(),
        "platform": platform.platform(), "command_line": command_line(args),
    }


def finish(args: argparse.Namespace, begun: dict[str, Any], results: Any) -> Path | None:
    """Write `results` with the machine block to `--save` (if given), atomically; returns the path."""
    from export.core.audio_io import atomic_output  # numpy: not at parser-build time

    save = getattr(args, "save", None)
    if save is None:
        return None
    document = {"format": FORMAT, "bench": getattr(args, "bench", None), "machine": machine(args, begun),
                "results": results}
    with atomic_output(save, force=getattr(args, "force", False)) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"saved {save}", file=sys.stderr)
    return Path(save)


def run_bench(args: argparse.Namespace, measure: Callable[[], Results], table: Callable[[Results], None]) -> int:
    """A bench command's run: `begin`, `measure()`, `finish` (writes --save), then the results printed as JSON
    with --json, else by `table`; exit status 0."""
    begun = begin(args)
    results = measure()
    finish(args, begun, results)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        table(results)
    return 0


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A saved result file (for the README checks); one-line error when it is not one."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LatentbridgeError(f"{path}: not a bench result file ({exc})") from exc
    if not isinstance(document, dict) or not {"bench", "machine", "results"} <= set(document):
        raise LatentbridgeError(f"{path}: not a bench result file (needs bench, machine and results)")
    return document
