"""Forecast the periods after each series' last observed date.

``run_forecast(dataset, ForecastConfig, progress)`` fits the chosen model(s) on each series' full history
through the same two paths as a backtest (per series with the shared safety net, across series for the
networks) and forecasts ``horizon`` periods. ``model="auto"`` picks, per series, the candidate with the
best backtest MASE on that series (:mod:`forecasting.models.auto`).

Future covariate values (promotions, prices planned ahead) come from rows after the last observed
target value (``y`` missing, covariates filled) or from ``ForecastConfig.future_covariates``
(``unique_id``, ``ds`` and the covariate columns). Without them, covariate-aware models run without
covariates and say so in ``settings``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import pandas as pd

from forecasting.data.contract import DS, ID, Dataset
from forecasting.errors import ConfigError, DataError
from forecasting.models.base import bound_column, bound_key
from forecasting.models.defaults import DEFAULT_MODEL
from forecasting.pipeline.options import RunOptions
from forecasting.pipeline.backtest import BacktestJob
from forecasting.pipeline.plan import (Collector, Job, SeriesData, Window, bound_columns, future_dates, run_device,
                                       versions)
from forecasting.progress import PriorResults, ProgressCallback, ResultSink, report


@dataclass
class ForecastConfig(RunOptions):
    horizon: int
    model: str | Sequence[str] = DEFAULT_MODEL
    future_covariates: pd.DataFrame | None = None
    intervals: str = "conformal"      # model | conformal (the default, as the CLI, the app and the API):
    calibration_windows: int = 3      #   calibrated on a backtest of the history
    # first: a model that chooses (the ETS form) chooses at the calibration's earliest origin, on data before
    # every calibration window, and keeps that choice at the later origins (parameters estimated again); every:
    # it searches again at each origin (see calibration_choices; benchmarks/results/conformal_refit*.md)
    calibration_search: str = "first"

    @property
    def models(self) -> list[str]:
        if isinstance(self.model, str):
            return [m.strip() for m in self.model.split(",") if m.strip()]
        return list(self.model)

    def validate(self) -> None:
        if int(self.horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 (got {self.horizon})")
        if not self.models:
            raise ConfigError("choose a model")
        if self.intervals not in ("model", "conformal"):
            raise ConfigError(f"intervals must be 'model' or 'conformal' (got '{self.intervals}')")
        if self.calibration_search not in ("first", "every"):
            raise ConfigError(f"calibration_search must be 'first' or 'every' (got '{self.calibration_search}')")
        self.check_options(self.models)


@dataclass
class ForecastResult:
    forecasts: pd.DataFrame   # unique_id, ds, model, forecast, lo_L, hi_L
    settings: pd.DataFrame    # unique_id, model, model_used, settings, fallback, notes
    info: dict[str, Any]
    # attention networks only: per series, the weight the last input period gave each lag of the lookback
    attention: pd.DataFrame | None = None   # unique_id, model, lag (1 = last observed period), weight
    # conformal intervals only: the calibration backtest's forecasts (its errors also serve reconciliation)
    calibration: pd.DataFrame | None = None


@dataclass
class ForecastJob(Job):
    def windows(self, ser: SeriesData) -> list[Window]:
        return [Window(1, 0, ser.y.size, future_dates(ser.ds[-1], self.freq, self.h), ser.X_future)]

    def collector(self) -> "ForecastCollector":
        return ForecastCollector(self)


class ForecastCollector(Collector):
    """Forecast rows, and per series × model the model used, its settings, the fallback and notes."""

    def add(self, ser: SeriesData, name: str, windows: list[Window], fits: list) -> None:
        from forecasting.models.fitting import settings_text

        for w, out in zip(windows, fits):
            if isinstance(out, Exception):
                self.info.append({ID: ser.uid, "model": name, "model_used": "", "settings": "",
                                  "fallback": f"no forecast: {out}", "notes": ""})
                continue
            frame = {ID: ser.uid, DS: w.dates, "model": name, "forecast": out.forecast["mean"]}
            for l in self.job.levels:
                for side in ("lo", "hi"):
                    frame[bound_column(side, l)] = out.forecast[bound_key(side, l)]
            self.rows.append(pd.DataFrame(frame))
            self.info.append({ID: ser.uid, "model": name, "model_used": out.model_used,
                              "settings": settings_text(out.settings), "fallback": out.fallback,
                              "notes": "; ".join(out.notes)})


def attach_future_covariates(series: list[SeriesData], cfg: ForecastConfig, covs: list[str], freq: str) -> None:
    """Each series' covariates over the horizon: from ``cfg.future_covariates`` when it has the series,
    else from the rows after its last observed target when they cover the horizon; else None."""
    h = int(cfg.horizon)
    fut = None
    if cfg.future_covariates is not None:
        fut = cfg.future_covariates.copy()
        missing = [c for c in [ID, DS, *covs] if c not in fut.columns]
        if missing:
            raise DataError(f"future covariates lack column(s) {missing}")
        fut[ID] = fut[ID].astype(str)
        fut[DS] = pd.to_datetime(fut[DS])
        fut = {uid: g.set_index(DS) for uid, g in fut.groupby(ID)}
    for ser in series:
        ser.X_future = None
        if ser.X is None or ser.y.size == 0:
            continue
        if fut is not None and ser.uid in fut:
            g = fut[ser.uid].reindex(pd.DatetimeIndex(future_dates(ser.ds[-1], freq, h)))
            ser.X_future = g[covs].to_numpy(dtype=float)
        elif ser.X_after is not None and len(ser.X_after) >= h:
            ser.X_future = ser.X_after[:h]


SMALL_POOL = 20   # fewer series than this: the calibration adds older full windows (see calibration_origins)


def calibration_origins(h: int, windows: int, n_series: int | None = None) -> list[tuple[int, int, int]]:
    """The backtests that calibrate a forecast's conformal intervals: (horizon, windows, step) each.

    The ``windows`` origins are the most recent ones, ``s = ceil(h / windows)`` periods apart, ending
    ``h, h - s, h - 2s …`` periods before the last value: a window that starts after ``n - h`` is cut at the
    end of the history and calibrates only its first steps. (Three full windows ending at the last value
    put the oldest origin ``3h`` back, fit on a history that much shorter, whose errors are larger than the
    forecast's: M3's 80% intervals then covered 83%; benchmarks/results/conformal.md.) When ``h`` is shorter
    than ``windows``, the remaining windows go further back, full length. With fewer than ``SMALL_POOL``
    series (``n_series``), ``windows - 1`` more full windows go back one period each (the most recent origins
    that reach the last step): the last steps would otherwise have one error per series, too few for a 95%
    quantile."""
    h, windows = int(h), max(int(windows), 1)
    s = max(1, -(-h // windows))
    partial = [h - j * s for j in range(windows) if h - j * s >= 1]
    extra = windows - 1 if n_series is not None and n_series < SMALL_POOL else 0
    runs = [(h, 1 + windows - len(partial) + extra, 1 if extra else s)]
    runs += [(hh, 1, s) for hh in partial[1:]]
    return runs


def history_backtest_config(cfg: ForecastConfig, m: int, levels, horizon: int, windows: int, step: int | None = None):
    """The backtest of a forecast's own history with the forecast's models and settings (models' own
    intervals): what calibrates conformal intervals and gives reconciliation its errors."""
    from forecasting.pipeline.backtest import BacktestConfig

    return BacktestConfig(horizon=int(horizon), models=cfg.models, windows=int(windows), step=step, season_length=m,
                          levels=levels, model_params=dict(cfg.model_params), seed=cfg.seed,
                          non_negative=cfg.non_negative, engine=cfg.engine, address=cfg.address,
                          n_workers=cfg.n_workers, intervals="model")


def history_backtest_forecasts(dataset: Dataset, cfg: ForecastConfig, m: int, levels,
                               origins: Sequence[tuple[int, int, int]], progress: ProgressCallback | None = None,
                               *, series_params: dict[str, dict[str, dict[str, Any]]] | None = None,
                               points_only: bool = False, plan=None) -> pd.DataFrame:
    """The forecasts of the history backtests at ``origins`` ((horizon, windows, step) each, as
    :func:`calibration_origins` gives them), concatenated in that order: the same frame as
    ``run_backtest(dataset, history_backtest_config(cfg, m, levels, *origin)).forecasts`` for each origin
    (tests/pipeline/test_forecast_calibration.py), without what the calibration does not read. The run is
    planned once (the series, the covariates) instead of once per origin, and the backtest's scoring
    (metrics, the summary, the total over series, coverage per step: most of a one-series backtest's cost)
    is skipped. ``series_params``: per series and model, settings over the run's (see
    :func:`calibration_choices`). ``points_only``: the models forecast their means alone (no interval columns;
    what conformal calibration and reconciliation read), for per-series models only: a network's point
    forecast may depend on its quantile levels. ``plan``: the forecast's own
    :class:`~forecasting.pipeline.plan.RunPlan` of ``dataset`` with season length ``m`` (the same series and
    models; the backtests do not read the future covariates it attached), instead of planning again."""
    from forecasting.pipeline.plan import plan_run
    from forecasting.pipeline.run_models import run_models

    frames = []
    for hh, ww, step in origins:
        bt = history_backtest_config(cfg, m, levels, hh, ww, step)
        bt.validate()
        if plan is None:
            plan = plan_run(dataset, bt.models, bt.season_length, bt.levels)
        points_only = points_only and not plan.across_series
        job = CalibrationJob(h=int(bt.horizon), levels=[] if points_only else plan.levels,
                          season_length=plan.season_length, params=dict(bt.model_params),
                          non_negative=bool(bt.non_negative), seed=int(bt.seed), freq=dataset.freq,
                          n_origins=int(bt.windows), step=int(bt.step or bt.horizon), window_type=bt.window_type,
                          series_params=series_params)
        engine = dict(engine=bt.engine, address=bt.address, n_workers=bt.n_workers)
        results, _ = run_models(plan, plan.series, job, "backtest", len(bt.models), engine=engine,
                                progress=progress, sink=None, prior=PriorResults())
        frames += [res["forecasts"] for res in results if res["forecasts"] is not None]
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=[ID, "model", "cutoff", DS, "actual", "forecast"]
                        + ([] if points_only else bound_columns(levels)))


@dataclass
class CalibrationJob(BacktestJob):
    """A backtest's windows whose collector keeps only the forecast rows the calibration reads."""

    def collector(self) -> "CalibrationCollector":
        return CalibrationCollector(self)


