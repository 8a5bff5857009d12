"""The console script: every command has --help with an example; bad usage exits 2."""

from __future__ import annotations

import argparse

import pytest

from export.app.cli import build_parser, main


def _all_subparsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _all_subparsers(sub, (*prefix, name))


def test_every_command_has_help_with_an_example() -> None:
    commands = list(_all_subparsers(build_parser()))
    assert ("doctor",) in [c for c, _ in commands] and ("dataset", "notes") in [c for c, _ in commands]
    for path, sub in commands:
        if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            continue  # a group: its leaves carry the examples
        assert "Example: latentbridge " + " ".join(path) in (sub.epilog or ""), path


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_cli_imports_no_torch_for_runtime_commands() -> None:
    import subprocess
    import sys

    code = "import sys; from export.app.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
