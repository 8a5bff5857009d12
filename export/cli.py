"""The `latentbridge` console script: one argparse tree, subcommands owned by their packages.

Each entry of `COMMANDS` names a module exposing `add_parser(subparsers)`; the module is
imported lazily, and heavy dependencies (torch) are imported only inside command bodies.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from export import __version__
from export.errors import LatentbridgeError

COMMANDS: tuple[str, ...] = (
    "export.doctor",
    "export.models_cli",
    "models.data.cli",
    "models.training.cli",
    "models.evaluation.cli",
    "models.exporting.cli",
    "models.exporting.bench_cli",
    "export.bank_cli",
    "plugin_host.morph_cli",
    "realtime.live_cli",
    "plugin_host.render_cli",
    "models.style.cli",
    "models.dream.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentbridge",
        description="Neural audio host bridge: NSynth-style resynthesis, timbre morphing, OSC control.",
        epilog="Example: latentbridge doctor",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"latentbridge {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LatentbridgeError as exc:
        print(f"latentbridge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latentbridge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
