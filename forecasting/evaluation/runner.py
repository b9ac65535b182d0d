"""Running the local (per-series) models of a backtest or a forecast over partitions of series.

One place for what backtest and forecast share: cutting the series into partitions, sending them to the
chosen engine, relaying progress in series done, and keeping the finished partitions when the analyst
stops the run (the engines raise :class:`Cancelled` with ``.partial``).
"""
from __future__ import annotations

from typing import Any, Callable

from forecasting.engines import map_partitions
from forecasting.engines.partition import default_workers, n_partitions, split_evenly
from forecasting.progress import Cancelled, ProgressCallback


def partition_payloads(payloads: list[dict], engine: str, n_workers: int | None) -> list[list[dict]]:
    """One series per partition on the serial engine (finest stopping); else a few partitions per worker,
    balanced by rows (see :mod:`forecasting.engines.partition`)."""
    if engine == "serial":
        return [[p] for p in payloads]
    sizes = [int(p["y"].size) for p in payloads]
    k = n_partitions(len(payloads), default_workers(engine, n_workers), n_rows=sum(sizes))
    return split_evenly(payloads, k, weights=sizes)


def run_local_models(partition_fn: Callable[[dict], dict], payloads: list[dict], models: list[str],
                     settings: dict[str, Any], *, engine: str, address: str | None, n_workers: int | None,
                     progress: ProgressCallback | None, stage: str) -> tuple[list[dict], bool]:
    """Run ``partition_fn`` on tasks of many series; return (results in series order, cancelled?)."""
    parts = partition_payloads(payloads, engine, n_workers)
    tasks = [{"series": p, "models": models, "settings": settings} for p in parts]
    try:
        results = map_partitions(partition_fn, tasks, engine=engine, address=address, n_workers=n_workers,
                                 progress=progress, stage=stage, units=[len(p) for p in parts])
        return results, False
    except Cancelled as exc:
        partial = getattr(exc, "partial", None) or []
        return [r for r in partial if r is not None], True
