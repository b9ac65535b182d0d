"""Conformal intervals on backtest and forecast frames, and interval coverage per horizon step.

Works on the frames the backtest and the forecast produce (``unique_id``, ``model``, [``cutoff``], ``ds``,
[``actual``], ``forecast``, ``lo_L``, ``hi_L``), so it applies to every model alike — statistical, networks,
``ensemble``, ``auto`` — see :mod:`forecasting.models.conformal` for the method.

* Backtest (:func:`conformalize_backtest`): the interval of a window is calibrated on the errors of every
  series whose date is before that window's cutoff, so nothing after the cutoff is used. The first window
  (nothing observed before it) keeps the model's own intervals; ``conformal`` in its ``interval`` column
  says which rows were recalibrated.
* Forecast (:func:`conformal_quantiles` on backtests of the history at its most recent origins —
  :func:`~forecasting.pipeline.forecast.calibration_origins` — then :func:`conformalize_forecast`): all
  those windows calibrate the forecast.
* :func:`coverage_by_step`: share of actuals inside each interval per model and horizon step, pooled over
  series and windows (the backtest output and the Models page).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID
from forecasting.metrics import naive_scale
from forecasting.models.base import bound_column, bound_key
from forecasting.models.conformal import conformal_bounds, scaled_quantiles

INTERVALS = ("model", "conformal")


def _histories(df: pd.DataFrame) -> dict:
    return {uid: (g[DS].to_numpy(), g["y"].to_numpy(dtype=float)) for uid, g in df.groupby(ID, sort=False)}


def scale_before(hist: tuple[np.ndarray, np.ndarray], cutoff, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast on the history up to and including ``cutoff``."""
    ds, y = hist
    y = y[ds <= np.datetime64(cutoff)] if cutoff is not None else y
    y = y[np.isfinite(y)]
    sc = naive_scale(y, season_length)[0] if y.size > 1 else np.nan
    return float(sc) if sc and np.isfinite(sc) and sc > 0 else np.nan


def scaled_errors(forecasts: pd.DataFrame, data: pd.DataFrame, season_length: int) -> pd.DataFrame:
    """Backtest forecasts with ``step`` (1..h within the window) and ``err`` = |actual - forecast| / scale."""
    f = forecasts.copy()
    f["step"] = f.groupby([ID, "model", "cutoff"], sort=False).cumcount() + 1
    if "scale" not in f.columns:          # the backtest's own frame carries it (the MASE denominator)
        hists = _histories(data)
        keys = f[[ID, "cutoff"]].drop_duplicates()
        scales = {(u, c): scale_before(hists[u], c, season_length) if u in hists else np.nan
                  for u, c in keys.itertuples(index=False)}
        f["scale"] = [scales[(u, c)] for u, c in zip(f[ID], f["cutoff"])]
    f["scale"] = f["scale"].astype(float).where(f["scale"].astype(float) > 0)
    f["err"] = (f["actual"] - f["forecast"]).abs() / f["scale"]
    return f


def conformalize_backtest(forecasts: pd.DataFrame, data: pd.DataFrame, season_length: int,
                          levels: Sequence[int], non_negative: bool) -> pd.DataFrame:
    """Backtest forecasts with conformal bounds where earlier errors exist (see the module docstring);
    adds ``interval`` (model | conformal) per row."""
    if forecasts.empty:
        return forecasts.assign(interval=pd.Series(dtype=object))
    f = scaled_errors(forecasts, data, season_length)
    out = forecasts.copy()
    out["interval"] = "model"
    for model, g in f.groupby("model", sort=False):
        for cutoff, w in g.groupby("cutoff", sort=True):
            known = g[(g[DS] <= cutoff) & (g["cutoff"] < cutoff)]
            if known.empty:
                continue
            errs = [grp.set_index("step")["err"].reindex(range(1, int(grp["step"].max()) + 1)).to_numpy()
                    for _, grp in known.groupby([ID, "cutoff"], sort=False)]
            q = scaled_quantiles(errs, levels)
            for uid, rows in w.groupby(ID, sort=False):
                sc = float(rows["scale"].iloc[0])
                if not np.isfinite(sc):
                    continue
                model_b = {f"{s}-{l}": rows[f"{s}_{l}"].to_numpy(dtype=float) for l in levels for s in ("lo", "hi")}
                steps = rows["step"].to_numpy() - 1
                qq = {int(l): np.asarray(q[int(l)])[np.minimum(steps, len(q[int(l)]) - 1)]
                      if len(q[int(l)]) else np.full(len(rows), np.nan) for l in levels}
                b = conformal_bounds(rows["forecast"].to_numpy(dtype=float), qq, sc, levels,
                                     non_negative and bool((data.loc[data[ID] == uid, "y"].dropna() >= 0).all()),
                                     fallback=model_b)
                for l in levels:
                    out.loc[rows.index, bound_column("lo", l)] = b[bound_key("lo", l)]
                    out.loc[rows.index, bound_column("hi", l)] = b[bound_key("hi", l)]
                out.loc[rows.index, "interval"] = "conformal"
    return out


