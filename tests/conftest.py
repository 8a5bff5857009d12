"""Shared fixtures: a real JACK server (`jackd -d dummy`) for engine and audio-server tests; the test VST3
plugin; one torch thread."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

# The repository first (its `export` package, not the test folder tests/export), then the shared test helpers
# (jack_player, live_checks, block_split, ...) for the test files in the sub-folders.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import pytest  # noqa: E402
import torch  # noqa: E402
from jack_player import running_jackd  # noqa: E402
from vst3_plugin import build_test_plugin  # noqa: E402


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """One JACK server for the whole session; yields its name."""
    with running_jackd() as name:
        yield name


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test VST3 plugin (tests/vst3_fixture), compiled once per session; its .vst3 bundle."""
    return build_test_plugin(tmp_path_factory.mktemp("vst3"))


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny training loops: on a shared 2-core machine a second torch thread only adds waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
