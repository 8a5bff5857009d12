"""Single-producer single-consumer rings of fixed-size audio blocks, numbered by a sequence counter.

`put(seq, block)` copies the block into slot seq % slots and then publishes seq for that slot; `get(seq)`
returns a copy of block seq, or None when it has not been written yet or was already overwritten. Nothing
locks: the slot's data is written before its number, and each side writes only its own fields, so the audio
callback never waits on the worker (one numpy store per call is the only shared write). `Blocks` is what the
engine and the recorder need of a ring: a `BlockRing`, or a view of one of the native stream's rings.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Blocks(Protocol):
    @property
    def newest(self) -> int: ...

    def put(self, seq: int, block: np.ndarray) -> None: ...

    def get(self, seq: int) -> np.ndarray | None: ...


class BlockRing:
    def __init__(self, slots: int, blocksize: int, channels: int = 1) -> None:
        self.slots = slots
        self.data = np.zeros((slots, blocksize, channels), np.float32)
        self.numbers = np.full(slots, -1, np.int64)
        self.newest = -1

    def put(self, seq: int, block: np.ndarray) -> None:
        slot = seq % self.slots
        self.data[slot] = block.reshape(self.data.shape[1:])
        self.numbers[slot] = seq
        self.newest = seq

    def get(self, seq: int) -> np.ndarray | None:
        slot = seq % self.slots
        if self.numbers[slot] != seq:
            return None
        block = self.data[slot].copy()
        return block if self.numbers[slot] == seq else None  # overwritten while copying: too late
