"""Execution engines: run a function over partitions of series, serially, on a local process pool,
or on a Dask cluster, behind one call. Backtest and forecast use only :func:`map_partitions`.

``fn`` must be a picklable top-level function taking one partition and returning a picklable result;
results come back in the order of ``partitions`` whatever the engine, so results are identical.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from forecasting.errors import ConfigError
from forecasting.progress import ProgressCallback, report

ENGINES = ("serial", "local", "dask")


def map_partitions(fn: Callable[[Any], Any], partitions: Sequence[Any], *, engine: str = "local",
                   address: str | None = None, n_workers: int | None = None,
                   progress: ProgressCallback | None = None, stage: str = "run") -> list[Any]:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    if engine == "serial" or len(partitions) <= 1:
        from forecasting.engines.serial import run
    elif engine == "local":
        from forecasting.engines.local import run
    else:
        from forecasting.engines.dask_engine import run
    return run(fn, list(partitions), address=address, n_workers=n_workers, progress=progress, stage=stage)
