"""Forecast the periods after each series' last observed date.

``run_forecast(dataset, ForecastConfig, progress)`` fits the chosen model(s) on each series' full history
through the shared safety net (:mod:`forecasting.evaluation.fitting`: fallbacks, non-negativity, NaN
filling) and forecasts ``horizon`` periods. ``model="auto"`` picks, per series, the candidate with the
best backtest MASE on that series (:mod:`forecasting.models.auto`).

Future covariate values (promotions, prices planned ahead) come from rows after the last observed
target value (``y`` missing, covariates filled) or from ``ForecastConfig.future_covariates``
(``unique_id``, ``ds`` and the covariate columns). Without them, covariate-aware models run without
covariates and say so in ``settings``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset
from forecasting.errors import ConfigError, DataError
from forecasting.progress import PriorResults, ProgressCallback, ResultSink, report


@dataclass
class ForecastConfig:
    horizon: int
    model: str | Sequence[str] = "auto"
    levels: Sequence[int] = (80, 95)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    season_length: int | None = None
    seed: int = 0
    non_negative: bool = True
    engine: str = "local"
    address: str | None = None
    n_workers: int | None = None
    future_covariates: pd.DataFrame | None = None

    @property
    def models(self) -> list[str]:
        if isinstance(self.model, str):
            return [m.strip() for m in self.model.split(",") if m.strip()]
        return list(self.model)

    def validate(self) -> None:
        from forecasting.evaluation.backtest import check_levels
        from forecasting.models.registry import check_settings, get_spec

        if int(self.horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 (got {self.horizon})")
        if not self.models:
            raise ConfigError("choose a model")
        for m in self.models:
            get_spec(m)
        if self.season_length is not None and int(self.season_length) < 1:
            raise ConfigError(f"season length must be at least 1 (got {self.season_length})")
        check_levels(self.levels)
        for m, params in self.model_params.items():
            if m in self.models:
                check_settings(m, params)


@dataclass
class ForecastResult:
    forecasts: pd.DataFrame   # unique_id, ds, model, forecast, lo_L, hi_L
    settings: pd.DataFrame    # unique_id, model, model_used, settings, fallback, notes
    info: dict[str, Any]
    # attention networks only: per series, the weight the last input period gave each lag of the lookback
    attention: pd.DataFrame | None = None   # unique_id, model, lag (1 = last observed period), weight


def future_dates(last: pd.Timestamp, freq: str, h: int) -> np.ndarray:
    return pd.date_range(start=last, periods=h + 1, freq=freq)[1:].to_numpy()


def forecast_partition(task: dict[str, Any]) -> dict[str, Any]:
    """Work function (top-level, picklable): every local model on every series of one partition."""
    from forecasting.evaluation.fitting import fit_predict, settings_text
    from forecasting.engines import tick

    s = task["settings"]
    h, levels = s["h"], s["levels"]
    rows, info = [], []
    for ser in task["series"]:
        np.random.seed(s["seed"])
        dates = future_dates(pd.Timestamp(ser["ds"][-1]), s["freq"], h)
        for name in task["models"]:
            Xf = ser.get("X_future")
            try:
                out = fit_predict(name, ser["y"], h, levels=levels, season_length=s["season_length"],
                                  params=s["params"].get(name, {}), X=ser["X"], X_future=Xf,
                                  non_negative=s["non_negative"])
            except ValueError as exc:
                info.append({ID: ser["uid"], "model": name, "model_used": "", "settings": "",
                             "fallback": f"no forecast: {exc}", "notes": ""})
                continue
            frame = {ID: ser["uid"], DS: dates, "model": name, "forecast": out.forecast["mean"]}
            for l in levels:
                frame[f"lo_{l}"], frame[f"hi_{l}"] = out.forecast[f"lo-{l}"], out.forecast[f"hi-{l}"]
            rows.append(pd.DataFrame(frame))
            info.append({ID: ser["uid"], "model": name, "model_used": out.model_used,
                         "settings": settings_text(out.settings), "fallback": out.fallback,
                         "notes": "; ".join(out.notes)})
        tick(1, ser["uid"])
    # one frame per partition: the driver concatenates a few frames, not one per series and model
    return {"rows": [pd.concat(rows, ignore_index=True)] if rows else [], "info": info}


def _attach_future_covariates(payloads: list[dict], cfg: ForecastConfig, covs: list[str]) -> None:
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
    for ser in payloads:
        ser["X_future"] = None
        if ser["X"] is None or ser["y"].size == 0:
            continue
        dates = future_dates(pd.Timestamp(ser["ds"][-1]), ser["freq"], h)
        if fut is not None and ser["uid"] in fut:
            g = fut[ser["uid"]].reindex(pd.DatetimeIndex(dates))
            ser["X_future"] = g[covs].to_numpy(dtype=float)
        elif ser["X_after"] is not None and len(ser["X_after"]) >= h:
            ser["X_future"] = ser["X_after"][:h]


def _global_forecast(name: str, payloads: list[dict], cfg: ForecastConfig, season_length: int, freq: str,
                     covs: list[str], levels: list[int]) -> dict[str, Any]:
    from forecasting.evaluation.fitting import fit_predict, global_forecast, settings_text
    from forecasting.evaluation.runner import predict_global
    from forecasting.models.registry import get_model_class

    h = int(cfg.horizon)
    params = dict(cfg.model_params.get(name, {}))
    params.setdefault("seed", cfg.seed)
    train, futr = [], []
    for ser in payloads:
        if ser["y"].size == 0:
            continue
        tr = pd.DataFrame({ID: ser["uid"], DS: ser["ds"], Y: ser["y"]})
        fu = pd.DataFrame({ID: ser["uid"], DS: future_dates(pd.Timestamp(ser["ds"][-1]), freq, h)})
        if ser["X"] is not None:
            Xf = ser.get("X_future")
            for j, c in enumerate(covs):
                tr[c] = ser["X"][:, j]
                fu[c] = Xf[:, j] if Xf is not None else np.nan
        train.append(tr)
        futr.append(fu)
    train_df = pd.concat(train, ignore_index=True)
    train_df[Y] = train_df.groupby(ID)[Y].transform(lambda v: v.interpolate(limit_direction="both"))
    futr_df = pd.concat(futr, ignore_index=True)
    if covs and futr_df[covs].isna().any().any():
        train_df, futr_df = train_df.drop(columns=covs), futr_df.drop(columns=covs)
    try:
        model = get_model_class(name)(season_length=season_length, **params).fit(train_df, freq)
        pred = predict_global(model, h, futr_df, levels, engine=cfg.engine, address=cfg.address,
                              n_workers=cfg.n_workers)
        fitted = model.fitted_settings()
        settings, error = settings_text(fitted), ""
        pred = {uid: g for uid, g in pred.groupby(ID, sort=False)}
    except Exception as exc:  # noqa: BLE001 - every series falls back below
        pred, settings, error = {}, "", f"{name} failed ({type(exc).__name__}: {str(exc)[:160]})"
        model, fitted = None, {}
    attention = explain_attention(model, name) if pred else None
    rows, info = [], []
    for ser in payloads:
        if ser["y"].size == 0:
            continue
        used, fb = name, ""
        fc = global_forecast(pred.get(ser["uid"]), h, levels, ser["y"], cfg.non_negative)
        if fc is None:
            out = fit_predict("seasonal_naive", ser["y"], h, levels=levels, season_length=season_length,
                              non_negative=cfg.non_negative)
            fc, used = out.forecast, out.model_used
            fb = f"{error or name + ' gave no valid forecast for this series'}; used {used}"
        frame = {ID: ser["uid"], DS: future_dates(pd.Timestamp(ser["ds"][-1]), freq, h), "model": name,
                 "forecast": fc["mean"]}
        for l in levels:
            frame[f"lo_{l}"], frame[f"hi_{l}"] = fc[f"lo-{l}"], fc[f"hi-{l}"]
        rows.append(pd.DataFrame(frame))
        info.append({ID: ser["uid"], "model": name, "model_used": used, "settings": settings,
                     "fallback": fb, "notes": ""})
    return {"rows": rows, "info": info, "devices": {name: [fitted.get("device")]}, "attention": attention}


def explain_attention(model, name: str) -> pd.DataFrame | None:
    """For an attention network: how much the forecast's last input period attended to each lag of the
    lookback, per series (``unique_id, model, lag, weight``), for the explanation view; else None. An
    explanation that cannot be computed never costs the forecast: it is left out."""
    if model is None or not callable(getattr(model, "attention", None)):
        return None
    try:
        att = model.attention()
    except Exception:  # noqa: BLE001 - e.g. one network per series (local=True) keeps no shared encoder
        return None
    return att.assign(model=name)[[ID, "model", "lag", "weight"]]


def run_forecast(dataset: Dataset, cfg: ForecastConfig, progress: ProgressCallback | None = None, *,
                 sink: ResultSink | None = None, prior: PriorResults | None = None) -> ForecastResult:
    """Forecast ``cfg.horizon`` periods after each series' last observed value with ``cfg.model``.

    ``sink`` and ``prior``: results stored as they finish, and a resumed run's stored results (as in
    :func:`~forecasting.evaluation.backtest.run_backtest`)."""
    from forecasting.evaluation.backtest import versions
    from forecasting.evaluation.runner import plan_run, run_device, run_local_models

    cfg.validate()
    if dataset.df.empty:
        raise DataError("the dataset has no rows to forecast from")
    from forecasting.data.frequency import check_horizon

    check_horizon(dataset.df["ds"].max(), dataset.freq, int(cfg.horizon))
    t0 = time.perf_counter()
    plan = plan_run(dataset, cfg.models, cfg.season_length, cfg.levels)
    m, season_why, levels, payloads = plan.season_length, plan.season_why, plan.levels, plan.payloads
    covs, local, global_ = plan.covariates, plan.local, plan.global_
    for p in payloads:
        p["freq"] = dataset.freq
    _attach_future_covariates(payloads, cfg, covs)
    empty = [p["uid"] for p in payloads if p["y"].size == 0]
    payloads = [p for p in payloads if p["y"].size]
    settings = {"h": int(cfg.horizon), "levels": levels, "season_length": m, "params": dict(cfg.model_params),
                "non_negative": bool(cfg.non_negative), "seed": int(cfg.seed), "freq": dataset.freq}
    n_series = len(payloads)
    prior = prior or PriorResults()
    results, cancelled = list(prior.results), False
    todo = [p for p in payloads if p["uid"] not in prior.series] if prior.series else payloads
    report(progress, "forecast", n_series - len(todo), n_series, f"{n_series} series × {len(cfg.models)} model(s)")
    if local and todo:
        new, cancelled = run_local_models(forecast_partition, todo, local, settings, engine=cfg.engine,
                                          address=cfg.address, n_workers=cfg.n_workers,
                                          progress=progress, stage="forecast", sink=sink)
        results += new
    if global_ and payloads and not cancelled:
        for name in global_:
            if name in prior.models:
                continue
            report(progress, "forecast", n_series, n_series, f"training {name} on all series")
            results.append(_global_forecast(name, payloads, cfg, m, dataset.freq, covs, levels))
            if sink is not None:
                sink(name, [p["uid"] for p in payloads], results[-1])
    cols = [ID, DS, "model", "forecast"] + [f"{s}_{l}" for l in levels for s in ("lo", "hi")]
    rows = [r for res in results for r in res["rows"]]
    fc = pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)
    info_rows = [r for res in results for r in res["info"]]
    info_rows += [{ID: u, "model": n, "model_used": "", "settings": "", "fallback": "no forecast: the series has no values",
                   "notes": ""} for u in empty for n in cfg.models]
    st = pd.DataFrame(info_rows, columns=[ID, "model", "model_used", "settings", "fallback", "notes"])
    cfg_d = {k: v for k, v in asdict(cfg).items() if k != "future_covariates"}
    info = {"config": {**cfg_d, "season_length": m, "levels": levels}, "versions": versions(), "seed": cfg.seed,
            "device": run_device(results), "n_series": n_series + len(empty), "cancelled": cancelled,
            "timings": {"total_s": round(time.perf_counter() - t0, 3)},
            "notes": [f"season length {m} ({season_why})"]}
    attention = [res["attention"] for res in results if res.get("attention") is not None]
    return ForecastResult(fc.reset_index(drop=True), st, info,
                          pd.concat(attention, ignore_index=True) if attention else None)
