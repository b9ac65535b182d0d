"""Aggregate per-point backtest forecasts into metrics per series × model, per model, across series."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.evaluation.metrics import all_metrics, metric_columns


def per_series(forecasts: pd.DataFrame, levels: Sequence[int],
               keys: Sequence[str] = ("unique_id", "model")) -> pd.DataFrame:
    """One row per ``keys`` group with every metric, pooling all cutoffs of that group.

    ``forecasts`` needs ``actual``, ``forecast``, ``lo_L``/``hi_L`` and the per-point naive scales
    ``scale``/``scale_sq`` (the in-sample seasonal-naive MAE/MSE of that cutoff's training data)."""
    rows = []
    cols = metric_columns(levels)
    for key, g in forecasts.groupby(list(keys), sort=False):
        bands = {int(l): (g[f"lo_{int(l)}"].to_numpy(), g[f"hi_{int(l)}"].to_numpy()) for l in levels}
        m = all_metrics(g["actual"].to_numpy(), g["forecast"].to_numpy(),
                        scale=g["scale"].to_numpy(), scale_sq=g["scale_sq"].to_numpy(), bands=bands)
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))), **{c: m.get(c, np.nan) for c in cols},
                     "n_points": int(g["actual"].notna().sum()), "n_windows": int(g["cutoff"].nunique())})
    return pd.DataFrame(rows, columns=[*keys, *cols, "n_points", "n_windows"])


def per_model(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric over series for every model (NaNs skipped), plus how many series fell back.

    Sorted by mean MASE (best first) when available."""
    num = [c for c in metrics.columns if c not in ("unique_id", "model", "settings", "fallback")
           and pd.api.types.is_numeric_dtype(metrics[c])]
    g = metrics.groupby("model", sort=False)
    out = g[num].mean()
    out.insert(0, "n_series", g.size())
    if "fallback" in metrics.columns:
        out["n_fallback"] = g["fallback"].apply(lambda s: int((s.fillna("") != "").sum()))
    out = out.reset_index()
    if "mase" in out.columns and out["mase"].notna().any():
        out = out.sort_values("mase", na_position="last", kind="stable").reset_index(drop=True)
    return out


def across_series(forecasts: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Metrics of the total over series (sum of actuals vs sum of forecasts per model, cutoff and date).

    Interval bounds are not additive, so only point metrics are given for the total."""
    tot = forecasts.groupby(["model", "cutoff", "ds"], sort=False)[["actual", "forecast"]].sum(min_count=1)
    tot = tot.reset_index()
    rows = []
    for model, g in tot.groupby("model", sort=False):
        m = all_metrics(g["actual"].to_numpy(), g["forecast"].to_numpy())
        rows.append({"model": model, **m})
    return pd.DataFrame(rows)
