"""The per-series path: every per-series model on every series, in partitions of series on the engine.

Each fit goes through :func:`forecasting.models.fitting.fit_predict` (fallbacks, non-negativity, NaN
filling). The serial engine gets one series per partition (finest stopping); the others a few partitions
per worker, balanced by rows. When the analyst stops the run, the finished partitions are kept (the
engines raise :class:`Cancelled` with ``.partial``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from forecasting.engines import map_partitions
from forecasting.engines.partition import default_workers, n_partitions, split_evenly
from forecasting.pipeline.plan import Job, SeriesData
from forecasting.progress import Cancelled, ProgressCallback, ResultSink


@dataclass
class Partition:
    series: list[SeriesData]
    models: list[str]
    job: Job


def fit_partition(part: Partition) -> dict[str, Any]:
    """Work function (top-level, picklable): every model of ``part`` on every series of it."""
    from forecasting.engines import tick
    from forecasting.models.fitting import fit_predict

    job = part.job
    out = job.collector()
    for ser in part.series:
        np.random.seed(job.seed)
        windows = job.windows(ser)
        for name in part.models:
            t0 = time.perf_counter()
            fits = []
            for w in windows:
                try:
                    fits.append(fit_predict(name, ser.y[w.start:w.end], job.h, levels=job.levels,
                                            season_length=job.season_length, params=job.params_for(ser.uid, name),
                                            X=None if ser.X is None else ser.X[w.start:w.end],
                                            X_future=w.X_future, non_negative=job.non_negative))
                except ValueError as exc:      # not even a fallback could forecast this window
                    fits.append(exc)
            out.add(ser, name, windows, fits)
            out.timings[name] = out.timings.get(name, 0.0) + time.perf_counter() - t0
        tick(1, ser.uid)
    return out.result()


def worker_job(job: Job) -> Job:
    """``job`` as the workers get it: the model settings without the progress callbacks. A callback (a
    lambda of the CLI, a hook of the app) belongs to the driver, where the networks train and report; it
    cannot travel to a process pool or a Dask cluster, and no per-series model reports through it."""
    params = {m: {k: v for k, v in p.items() if k != "progress"} for m, p in job.params.items()}
    return replace(job, params=params)


def partition_series(series: list[SeriesData], engine: str, n_workers: int | None) -> list[list[SeriesData]]:
    if engine == "serial":
        return [[s] for s in series]
    sizes = [int(s.y.size) for s in series]
    k = n_partitions(len(series), default_workers(engine, n_workers), n_rows=sum(sizes))
    return split_evenly(series, k, weights=sizes)


def run_per_series(series: list[SeriesData], models: list[str], job: Job, *, engine: str, address: str | None,
                   n_workers: int | None, progress: ProgressCallback | None, stage: str,
                   sink: ResultSink | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Run ``models`` on every series; return (partition results in series order, cancelled?).
    ``sink`` gets each partition's result as it finishes (``sink("local", series ids, result)``)."""
    parts = partition_series(series, engine, n_workers)
    sent = worker_job(job)
    tasks = [Partition(p, models, sent) for p in parts]
    on_result = None if sink is None else (lambda i, res: sink("local", [s.uid for s in parts[i]], res))
    try:
        results = map_partitions(fit_partition, tasks, engine=engine, address=address, n_workers=n_workers,
                                 progress=progress, stage=stage, units=[len(p) for p in parts],
                                 on_result=on_result)
        return results, False
    except Cancelled as exc:
        partial = getattr(exc, "partial", None) or []
        return [r for r in partial if r is not None], True
