"""Execution engines: run a function over partitions of series, serially, on a local process pool,
or on a Dask cluster, behind one call. Backtest and forecast use only :func:`map_partitions`.

``fn`` must be a picklable top-level function taking one partition (and ``shared``, when given) and
returning a picklable result; results come back in the order of ``partitions`` whatever the engine,
so results are identical. Inside ``fn``, :func:`tick` reports series done for finer progress.
A failing *series* is the caller's business (``fn`` records it); a failing *partition* because its
worker died is run again, up to ``max_retries`` times.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from forecasting.engines.worker import tick
from forecasting.errors import ConfigError, EngineError
from forecasting.progress import ProgressCallback

ENGINES = ("serial", "local", "dask")
_NOTHING = object()

__all__ = ["ENGINES", "EngineError", "check_engine", "map_partitions", "tick"]


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}", setting="engine")


def map_partitions(fn: Callable[..., Any], partitions: Sequence[Any], *, engine: str = "local",
                   address: str | None = None, n_workers: int | None = None,
                   progress: ProgressCallback | None = None, stage: str = "run",
                   shared: Any = _NOTHING, units: Sequence[int] | None = None,
                   max_retries: int = 2, on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
    """Run ``fn(partition)`` (or ``fn(partition, shared)``) on every partition; results in input order.

    engine: ``serial`` (this process), ``local`` (a process pool, ``n_workers`` processes, default all
      cores) or ``dask`` (``Client(address)``, or a ``LocalCluster`` of ``n_workers`` single-threaded
      processes when ``address`` is None).
    shared: one object every call needs (settings, a trained global model): sent once per worker,
      not once per partition.
    units: series per partition, for progress (default: distinct ``unique_id`` of a frame partition,
      length of a list partition, else 1).
    progress: gets events in series (units) done; if it raises ``Cancelled`` the engine stops and
      re-raises it with ``.partial`` = the results so far (None where not run).
    on_result: called as ``on_result(index, result)`` on this thread as each partition finishes (in
      completion order), e.g. to store results while the run goes on.
    """
    check_engine(engine)
    if address and engine != "dask":
        raise ConfigError(f"a scheduler address ({address}) needs the dask engine (got {engine})", setting="engine")
    if n_workers is not None and int(n_workers) < 1:
        raise ConfigError(f"n_workers must be at least 1 (got {n_workers})")
    from forecasting.engines.tracker import Tracker

    partitions = list(partitions)
    tracker = Tracker(progress, stage, partitions, units, on_result)
    if not partitions:
        return []
    has_shared = shared is not _NOTHING
    kw = dict(tracker=tracker, shared=shared if has_shared else None, has_shared=has_shared)
    if engine == "serial" or (engine == "local" and len(partitions) == 1):
        from forecasting.engines.serial import run

        return run(fn, partitions, **kw)
    if engine == "local":
        from forecasting.engines.local import run

        return run(fn, partitions, n_workers=n_workers, max_restarts=max_retries, **kw)
    from forecasting.engines.dask_engine import run

    return run(fn, partitions, address=address, n_workers=n_workers, max_retries=max_retries, **kw)
