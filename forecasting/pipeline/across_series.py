"""The across-series path: a global model (the networks) trained once per rolling origin on every series'
history, then ``h`` steps for each series. A series the model gives no valid forecast for (or every series,
when the model fails) falls back to seasonal naive, with the reason kept per series.

Training runs in this process (on its GPU when there is one). On the ``local`` and ``dask`` engines with
many series, per-series inference is spread over the workers (:func:`predict_global`).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y
from forecasting.engines import map_partitions
from forecasting.engines.partition import default_workers, n_partitions, split_evenly
from forecasting.models.base import ForecastDict, bound_key
from forecasting.pipeline.plan import Job, SeriesData, Window

SPREAD_MIN_SERIES = 2000   # below this, one batched pass in this process beats shipping the network


def progress_text(name: str) -> str:
    """What the progress line says while the across-series model ``name`` runs: training, or only reading
    the series for a zero-shot model."""
    from forecasting.models.registry import get_model_class

    if getattr(get_model_class(name), "trains", True):
        return f"training {name} on all series"
    return f"{name}: zero-shot forecasts of all series (no training)"


def run_across_series(name: str, series: list[SeriesData], job: Job, covs: list[str], *, engine: str,
                      address: str | None, n_workers: int | None, explain: bool = False,
                      reuse=None, on_model=None) -> dict[str, Any]:
    """One global model over all series: one fit per rolling origin, fallbacks per series.

    ``reuse(train_df, freq)``: a model already trained (a saved network given the new history) used
    instead of fitting one; ``on_model(name, model)``: called with the model of the last origin once it
    has forecast (a forecast run keeps it in the workspace)."""
    from forecasting.models.fitting import FitOutcome, fit_predict
    from forecasting.models.registry import get_model_class

    h, levels = job.h, job.levels
    params = dict(job.params.get(name, {}))
    params.setdefault("seed", job.seed)
    windows = {ser.uid: {w.number: w for w in job.windows(ser)} for ser in series}
    fits: dict[Any, list] = {ser.uid: [] for ser in series}
    settings: dict[str, Any] = {}
    devices, model = [], None
    t0 = time.perf_counter()
    for number in range(1, job.n_origins + 1):
        todo = [(ser, windows[ser.uid][number]) for ser in series if number in windows[ser.uid]]
        if not todo:
            continue
        train_df, futr_df = _frames(todo, covs, h)
        try:
            if reuse is not None:
                model = reuse(train_df, job.freq)
            else:
                model = get_model_class(name)(season_length=job.season_length, **params).fit(train_df, job.freq)
            pred = predict_global(model, h, futr_df, levels, engine=engine, address=address, n_workers=n_workers)
            settings = model.fitted_settings()
            devices.append(settings.get("device"))
            pred = {uid: g for uid, g in pred.groupby(ID, sort=False)}
            error = ""
        except Exception as exc:  # noqa: BLE001 - every series falls back below
            pred, model, error = {}, None, f"{name} failed ({type(exc).__name__}: {str(exc)[:160]})"
        for ser, w in todo:
            train = ser.y[w.start:w.end]
            fc = tidy_rows(pred.get(ser.uid), h, levels, train, job.non_negative)
            if fc is not None:
                fits[ser.uid].append(FitOutcome(fc, name, settings))
                continue
            out = fit_predict("seasonal_naive", train, h, levels=levels, season_length=job.season_length,
                              non_negative=job.non_negative)
            why = error or f"{name} gave no valid forecast for this series"
            fits[ser.uid].append(FitOutcome(out.forecast, out.model_used, settings,
                                            f"{why}; used {out.model_used}"))
    if on_model is not None and model is not None:
        on_model(name, model)
    out = job.collector()
    for ser in series:
        used = [w for w in windows[ser.uid].values()]
        out.add(ser, name, used, fits[ser.uid])
    out.timings[name] = time.perf_counter() - t0
    res = out.result()
    res["devices"] = {name: devices}
    if explain:
        res["attention"] = explain_attention(model, name)
    return res


def _frames(todo: list[tuple[SeriesData, Window]], covs: list[str], h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long training frame (gaps interpolated per series) and the future frame of one origin.
    Covariates are dropped from both when any future value is unknown."""
    train, futr = [], []
    for ser, w in todo:
        tr = pd.DataFrame({ID: ser.uid, DS: ser.ds[w.start:w.end], Y: ser.y[w.start:w.end]})
        fu = pd.DataFrame({ID: ser.uid, DS: w.dates})
        if ser.X is not None:
            for j, c in enumerate(covs):
                tr[c] = ser.X[w.start:w.end, j]
                fu[c] = w.X_future[:, j] if w.X_future is not None else np.nan
        train.append(tr)
        futr.append(fu)
    train_df = pd.concat(train, ignore_index=True)
    train_df[Y] = train_df.groupby(ID)[Y].transform(lambda v: v.interpolate(limit_direction="both"))
    futr_df = pd.concat(futr, ignore_index=True)
    if covs and futr_df[covs].isna().any().any():
        train_df, futr_df = train_df.drop(columns=covs), futr_df.drop(columns=covs)
    return train_df, futr_df


