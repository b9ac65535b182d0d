"""What a run works out before fitting anything: the season length, the series as typed payloads, the
covariates, and which models run per series and which across all series.

A :class:`Window` is one fit of one series: the slice of its history to train on and the periods to
forecast. A backtest has several per series (rolling origins), a forecast one (the whole history).
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset
from forecasting.models.base import bound_column


@dataclass(slots=True)
class SeriesData:
    """One series of the run: the observed span (leading/trailing missing targets trimmed)."""
    uid: str
    ds: np.ndarray                 # dates of the observed span
    y: np.ndarray                  # target over that span (interior gaps kept as NaN)
    X: np.ndarray | None           # covariates over that span, one column per covariate
    X_after: np.ndarray | None     # covariates after the last observed target (planned values)
    X_future: np.ndarray | None = None   # a forecast's covariates for its horizon, when known


@dataclass(slots=True)
class Window:
    """One fit of one series: train on ``y[start:end]``, forecast ``dates``."""
    number: int                    # 1-based rolling-origin number (shown in fallback reasons)
    start: int
    end: int
    dates: np.ndarray
    X_future: np.ndarray | None    # covariates over ``dates`` (None: none known)


@dataclass
class RunPlan:
    season_length: int
    season_why: str                # "set by the user", or how the default was found
    levels: list[int]
    series: list[SeriesData]
    covariates: list[str]
    per_series: list[str]          # models fitted series by series, on the engine
    across_series: list[str]       # global models (the networks), trained once on all series


def covariate_columns(dataset: Dataset) -> list[str]:
    """The covariates a run uses: those the dataset declares, else every column beside id, date, target."""
    df = dataset.df
    return [c for c in dataset.covariates if c in df.columns] or [c for c in df.columns if c not in (ID, DS, Y)]


def series_data(dataset: Dataset, covs: Sequence[str]) -> list[SeriesData]:
    """Per series: dates, target with leading/trailing missing values trimmed, covariates."""
    out = []
    for uid, g in dataset.df.groupby(ID, sort=False):
        y = g[Y].to_numpy(dtype=float)
        ds = g[DS].to_numpy()
        ok = np.flatnonzero(np.isfinite(y))
        if ok.size == 0:
            out.append(SeriesData(uid, ds[:0], y[:0], None, None))
            continue
        a, b = ok[0], ok[-1] + 1
        X = g[list(covs)].to_numpy(dtype=float) if covs else None
        out.append(SeriesData(uid, ds[a:b], y[a:b], None if X is None else X[a:b], None if X is None else X[b:]))
    return out


def plan_run(dataset: Dataset, models: Sequence[str], season_length: int | None, levels: Sequence[int]) -> RunPlan:
    from forecasting.explore.seasonality import dataset_season_length
    from forecasting.models.registry import get_spec

    m, why = (int(season_length), "set by the user") if season_length else dataset_season_length(dataset)
    covs = covariate_columns(dataset)
    across = {n: get_spec(n).capabilities.global_model for n in models}
    return RunPlan(m, why, [int(l) for l in levels], series_data(dataset, covs), covs,
                   [n for n in models if not across[n]], [n for n in models if across[n]])


def future_dates(last, freq: str, h: int) -> np.ndarray:
    return pd.date_range(start=pd.Timestamp(last), periods=h + 1, freq=freq)[1:].to_numpy()


def bound_columns(levels: Sequence[int]) -> list[str]:
    """``lo_80, hi_80, lo_95, hi_95`` …: the interval columns of result frames."""
    return [bound_column(side, l) for l in levels for side in ("lo", "hi")]


def versions() -> dict[str, str]:
    import scipy
    import statsmodels

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "scipy": scipy.__version__, "statsmodels": statsmodels.__version__}


def run_device(results: list[dict[str, Any]]) -> str:
    """Where the run computed, for its ``info``: ``cpu``, or the networks' devices beside it
    (``cpu; lstm: cuda:0 (NVIDIA H100 …)``). Each global model's result carries ``devices``
    (model -> device per fit); per-series models always run on the CPU."""
    used: dict[str, list[str]] = {}
    for res in results:
        for name, devs in (res.get("devices") or {}).items():
            for d in devs:
                if d and d not in used.setdefault(name, []):
                    used[name].append(d)
    off_cpu = {n: ds for n, ds in used.items() if ds != ["cpu"]}
    return "; ".join(["cpu"] + [f"{n}: {', '.join(ds)}" for n, ds in off_cpu.items()])


@dataclass
class Job:
    """What every fit of a run needs, sent to the workers with each partition of series. A backtest and a
    forecast differ only in their windows (:meth:`windows`) and in the tables they make of the fits
    (:meth:`collector`); both paths (per series, across series) run any job."""
    h: int
    levels: list[int]
    season_length: int
    params: dict[str, dict[str, Any]]
    non_negative: bool
    seed: int
    freq: str | None
    n_origins: int = 1             # rolling origins per series (1 for a forecast)
    # per series id and model, settings over ``params`` (a forecast's calibration refits: the chosen ETS form)
    series_params: dict[str, dict[str, dict[str, Any]]] | None = None

    def params_for(self, uid: str, name: str) -> dict[str, Any]:
        """The settings of model ``name`` on series ``uid``."""
        p = self.params.get(name, {})
        extra = (self.series_params or {}).get(uid, {}).get(name)
        return {**p, **extra} if extra else p

    def windows(self, ser: SeriesData) -> list[Window]:
        raise NotImplementedError

    def collector(self) -> "Collector":
        raise NotImplementedError


class Collector:
    """Turns the fits of one partition (or one global model) into what the driver joins: a frame of
    forecasts, per-series rows and timings, made where the forecasts are (on the workers)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.rows: list[pd.DataFrame] = []
        self.info: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.timings: dict[str, float] = {}

    def add(self, ser: SeriesData, name: str, windows: list[Window], fits: list) -> None:
        """``fits[i]`` is the :class:`~forecasting.models.fitting.FitOutcome` of ``windows[i]``, or the
        ``ValueError`` saying why not even a fallback could forecast it."""
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        return {"forecasts": pd.concat(self.rows, ignore_index=True) if self.rows else None,
                "info": self.info, "scores": self.scores, "timings": self.timings}
