"""Rolling-origin backtests shared by every model.

For each series the last ``windows`` cutoffs are placed ``step`` periods apart (default ``step = horizon``)
so the last window ends at the series' last observed value. Each model is fit on the history up to a
cutoff (all of it with ``window_type="expanding"``, the same length as the first window's with
``"sliding"``) and forecasts ``horizon`` periods, compared with the actuals.

Local models run per series through :func:`forecasting.evaluation.fitting.fit_predict` (fallbacks,
non-negativity, NaN filling), in partitions of series via :func:`forecasting.engines.map_partitions`.
Global models (the deep networks) are fit once per cutoff on every series' history.
"""
from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset
from forecasting.errors import ConfigError, DataError
from forecasting.progress import PriorResults, ProgressCallback, ResultSink, report

MIN_TRAIN = 2


@dataclass
class BacktestConfig:
    horizon: int
    models: Sequence[str]
    windows: int = 3
    step: int | None = None
    season_length: int | None = None
    levels: Sequence[int] = (80, 95)
    window_type: str = "expanding"
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    non_negative: bool = True
    engine: str = "local"
    address: str | None = None
    n_workers: int | None = None

    def validate(self) -> None:
        from forecasting.models.registry import check_settings, get_spec

        if int(self.horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 (got {self.horizon})")
        if int(self.windows) < 1:
            raise ConfigError(f"windows must be at least 1 (got {self.windows})")
        if self.step is not None and int(self.step) < 1:
            raise ConfigError(f"step must be at least 1 (got {self.step})")
        if self.season_length is not None and int(self.season_length) < 1:
            raise ConfigError(f"season length must be at least 1 (got {self.season_length})")
        if self.window_type not in ("expanding", "sliding"):
            raise ConfigError(f"window_type must be 'expanding' or 'sliding' (got '{self.window_type}')")
        if not self.models:
            raise ConfigError("choose at least one model")
        check_levels(self.levels)
        for m in self.models:
            get_spec(m)
        for m in self.model_params:
            if m not in self.models:
                raise ConfigError(f"settings given for model '{m}', which is not among the chosen models")
            check_settings(m, self.model_params[m])


def check_levels(levels: Sequence[int]) -> None:
    if not levels:
        raise ConfigError("give at least one interval level, e.g. 80,95")
    for l in levels:
        if not (0 < float(l) < 100) or float(l) != int(l):
            raise ConfigError(f"interval levels must be whole percentages between 1 and 99 (got {l})")


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame   # unique_id, model, cutoff, ds, actual, forecast, lo_L, hi_L
    metrics: pd.DataFrame     # one row per unique_id × model: metrics, settings, fallback
    summary: pd.DataFrame     # one row per model: mean metrics over series
    info: dict[str, Any]      # config, versions, seed, device, timings, notes
    total: pd.DataFrame | None = None  # point metrics of the sum over series, per model


def versions() -> dict[str, str]:
    import scipy
    import statsmodels

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "scipy": scipy.__version__, "statsmodels": statsmodels.__version__}


def series_payloads(dataset: Dataset) -> list[dict[str, Any]]:
    """Per series: dates, target with leading/trailing missing values trimmed, covariates (full span)."""
    df = dataset.df
    covs = [c for c in dataset.covariates if c in df.columns] or \
           [c for c in df.columns if c not in (ID, DS, Y)]
    out = []
    for uid, g in df.groupby(ID, sort=False):
        y = g[Y].to_numpy(dtype=float)
        ok = np.flatnonzero(np.isfinite(y))
        if ok.size == 0:
            out.append({"uid": uid, "ds": g[DS].to_numpy()[:0], "y": y[:0], "X": None, "X_after": None,
                        "ds_after": g[DS].to_numpy()[:0]})
            continue
        a, b = ok[0], ok[-1] + 1
        X = g[covs].to_numpy(dtype=float) if covs else None
        out.append({"uid": uid, "ds": g[DS].to_numpy()[a:b], "y": y[a:b],
                    "X": None if X is None else X[a:b], "X_after": None if X is None else X[b:],
                    "ds_after": g[DS].to_numpy()[b:]})
    return out


