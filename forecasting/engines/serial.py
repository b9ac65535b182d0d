"""The serial engine: one process, partitions in order. The reference the other engines must match.

The partition functions fit small per-series models, where a second BLAS thread buys little (about 7%
less wall time for twice the CPU, measured on 150 series of ets) and oversubscribes the cores when
anything else runs beside it (the app's server, a second run: two such runs side by side went 5x
slower). So BLAS runs one thread for the duration of the run, as it does in the pool and Dask workers,
and gets its previous setting back afterwards. torch's own threads are left alone: global deep models
train outside the engine, with the thread count the caller chose.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from forecasting.engines.tracker import Tracker, cancelled_with
from forecasting.engines.worker import run_partition


def run(fn: Callable, partitions: Sequence[Any], *, tracker: Tracker, shared: Any = None,
        has_shared: bool = False, **_: Any) -> list[Any]:
    def sink(index: int, n: int, message: str) -> None:
        tracker.tick(index, n, message)
        tracker.emit()

    out: list[Any] = [None] * len(partitions)
    with one_blas_thread():
        for i, part in enumerate(partitions):
            out[i] = run_partition(fn, i, part, shared, sink, has_shared)
            tracker.done(i, out[i])
            tracker.emit()
            if tracker.cancelled:
                raise cancelled_with(out)
    return out


_CONTROLLER: list = []


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit numpy's and scipy's OpenBLAS to one thread for the run, then restore their settings.

    threadpoolctl only sees libraries already loaded, and the models import scipy lazily, so scipy's
    linear algebra (its own OpenBLAS) is loaded first. The libraries are looked up once per process (a
    scan of every loaded library: several milliseconds, paid by every API request before)."""
    if not _CONTROLLER:
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield
