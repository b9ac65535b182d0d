"""Aggregate backtest forecasts into metrics: per series × model (pooling its windows), per model, across series."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.metrics import all_metrics, metric_columns
from forecasting.models.base import bound_column


def pooled_metrics(windows: Sequence[Mapping], levels: Sequence[int]) -> dict[str, float]:
    """Every metric of one series × model, pooling the points of all its backtest windows.

    Each window maps ``actual``, ``forecast``, ``lo_L``/``hi_L`` to arrays, and ``scale``/``scale_sq`` (the
    in-sample seasonal-naive MAE/MSE of that cutoff's training data) to a number or per-point array."""
    sizes = [len(w["actual"]) for w in windows]

    def cat(key: str) -> np.ndarray:
        parts = [np.broadcast_to(np.asarray(w[key], dtype=float), (k,)) for w, k in zip(windows, sizes)]
        return np.concatenate(parts)

    actual = cat("actual")
    bands = {int(l): (cat(bound_column("lo", l)), cat(bound_column("hi", l))) for l in levels}
    m = all_metrics(actual, cat("forecast"), scale=cat("scale"), scale_sq=cat("scale_sq"), bands=bands)
    return {**{c: m.get(c, np.nan) for c in metric_columns(levels)},
            "n_points": int(np.isfinite(actual).sum()), "n_windows": len(windows)}


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
