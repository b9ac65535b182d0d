"""The serial engine: one process, partitions in order. The reference the other engines must match."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from forecasting.engines.tracker import Tracker, cancelled_with
from forecasting.engines.worker import run_partition


def run(fn: Callable, partitions: Sequence[Any], *, tracker: Tracker, shared: Any = None,
        has_shared: bool = False, **_: Any) -> list[Any]:
    def sink(index: int, n: int, message: str) -> None:
        tracker.tick(index, n, message)
        tracker.emit()

    out: list[Any] = [None] * len(partitions)
    for i, part in enumerate(partitions):
        out[i] = run_partition(fn, i, part, shared, sink, has_shared)
        tracker.done(i)
        tracker.emit()
        if tracker.cancelled:
            raise cancelled_with(out)
    return out
