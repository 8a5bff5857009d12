"""The loop hooks of a task that validates: its state through checkpoints and the best-score bookkeeping.

The state is the task's `_state` dict: `best` (None before the first validation), `best_step`, `history` (rows
[step, score rounded to 5 decimals, *extra]) plus whatever the task adds; `state()` / `load_state()` carry it
through checkpoints (see models.training.loop).
"""

from __future__ import annotations

from typing import Any


class BestScoreHooks:
    """Mixin for a training task that sets `self._state` (see the module docstring) in its __init__."""

    _state: dict[str, Any]

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def load_state(self, state: dict[str, Any]) -> None:
        self._state.update(state)

    def _record_score(self, step: int, score: float, keep: int, *extra: float) -> bool:
        """Append [step, score, *extra] to the history (the last `keep` rows stay); True for a new best score,
        which becomes `best` at `best_step`."""
        state = self._state
        state["history"] = [*state["history"], [step, round(score, 5), *extra]][-keep:]
        if state["best"] is None or score > state["best"]:
            state.update(best=score, best_step=step)
            return True
        return False