def tidy_rows(g: pd.DataFrame | None, h: int, levels: Sequence[int], history: np.ndarray,
              non_negative: bool) -> ForecastDict | None:
    """One series' rows of a global model's prediction frame (``mean``, ``lo-L``, ``hi-L``) as a tidy
    forecast dict; None when they are missing, the wrong length or not finite (the caller falls back)."""
    from forecasting.models.fitting import tidy_bounds

    if g is None or len(g) != h or not np.isfinite(g["mean"].to_numpy(dtype=float)).all():
        return None
    fc = {"mean": g["mean"].to_numpy(dtype=float)}
    for l in levels:
        fc[bound_key("lo", l)] = g.get(bound_key("lo", l), g["mean"]).to_numpy(dtype=float)
        fc[bound_key("hi", l)] = g.get(bound_key("hi", l), g["mean"]).to_numpy(dtype=float)
    clip = non_negative and bool((history[np.isfinite(history)] >= 0).all())
    return tidy_bounds(fc, levels, clip)


def predict_global(model, h: int, futr_df, levels, *, engine: str, address: str | None,
                   n_workers: int | None, min_series: int = SPREAD_MIN_SERIES):
    """A trained global network's forecasts for all its series (the model's prediction frame).

    On the ``local`` and ``dask`` engines with at least ``min_series`` series, a CPU copy of the network
    goes once to every worker (``shared``) and each worker predicts a partition of the series. Otherwise
    one batched forward pass here is faster than shipping the network."""
    if not hasattr(model, "for_workers"):         # a global model that cannot be shipped: predict here
        return model.predict(h, futr_df, levels)
    model.train_for(h)
    ids = model.series_ids()
    if engine == "serial" or len(ids) < max(1, min_series) or getattr(model, "local_", None) is not None:
        return model.predict(h, futr_df, levels)
    parts = split_evenly(ids, n_partitions(len(ids), default_workers(engine, n_workers)))
    by_id = {} if futr_df is None else {u: g for u, g in futr_df.groupby(futr_df[ID].astype(str), sort=False)}
    tasks = []
    for p in parts:
        fut = None if futr_df is None else pd.concat([by_id[u] for u in p if u in by_id] or [futr_df.iloc[:0]],
                                                      ignore_index=True)
        tasks.append({"ids": p, "futr": fut, "h": int(h), "levels": list(levels)})
    outs = map_partitions(_predict_part, tasks, engine=engine, address=address, n_workers=n_workers,
                          shared=model.for_workers(), stage="forecast", units=[len(p) for p in parts])
    return pd.concat(outs, ignore_index=True)


def _predict_part(task: dict, model):
    return model.predict(task["h"], task["futr"], task["levels"], ids=task["ids"])


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

