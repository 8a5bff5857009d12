"""`latentbridge models list [--json]`: the bundled default models, read from their model cards (no torch).

Each row: name, kind, path, format, format version, size in bytes, and the card's eval metrics.
"""

from __future__ import annotations

import argparse
import json

from export.bundled import bundled_models


def run_list(args: argparse.Namespace) -> int:
    rows = [{"name": m.name, "kind": m.kind, "path": str(m.path), "format": m.card.get("format", "?"),
             "format_version": m.format_version, "bytes": m.path.stat().st_size if m.path.is_file() else None,
             "metrics": m.card.get("metrics", {})} for m in bundled_models()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no bundled models")
    for row in rows:
        size = "missing file" if row["bytes"] is None else f"{row['bytes'] / 1e6:.1f} MB"
        headline = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in row["metrics"].items() if not isinstance(v, dict))
        print(f"{row['name']:<18}{row['kind']:<13}{row['format']:<18}{size:>10}  {headline}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="the bundled default models",
                                   description="The bundled default models.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the bundled models with their eval metrics",
                                 description="List the bundled models with their eval metrics.",
                                 epilog="Example: latentbridge models list --json")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)
