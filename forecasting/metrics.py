"""Forecast accuracy metrics, all in one place.

Every function takes arrays of actuals and forecasts (NaN actuals are ignored, so a gap in the data
never poisons a score) and returns a float (NaN when undefined, e.g. MAPE when every actual is zero).

Conventions:
- errors are ``forecast - actual``; ``bias`` > 0 means over-forecasting;
- ``mape`` and ``smape`` are in percent; ``mape`` skips periods whose actual is zero (safe with zeros);
  ``smape`` counts 0/0 as 0 and uses ``200 |f - y| / (|y| + |f|)`` (the M3 definition);
- ``mase``/``rmsse`` divide by the in-sample seasonal-naive MAE/MSE of the training data
  (:func:`naive_scale`), given per point so windows with different histories can be pooled;
- ``pinball`` is the mean quantile loss over the interval bounds and the median (the point forecast);
- ``winkler`` is interval width plus ``2/alpha`` times the distance of actuals outside it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

METRIC_NAMES = ["mae", "rmse", "mape", "smape", "mase", "rmsse", "wape", "bias", "r2"]


def _clean(y, *arrays):
    y = np.asarray(y, dtype=float)
    arrs = [np.broadcast_to(np.asarray(a, dtype=float), y.shape) for a in arrays]
    ok = np.isfinite(y)
    for a in arrs:
        ok &= np.isfinite(a)
    return (y[ok], *[a[ok] for a in arrs])


def mae(y, f) -> float:
    y, f = _clean(y, f)
    return float(np.mean(np.abs(f - y))) if y.size else np.nan


def rmse(y, f) -> float:
    y, f = _clean(y, f)
    return float(np.sqrt(np.mean((f - y) ** 2))) if y.size else np.nan


def mape(y, f) -> float:
    y, f = _clean(y, f)
    nz = y != 0
    return float(100 * np.mean(np.abs((f[nz] - y[nz]) / y[nz]))) if nz.any() else np.nan


def smape(y, f) -> float:
    y, f = _clean(y, f)
    if not y.size:
        return np.nan
    den = np.abs(y) + np.abs(f)
    ratio = np.divide(np.abs(f - y), den, out=np.zeros_like(den), where=den > 0)
    return float(200 * np.mean(ratio))


def naive_scale(train, season_length: int = 1) -> tuple[float, float]:
    """In-sample MAE and MSE of the seasonal naive forecast on ``train`` (naive when too short)."""
    x = np.asarray(train, dtype=float)
    m = season_length if season_length >= 1 and x.size > season_length else 1
    if x.size <= m:
        return np.nan, np.nan
    d = x[m:] - x[:-m]
    d = d[np.isfinite(d)]
    if not d.size:
        return np.nan, np.nan
    return float(np.mean(np.abs(d))), float(np.mean(d ** 2))


def mase(y, f, scale) -> float:
    """Mean absolute scaled error; ``scale`` is the naive in-sample MAE (scalar or per point)."""
    y, f, s = _clean(y, f, scale)
    ok = s > 0
    return float(np.mean(np.abs(f[ok] - y[ok]) / s[ok])) if ok.any() else np.nan


def rmsse(y, f, scale_sq) -> float:
    """Root mean squared scaled error; ``scale_sq`` is the naive in-sample MSE."""
    y, f, s = _clean(y, f, scale_sq)
    ok = s > 0
    return float(np.sqrt(np.mean((f[ok] - y[ok]) ** 2 / s[ok]))) if ok.any() else np.nan


def wape(y, f) -> float:
    y, f = _clean(y, f)
    den = np.sum(np.abs(y))
    return float(np.sum(np.abs(f - y)) / den) if den > 0 else np.nan


def bias(y, f) -> float:
    y, f = _clean(y, f)
    return float(np.mean(f - y)) if y.size else np.nan


def r2(y, f) -> float:
    y, f = _clean(y, f)
    if y.size < 2:
        return np.nan
    sst = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - f) ** 2) / sst) if sst > 0 else np.nan


def coverage(y, lo, hi) -> float:
    """Share of actuals inside [lo, hi] (0..1)."""
    y, lo, hi = _clean(y, lo, hi)
    return float(np.mean((y >= lo) & (y <= hi))) if y.size else np.nan


def pinball(y, q, tau: float) -> float:
    """Mean quantile (pinball) loss of quantile forecast ``q`` at probability ``tau``."""
    y, q = _clean(y, q)
    if not y.size:
        return np.nan
    d = y - q
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d)))


def winkler(y, lo, hi, level: float) -> float:
    """Mean Winkler (interval) score of a ``level``% interval: lower is better."""
    y, lo, hi = _clean(y, lo, hi)
    if not y.size:
        return np.nan
    alpha = 1 - level / 100.0
    score = (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    return float(np.mean(score))


def all_metrics(y, f, *, scale=np.nan, scale_sq=np.nan, bands: dict[int, tuple] | None = None) -> dict[str, float]:
    """Every metric for one group of points; ``bands`` maps level -> (lo, hi) arrays."""
    out = {"mae": mae(y, f), "rmse": rmse(y, f), "mape": mape(y, f), "smape": smape(y, f),
           "mase": mase(y, f, scale), "rmsse": rmsse(y, f, scale_sq), "wape": wape(y, f),
           "bias": bias(y, f), "r2": r2(y, f)}
    bands = bands or {}
    losses = [pinball(y, f, 0.5)] if bands else []
    for level, (lo, hi) in sorted(bands.items()):
        out[f"coverage_{level}"] = coverage(y, lo, hi)
        out[f"winkler_{level}"] = winkler(y, lo, hi, level)
        a = 1 - level / 100.0
        losses += [pinball(y, lo, a / 2), pinball(y, hi, 1 - a / 2)]
    if bands:
        vals = [v for v in losses if np.isfinite(v)]
        out["pinball"] = float(np.mean(vals)) if vals else np.nan
    return out


def metric_columns(levels: Sequence[int]) -> list[str]:
    cols = list(METRIC_NAMES)
    for l in levels:
        cols.append(f"coverage_{int(l)}")
    cols.append("pinball")
    cols += [f"winkler_{int(l)}" for l in levels]
    return cols