def cutoff_ends(n: int, h: int, windows: int, step: int) -> list[int]:
    """Training lengths (indices of the first forecast point) of each window, oldest first."""
    return [n - h - step * (windows - 1 - i) for i in range(windows)]


def _task_settings(cfg: BacktestConfig, season_length: int) -> dict[str, Any]:
    return {"h": int(cfg.horizon), "windows": int(cfg.windows), "step": int(cfg.step or cfg.horizon),
            "levels": [int(l) for l in cfg.levels], "window_type": cfg.window_type,
            "season_length": season_length, "params": dict(cfg.model_params),
            "non_negative": bool(cfg.non_negative), "seed": int(cfg.seed)}


def backtest_partition(task: dict[str, Any]) -> dict[str, Any]:
    """Work function (top-level, picklable): every local model on every series of one partition."""
    from forecasting.engines import tick
    from forecasting.evaluation.fitting import fit_predict, settings_text
    from forecasting.evaluation.aggregate import pooled_metrics
    from forecasting.evaluation.metrics import naive_scale

    s = task["settings"]
    h, levels, m = s["h"], s["levels"], s["season_length"]
    rows: list[pd.DataFrame] = []
    scores: list[dict[str, Any]] = []     # per series × model: scored here, on the worker (see `gathered`)
    info: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    for ser in task["series"]:
        np.random.seed(s["seed"])
        y, X, ds = ser["y"], ser["X"], ser["ds"]
        n = y.size
        ends = cutoff_ends(n, h, s["windows"], s["step"])
        usable = [e for e in ends if e >= MIN_TRAIN]
        skipped = len(ends) - len(usable)
        first_len = usable[0] if usable else 0
        for name in task["models"]:
            fallbacks, notes, settings, windows = [], [], {}, []
            t0 = time.perf_counter()
            for k, end in enumerate(usable):
                start = end - first_len if s["window_type"] == "sliding" else 0
                train = y[start:end]
                out = fit_predict(name, train, h, levels=levels, season_length=m,
                                  params=s["params"].get(name, {}),
                                  X=None if X is None else X[start:end],
                                  X_future=None if X is None else X[end:end + h],
                                  non_negative=s["non_negative"])
                if out.fallback:
                    fallbacks.append(f"window {k + 1 + skipped}: {out.fallback}")
                notes += [nt for nt in out.notes if nt not in notes]
                settings = out.settings
                sc, sc2 = naive_scale(train, m)
                frame = {ID: ser["uid"], "model": name, "cutoff": ds[end - 1], DS: ds[end:end + h],
                         "actual": y[end:end + h], "forecast": out.forecast["mean"]}
                for l in levels:
                    frame[f"lo_{l}"] = out.forecast[f"lo-{l}"]
                    frame[f"hi_{l}"] = out.forecast[f"hi-{l}"]
                frame["scale"], frame["scale_sq"] = sc, sc2
                rows.append(pd.DataFrame(frame))
                windows.append(frame)
            if windows:
                scores.append({ID: ser["uid"], "model": name, **pooled_metrics(windows, levels)})
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            if skipped:
                notes.insert(0, f"{skipped} of {len(ends)} window(s) skipped: series has {n} values, "
                                f"too few for horizon {h}")
            info.append({ID: ser["uid"], "model": name, "settings": settings_text(settings),
                         "fallback": " | ".join(fallbacks), "notes": "; ".join(notes)})
        tick(1, ser["uid"])
    return gathered(rows, scores, info, timings)


def gathered(rows: list[pd.DataFrame], scores: list[dict], info: list[dict], timings: dict) -> dict[str, Any]:
    """What a partition (or a global model) sends back: its forecasts as one frame and its per-series
    metrics as rows. Both are made where the forecasts are, so on the ``local`` and ``dask`` engines the
    workers do it in parallel and the driver only joins a few frames, instead of unpickling, joining and
    scoring tens of thousands of small ones alone."""
    return {"forecasts": pd.concat(rows, ignore_index=True) if rows else None, "scores": scores,
            "info": info, "timings": timings}


