"""Driver-side progress for every engine: partitions done plus series ticked by running partitions.

Progress is counted in *units* (series, when the engine can tell how many a partition holds): a
finished partition counts in full, a running one counts the series its worker has ticked so far
(see :func:`forecasting.engines.worker.tick`). Events go to the one progress callback the pages and
the CLI pass in. If that callback raises :class:`~forecasting.progress.Cancelled`, the tracker
remembers it and the engine stops at the next safe point.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from forecasting.progress import Cancelled, ProgressCallback, report


def count_units(part: Any) -> int:
    """How many series a partition holds: distinct ``unique_id`` of a frame, length of a list, else 1."""
    if hasattr(part, "columns") and "unique_id" in getattr(part, "columns", ()):
        return max(1, int(part["unique_id"].nunique()))
    if isinstance(part, (list, tuple)):
        return max(1, len(part))
    return 1


class Tracker:
    def __init__(self, progress: ProgressCallback | None, stage: str, partitions: Sequence[Any],
                 units: Sequence[int] | None = None, on_result: Callable[[int, Any], None] | None = None):
        self.progress, self.stage = progress, stage
        self.on_result = on_result  # called on the driver's thread with (index, result) per finished partition
        self.units = list(units) if units is not None else [count_units(p) for p in partitions]
        if len(self.units) != len(partitions):
            raise ValueError("units must give one count per partition")
        self.total = sum(self.units)
        self.ticks = [0] * len(self.units)
        self.finished: set[int] = set()
        self.cancelled = False
        self.message = ""
        self._last: tuple[int, int] | None = None
        self._lock = threading.Lock()  # ticks may arrive on another thread (Dask's event loop)

    # called from any thread
    def tick(self, index: int, n: int, message: str = "") -> None:
        with self._lock:
            if 0 <= index < len(self.ticks) and index not in self.finished:
                self.ticks[index] = min(self.units[index], self.ticks[index] + int(n))
                self.message = message

    def done(self, index: int, result: Any = None) -> None:
        """Partition ``index`` finished with ``result`` (called on the driver's main thread): counted in
        full, and handed to ``on_result`` (e.g. a run store writing it now, so a killed run keeps it)."""
        with self._lock:
            self.finished.add(index)
            self.ticks[index] = self.units[index]
        if self.on_result is not None:
            self.on_result(index, result)

    def lost(self, index: int) -> None:
        """A partition is being run again (its worker died): its ticks start over."""
        with self._lock:
            self.ticks[index] = 0

    # called on the driver's main thread only
    def emit(self) -> None:
        if self.progress is None or self.cancelled:
            return
        with self._lock:
            done = sum(self.ticks)
            if self._last == (done, len(self.finished)):
                return
            self._last = (done, len(self.finished))
            msg = f"series {done}/{self.total} · partitions {len(self.finished)}/{len(self.units)}"
            if self.message:
                msg += f" · {self.message}"
        try:
            report(self.progress, self.stage, done, self.total, msg,
                   partitions_done=len(self.finished), partitions=len(self.units))
        except Cancelled:
            self.cancelled = True


def cancelled_with(results: list[Any]) -> Cancelled:
    """The :class:`Cancelled` an engine raises: ``.partial`` holds the results so far (None = not run)."""
    exc = Cancelled("stopped by the user")
    exc.partial = results  # type: ignore[attr-defined]
    return exc
