"""The `latentbridge` console script: one argparse tree, subcommands owned by their packages.

Each entry of `COMMANDS` names a module exposing `add_parser(subparsers)`; a command group's module returns
its sub-command action, and the packages listed for that group in `GROUP_EXTENSIONS` add their own
sub-commands to it through `add_<group>_parsers(actions)` (so `bench generate` is registered by
`models.exporting`, `bench stream` by `realtime`). Heavy dependencies (torch) are imported only inside command
bodies.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from export import __version__
from export.core.errors import LatentbridgeError

COMMANDS: tuple[str, ...] = (
    "export.app.doctor",
    "export.app.models_cli",
    "models.data.cli",
    "models.training.cli",
    "models.evaluation.cli",
    "models.exporting.cli",
    "export.app.bench_cli",
    "export.app.bank_cli",
    "plugin_host.morph_cli",
    "realtime.live_cli",
    "plugin_host.render_cli",
    "models.style.cli",
    "models.dream.cli",
)
GROUP_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "models": ("models.exporting.cli",),
    "bank": ("models.exporting.cli",),
    "bench": ("models.exporting.bench_cli", "export.autoencoder.bench_cli", "realtime.bench_cli",
              "plugin_host.bench_cli", "models.style.bench_cli"),
}


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
        actions = importlib.import_module(module_name).add_parser(subparsers)
        group = list(subparsers.choices)[-1]  # the command that module just added
        for extension in GROUP_EXTENSIONS.get(group, ()):
            getattr(importlib.import_module(extension), f"add_{group}_parsers")(actions)
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