class CalibrationCollector(Collector):
    """The rows of :class:`~forecasting.pipeline.backtest.BacktestCollector`, in its columns up to the bounds,
    without its scores and naive scales."""

    def add(self, ser: SeriesData, name: str, windows: list[Window], fits: list) -> None:
        h = self.job.h
        for w, out in zip(windows, fits):
            if isinstance(out, Exception):
                continue
            frame = {ID: ser.uid, "model": name, "cutoff": ser.ds[w.end - 1], DS: w.dates,
                     "actual": ser.y[w.end:w.end + h], "forecast": out.forecast["mean"]}
            for l in self.job.levels:
                for side in ("lo", "hi"):
                    frame[bound_column(side, l)] = out.forecast[bound_key(side, l)]
            self.rows.append(pd.DataFrame(frame))


@dataclass
class ChoiceJob(BacktestJob):
    """One window per series, ending at the calibration's earliest origin: fit to learn what each model
    chooses there (:func:`calibration_choices`); its collector keeps the fitted settings alone."""

    def collector(self) -> "ChoiceCollector":
        return ChoiceCollector(self)


class ChoiceCollector(Collector):
    def add(self, ser: SeriesData, name: str, windows: list[Window], fits: list) -> None:
        for out in fits:
            if not isinstance(out, Exception) and out.model_used == name and not out.fallback:
                self.info.append({ID: ser.uid, "model": name, "settings": dict(out.settings)})


