"""Run a rendering function over tasks in worker processes (or in this one); results in completion order.

Workers are spawned, not forked. A fork copies the parent's locks mid-use and its Python signal handlers: after a
Ray client had run in the same process (its SIGTERM handler stays installed), `Pool.terminate` waited forever
for a forked worker that took SIGTERM as a call to its handler. A spawned worker starts from a clean interpreter;
the pool is closed and joined when every result is in, and terminated only when the caller stops early.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def unordered_results(fn: Callable[[T], R], tasks: Sequence[T], workers: int, chunksize: int = 1) -> Iterator[R]:
    """fn(task) for every task, in `workers` spawned processes where there are > 1 workers and > 1 tasks."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
        return
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(tasks)))
    finished = False
    try:
        yield from pool.imap_unordered(fn, tasks, chunksize=chunksize)
        finished = True
    finally:
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()