def _global_backtest(name: str, payloads: list[dict], cfg: BacktestConfig, season_length: int,
                     freq: str, covs: list[str]) -> dict[str, Any]:
    """A global model: one fit per cutoff on all series' histories, then ``h`` steps for each series."""
    from forecasting.evaluation.fitting import fit_predict, global_forecast, settings_text
    from forecasting.evaluation.aggregate import pooled_metrics
    from forecasting.evaluation.runner import predict_global
    from forecasting.evaluation.metrics import naive_scale
    from forecasting.models.registry import get_model_class

    s = _task_settings(cfg, season_length)
    h, levels = s["h"], s["levels"]
    params = dict(s["params"].get(name, {}))
    params.setdefault("seed", s["seed"])
    rows, info, fallback_by_uid, settings, windows_of, devices = [], [], {}, {}, {}, []
    t0 = time.perf_counter()
    for k in range(s["windows"]):
        train_parts, futr_parts, meta = [], [], {}
        for ser in payloads:
            n = ser["y"].size
            end = cutoff_ends(n, h, s["windows"], s["step"])[k]
            if end < MIN_TRAIN:
                continue
            first = cutoff_ends(n, h, s["windows"], s["step"])
            first_len = next(e for e in first if e >= MIN_TRAIN)
            start = end - first_len if s["window_type"] == "sliding" else 0
            tr = pd.DataFrame({ID: ser["uid"], DS: ser["ds"][start:end], Y: ser["y"][start:end]})
            fu = pd.DataFrame({ID: ser["uid"], DS: ser["ds"][end:end + h]})
            if ser["X"] is not None:
                for j, c in enumerate(covs):
                    tr[c] = ser["X"][start:end, j]
                    fu[c] = ser["X"][end:end + h, j]
            train_parts.append(tr)
            futr_parts.append(fu)
            meta[ser["uid"]] = (ser, start, end)
        if not train_parts:
            continue
        train_df = pd.concat(train_parts, ignore_index=True)
        train_df[Y] = train_df.groupby(ID)[Y].transform(lambda v: v.interpolate(limit_direction="both"))
        try:
            model = get_model_class(name)(season_length=season_length, **params)
            model.fit(train_df, freq)
            pred = predict_global(model, h, pd.concat(futr_parts, ignore_index=True), levels, engine=cfg.engine,
                                  address=cfg.address, n_workers=cfg.n_workers)
            settings = model.fitted_settings()
            devices.append(settings.get("device"))
            pred = {uid: g for uid, g in pred.groupby(ID, sort=False)}
            error = ""
        except Exception as exc:  # noqa: BLE001 - fall back per series below
            pred, error = {}, f"{name} failed ({type(exc).__name__}: {str(exc)[:160]})"
        for uid, (ser, start, end) in meta.items():
            train = ser["y"][start:end]
            fc = global_forecast(pred.get(uid), h, levels, train, cfg.non_negative)
            if fc is None:
                out = fit_predict("seasonal_naive", train, h, levels=levels, season_length=season_length,
                                  non_negative=cfg.non_negative)
                fc = out.forecast
                why = error or f"{name} gave no valid forecast for this series"
                fallback_by_uid.setdefault(uid, []).append(f"window {k + 1}: {why}; used {out.model_used}")
            sc, sc2 = naive_scale(train, season_length)
            frame = {ID: uid, "model": name, "cutoff": ser["ds"][end - 1], DS: ser["ds"][end:end + h],
                     "actual": ser["y"][end:end + h], "forecast": fc["mean"], "scale": sc, "scale_sq": sc2}
            for l in levels:
                frame[f"lo_{l}"], frame[f"hi_{l}"] = fc[f"lo-{l}"], fc[f"hi-{l}"]
            rows.append(pd.DataFrame(frame))
            windows_of.setdefault(uid, []).append(frame)
    for ser in payloads:
        info.append({ID: ser["uid"], "model": name, "settings": settings_text(settings),
                     "fallback": " | ".join(fallback_by_uid.get(ser["uid"], [])), "notes": ""})
    scores = [{ID: uid, "model": name, **pooled_metrics(w, levels)} for uid, w in windows_of.items()]
    return {**gathered(rows, scores, info, {name: time.perf_counter() - t0}), "devices": {name: devices}}