def calibration_choices(dataset: Dataset, cfg: ForecastConfig, plan, origins: Sequence[tuple[int, int, int]],
                        progress: ProgressCallback | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Per series and model, the settings that make the calibration backtests at ``origins`` keep the choice
    the model makes at their earliest origin (:meth:`~forecasting.models.base.PerSeriesModel.refit_settings`:
    ETS fixes the form it chose there and estimates its parameters again at each origin, instead of searching
    every form again). The choice is made on the history before every calibration window, so it knows none of
    the errors it calibrates (choosing on the full history, as the forecast does, made the errors optimistic:
    intervals 3-7% narrower, coverage 1-2 points lower on M3; ``results/conformal_refit*.md``). Only per-series
    models with such a hook, only where the model itself fit that window (no fallback); a series too short for
    that window searches at every origin."""
    from dataclasses import replace

    from forecasting.models.registry import get_model_class
    from forecasting.pipeline.run_models import run_models

    hooks: dict[str, Any] = {}
    for name in plan.per_series:
        try:
            hook = getattr(get_model_class(name, per_series=True), "refit_settings", None)
        except Exception:  # noqa: BLE001 - a model without a per-series class searches again
            hook = None
        if hook is not None and _overrides(hook):
            hooks[name] = hook
    if not hooks or not origins:
        return {}
    hh, ww, step = (int(v) for v in origins[0])          # the first run reaches furthest back
    job = ChoiceJob(h=hh + step * (ww - 1), levels=[], season_length=plan.season_length,
                    params=dict(cfg.model_params), non_negative=bool(cfg.non_negative), seed=int(cfg.seed),
                    freq=dataset.freq, n_origins=1, step=step)
    sub = replace(plan, per_series=list(hooks), across_series=[])
    engine = dict(engine=cfg.engine, address=cfg.address, n_workers=cfg.n_workers)
    results, _ = run_models(sub, sub.series, job, "backtest", len(hooks), engine=engine, progress=progress,
                            sink=None, prior=PriorResults())
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for res in results:
        for row in res["info"]:
            extra = hooks[row["model"]](row["settings"])
            if extra:
                out.setdefault(str(row[ID]), {})[row["model"]] = extra
    return out


def _overrides(hook) -> bool:
    """Does the model define its own ``refit_settings`` (the base class's keeps nothing)?"""
    from forecasting.models.base import PerSeriesModel

    return getattr(hook, "__func__", hook) is not PerSeriesModel.refit_settings.__func__


def _conformal(dataset: Dataset, cfg: ForecastConfig, fc: pd.DataFrame, settings: pd.DataFrame, m: int, levels,
               info: dict, progress: ProgressCallback | None, plan=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conformal bounds from rolling-origin backtests of the same models on the history (no extra data);
    returns the forecasts and the backtests' forecasts."""
    from forecasting.pipeline.calibration import conformal_quantiles, conformalize_forecast

    report(progress, "forecast", 0, 1, f"calibrating intervals: backtest at {cfg.calibration_windows} origins")
    origins = calibration_origins(int(cfg.horizon), int(cfg.calibration_windows), dataset.n_series)
    choices = calibration_choices(dataset, cfg, plan, origins, progress) if cfg.calibration_search == "first" else None
    backtests = history_backtest_forecasts(dataset, cfg, m, levels, origins, progress, series_params=choices,
                                           points_only=True, plan=plan)
    q = conformal_quantiles(backtests, dataset.df, m, levels)
    out = conformalize_forecast(fc, dataset.df, m, levels, q, cfg.non_negative)
    n_model = int((out.groupby([ID, "model"])["interval"].first() == "model").sum())
    info["notes"].append(f"conformal intervals from backtests at the {cfg.calibration_windows} most recent origins "
                         f"of the history (errors per horizon step)"
                         + (f", and older full windows (fewer than {SMALL_POOL} series)"
                            if dataset.n_series < SMALL_POOL else "") + (f"; {n_model} series x model kept the model's "
                                                                        "own (too short to calibrate)" if n_model else "")
                         + ("; each series' ETS form chosen at the earliest of those origins and refit at the later "
                            "ones (calibration_search=first)" if choices else ""))
    return out.drop(columns="interval"), backtests


def run_forecast(dataset: Dataset, cfg: ForecastConfig, progress: ProgressCallback | None = None, *,
                 sink: ResultSink | None = None, prior: PriorResults | None = None,
                 reuse: dict[str, Any] | None = None, on_model=None) -> ForecastResult:
    """Forecast ``cfg.horizon`` periods after each series' last observed value with ``cfg.model``.

    ``sink`` and ``prior``: results stored as they finish, and a resumed run's stored results (as in
    :func:`~forecasting.pipeline.backtest.run_backtest`). ``reuse`` (global model name -> ``f(train_df,
    freq)`` returning a trained model) forecasts with saved networks instead of training them;
    ``on_model(name, model)`` receives each global model once it has forecast (to keep it)."""
    from forecasting.data.frequency import check_horizon
    from forecasting.pipeline.plan import plan_run
    from forecasting.pipeline.run_models import run_models

    cfg.validate()
    if dataset.df.empty:
        raise DataError("the dataset has no rows to forecast from")
    check_horizon(dataset.df["ds"].max(), dataset.freq, int(cfg.horizon))
    t0 = time.perf_counter()
    plan = plan_run(dataset, cfg.models, cfg.season_length, cfg.levels)
    m, levels = plan.season_length, plan.levels
    attach_future_covariates(plan.series, cfg, plan.covariates, dataset.freq)
    empty = [s.uid for s in plan.series if s.y.size == 0]
    series = [s for s in plan.series if s.y.size]
    job = ForecastJob(h=int(cfg.horizon), levels=levels, season_length=m, params=dict(cfg.model_params),
                      non_negative=bool(cfg.non_negative), seed=int(cfg.seed), freq=dataset.freq)
    engine = dict(engine=cfg.engine, address=cfg.address, n_workers=cfg.n_workers)
    results, cancelled = run_models(plan, series, job, "forecast", len(cfg.models), engine=engine,
                                    progress=progress, sink=sink, prior=prior or PriorResults(), explain=True,
                                    reuse=reuse, on_model=on_model)
    cols = [ID, DS, "model", "forecast"] + bound_columns(levels)
    frames = [res["forecasts"] for res in results if res["forecasts"] is not None]
    fc = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    info_rows = [r for res in results for r in res["info"]]
    info_rows += [{ID: u, "model": n, "model_used": "", "settings": "", "fallback": "no forecast: the series has no values",
                   "notes": ""} for u in empty for n in cfg.models]
    st = pd.DataFrame(info_rows, columns=[ID, "model", "model_used", "settings", "fallback", "notes"])
    cfg_d = {k: v for k, v in asdict(cfg).items() if k != "future_covariates"}
    info = {"config": {**cfg_d, "season_length": m, "levels": levels}, "versions": versions(), "seed": cfg.seed,
            "device": run_device(results), "n_series": len(series) + len(empty), "cancelled": cancelled,
            "timings": {"total_s": round(time.perf_counter() - t0, 3)},
            "notes": [f"season length {m} ({plan.season_why})"]}
    info["intervals"] = cfg.intervals
    calibration = None
    if cfg.intervals == "conformal" and len(fc) and not cancelled:
        fc, calibration = _conformal(dataset, cfg, fc, st, m, levels, info, progress, plan)
    attention = [res["attention"] for res in results if res.get("attention") is not None]
    return ForecastResult(fc.reset_index(drop=True), st, info,
                          pd.concat(attention, ignore_index=True) if attention else None, calibration)
