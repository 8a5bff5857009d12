"""`latentbridge doctor`: report what this machine has for latentbridge and how to fix what's missing.

Checks are owned by the package they concern (`export.app.runtime_checks`, `realtime.audio_checks`,
`models.data.data_checks`); this module only runs and prints them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict, dataclass

CHECK_MODULES: tuple[str, ...] = ("export.app.runtime_checks", "realtime.audio_checks", "models.data.data_checks")


@dataclass(frozen=True)
class Check:
    """One line of the report. `required` checks that fail make doctor exit non-zero."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def run_checks() -> list[Check]:
    checks: list[Check] = []
    for module_name in CHECK_MODULES:
        checks.extend(importlib.import_module(module_name).checks())
    return checks


def _status(check: Check) -> str:
    if check.ok:
        return "ok"
    return "MISSING" if check.required else "optional"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check Python packages, ONNX Runtime, GPU, audio servers, SoundFonts, models",
        description="Check everything latentbridge needs; exit 1 with the fix when something required is missing.",
        epilog="Example: latentbridge doctor --json")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    failed = [c for c in checks if c.required and not c.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) | {"status": _status(c)} for c in checks]},
                         indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{_status(c):>8}  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.fix:
                print(f"{'':>8}  {'':<{width}}  fix: {c.fix}")
        print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed"
              + ("" if not failed else f"; missing: {', '.join(c.name for c in failed)}"),
              file=sys.stdout)
    return 1 if failed else 0