def run_backtest(dataset: Dataset, cfg: BacktestConfig, progress: ProgressCallback | None = None, *,
                 sink: ResultSink | None = None, prior: PriorResults | None = None) -> BacktestResult:
    """Rolling-origin backtest of ``cfg.models`` on every series of ``dataset``.

    ``sink`` gets each partition's (and global model's) result as it finishes; ``prior`` holds the
    results of an earlier, unfinished run of the same config: only the missing work runs (see
    :class:`~forecasting.progress.PriorResults`).

    Never aborts because a model fails on a series: that series falls back (see ``fallback``).
    If ``progress`` raises :class:`Cancelled`, the series finished so far are returned
    (``info["cancelled"]`` is True); with the serial engine that is series by series."""
    from forecasting.evaluation.aggregate import across_series, per_model
    from forecasting.evaluation.metrics import metric_columns
    from forecasting.evaluation.runner import plan_run, run_device, run_local_models

    cfg.validate()
    if dataset.df.empty:
        raise DataError("the dataset has no rows to backtest")
    t_start = time.perf_counter()
    plan = plan_run(dataset, cfg.models, cfg.season_length, cfg.levels)
    m, season_why, levels, payloads = plan.season_length, plan.season_why, plan.levels, plan.payloads
    covs, local, global_ = plan.covariates, plan.local, plan.global_
    settings = _task_settings(cfg, m)
    prior = prior or PriorResults()
    results: list[dict[str, Any]] = list(prior.results)
    cancelled = False
    n_series = len(payloads)
    todo = [p for p in payloads if p["uid"] not in prior.series] if prior.series else payloads
    report(progress, "backtest", n_series - len(todo), n_series, f"{n_series} series × {len(cfg.models)} model(s)")
    if local and todo:
        new, cancelled = run_local_models(backtest_partition, todo, local, settings, engine=cfg.engine,
                                          address=cfg.address, n_workers=cfg.n_workers,
                                          progress=progress, stage="backtest", sink=sink)
        results += new
    if global_ and not cancelled:
        for name in global_:
            if name in prior.models:
                continue
            report(progress, "backtest", n_series, n_series, f"training {name} on all series")
            results.append(_global_backtest(name, payloads, cfg, m, dataset.freq, covs))
            if sink is not None:
                sink(name, [p["uid"] for p in payloads], results[-1])
    frames = [res["forecasts"] for res in results if res["forecasts"] is not None]
    cols = [ID, "model", "cutoff", DS, "actual", "forecast"] + [f"{s}_{l}" for l in levels for s in ("lo", "hi")]
    fc = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["scale", "scale_sq"])
    info_rows = pd.DataFrame([r for res in results for r in res["info"]],
                             columns=[ID, "model", "settings", "fallback", "notes"])
    scores = [r for res in results for r in res["scores"]]
    metrics = pd.DataFrame(scores, columns=[ID, "model", *metric_columns(levels), "n_points", "n_windows"]) \
        if scores else pd.DataFrame(columns=[ID, "model"])
    metrics = info_rows.merge(metrics, on=[ID, "model"], how="left")
    front = [ID, "model"]
    rest = [c for c in metrics.columns if c not in front + ["settings", "fallback", "notes"]]
    metrics = metrics[front + rest + ["settings", "fallback", "notes"]]
    summary = per_model(metrics) if len(metrics) else pd.DataFrame()
    total = across_series(fc, levels) if len(fc) else None
    timings: dict[str, float] = {}
    for res in results:
        for k, v in res["timings"].items():
            timings[k] = timings.get(k, 0.0) + v
    info = {"config": {**asdict(cfg), "season_length": m, "step": settings["step"], "levels": levels},
            "versions": versions(), "seed": cfg.seed, "device": run_device(results), "n_series": n_series,
            "timings": {"total_s": round(time.perf_counter() - t_start, 3),
                        "model_s": {k: round(v, 3) for k, v in timings.items()}},
            "cancelled": cancelled,
            "notes": [f"season length {m} ({season_why})"]}
    return BacktestResult(fc[cols].reset_index(drop=True), metrics.reset_index(drop=True), summary, info, total)
