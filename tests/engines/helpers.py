"""Deterministic per-series work for the engine tests: statsmodels ETS on synthetic series."""
from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(n_series: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    """A long frame of daily series with level, weekly season and noise (sorted by unique_id, ds)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-01", periods=n_days, freq="D")
    frames = []
    for i in range(n_series):
        level = rng.uniform(20, 200)
        season = rng.uniform(0, 0.3) * level * np.sin(2 * np.pi * np.arange(n_days) / 7 + rng.uniform(0, 6))
        y = level + season + rng.normal(0, 0.1 * level, n_days)
        frames.append(pd.DataFrame({"unique_id": f"s{i:05d}", "ds": ds, "y": np.maximum(y, 0)}))
    return pd.concat(frames, ignore_index=True)


def ets_partition(part: pd.DataFrame, horizon: int = 14) -> pd.DataFrame:
    """Fit additive ETS per series, forecast ``horizon`` days; a failing series is recorded, not raised."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from forecasting.engines import tick

    out = []
    for uid, g in part.groupby("unique_id", sort=False):
        y = g["y"].to_numpy()
        try:
            if not np.isfinite(y).all():
                raise ValueError("series has missing values")
            fit = ExponentialSmoothing(y, trend="add", seasonal="add", seasonal_periods=7).fit()
            mean, error = fit.forecast(horizon), ""
        except Exception as exc:
            mean, error = np.full(horizon, np.nan), f"{type(exc).__name__}: {exc}"
        out.append(pd.DataFrame({"unique_id": uid, "step": np.arange(1, horizon + 1), "mean": mean,
                                 "error": error}))
        tick(1, uid)
    return pd.concat(out, ignore_index=True)


def scaled_partition(part: pd.DataFrame, shared: dict) -> pd.DataFrame:
    """Uses the ``shared`` object (sent once per worker) to transform a partition."""
    out = part[["unique_id", "ds"]].copy()
    out["y"] = part["y"] * shared["factor"]
    return out


def failing_partition(part: pd.DataFrame) -> pd.DataFrame:
    """A bug in the caller's code (not a lost worker): must surface, not be retried forever."""
    if (part["unique_id"] == "s00003").any():
        raise ZeroDivisionError("bug in partition function")
    return part


def slow_partition(part: pd.DataFrame) -> pd.DataFrame:
    """Half a second of work per partition, ticking per series (for kill and cancel tests)."""
    import time

    from forecasting.engines import tick

    for uid in part["unique_id"].unique():
        time.sleep(0.5 / part["unique_id"].nunique())
        tick(1, uid)
    return part.groupby("unique_id", sort=False)["y"].sum().reset_index()


def worker_pids(parent_pid: int | None = None) -> list[int]:
    """Worker processes started by this process (pool workers or a LocalCluster's workers)."""
    import psutil

    me = psutil.Process(parent_pid)
    found = []
    for p in me.children(recursive=True):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue  # exited, only not yet reaped by its parent: not a live worker
            cmd = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue  # exited between listing and asking
        if "spawn_main" in cmd and "resource_tracker" not in cmd:
            found.append(p.pid)
    return found


def sleepy_partition(part: dict) -> dict:
    """Sleep ``part["seconds"]`` and say which worker process ran it (for placement tests)."""
    import os
    import time

    time.sleep(part["seconds"])
    return {"i": part["i"], "pid": os.getpid()}


def blas_threads_partition(part):
    """The thread count of every BLAS library loaded in the process running this partition."""
    import scipy.linalg  # noqa: F401  (as a model would: scipy brings its own OpenBLAS)
    from threadpoolctl import threadpool_info

    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