def conformal_quantiles(forecasts: pd.DataFrame, data: pd.DataFrame, season_length: int,
                        levels: Sequence[int]) -> dict[str, dict[int, np.ndarray]]:
    """Per model: per level, the quantile per horizon step of all the backtest's scaled errors, older origins'
    errors brought to the most recent ones' level (each window's age: its rank among its series' cutoffs,
    0 for the latest; :func:`~forecasting.models.conformal.scaled_quantiles`)."""
    f = scaled_errors(forecasts, data, season_length)
    out = {}
    for model, g in f.groupby("model", sort=False):
        # a window's rows are its steps 1..k in order (scaled_errors counts them so): its errors by position
        err = g["err"].to_numpy(dtype=float)
        windows = g.groupby([ID, "cutoff"], sort=False).indices
        keys = pd.DataFrame(list(windows), columns=[ID, "cutoff"])
        ages = keys.groupby(ID, sort=False)["cutoff"].rank(method="dense", ascending=False).to_numpy(dtype=int) - 1
        out[model] = scaled_quantiles([err[idx] for idx in windows.values()], levels, ages=ages)
    return out


def conformalize_forecast(forecasts: pd.DataFrame, data: pd.DataFrame, season_length: int,
                          levels: Sequence[int], quantiles: dict[str, dict[int, np.ndarray]],
                          non_negative: bool) -> pd.DataFrame:
    """Forecast frame with conformal bounds (model intervals kept where a model has no calibration)."""
    out = forecasts.copy()
    out["interval"] = "model"
    hists = _histories(data)
    for (uid, model), rows in out.groupby([ID, "model"], sort=False):
        q = quantiles.get(model)
        sc = scale_before(hists[uid], None, season_length) if uid in hists else np.nan
        if not q or not np.isfinite(sc):
            continue
        model_b = {f"{s}-{l}": rows[f"{s}_{l}"].to_numpy(dtype=float) for l in levels for s in ("lo", "hi")}
        nonneg = non_negative and bool((hists[uid][1][np.isfinite(hists[uid][1])] >= 0).all())
        b = conformal_bounds(rows["forecast"].to_numpy(dtype=float), q, sc, levels, nonneg, fallback=model_b)
        for l in levels:
            out.loc[rows.index, bound_column("lo", l)] = b[bound_key("lo", l)]
            out.loc[rows.index, bound_column("hi", l)] = b[bound_key("hi", l)]
        out.loc[rows.index, "interval"] = "conformal"
    return out


def rescore(forecasts: pd.DataFrame, levels: Sequence[int]) -> list[dict]:
    """Every metric per series x model again, from a backtest frame whose bounds changed."""
    from forecasting.evaluation.aggregate import pooled_metrics

    cols = ["actual", "forecast", "scale", "scale_sq", *[f"{s}_{l}" for l in levels for s in ("lo", "hi")]]
    out = []
    for (uid, model), g in forecasts.groupby([ID, "model"], sort=False):
        windows = [{c: w[c].to_numpy(dtype=float) for c in cols} for _, w in g.groupby("cutoff", sort=True)]
        out.append({ID: uid, "model": model, **pooled_metrics(windows, levels)})
    return out


def coverage_by_step(forecasts: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """model, step, n, coverage_L per level: share of actuals inside the interval, per horizon step."""
    if forecasts.empty:
        return pd.DataFrame(columns=["model", "step", "n", *[f"coverage_{l}" for l in levels]])
    f = forecasts.copy()
    f["step"] = f.groupby([ID, "model", "cutoff"], sort=False).cumcount() + 1
    f = f[f["actual"].notna()]
    for l in levels:
        inside = (f["actual"] >= f[bound_column("lo", l)]) & (f["actual"] <= f[bound_column("hi", l)])
        f[f"coverage_{l}"] = inside.astype(float)
    g = f.groupby(["model", "step"], sort=False)
    out = g[[f"coverage_{l}" for l in levels]].mean()
    out.insert(0, "n", g.size())
    return out.reset_index()
