"""Split-conformal prediction intervals from rolling-origin errors, for any model.

A model's own intervals assume the model is right; real series change more than that (``theta``'s 80/95%
intervals covered 72%/87% of M3's test values). Conformal intervals use what the model actually got wrong:

* Calibration: the absolute errors of the model's forecasts in rolling-origin windows that end before the
  period to forecast, one per horizon step ``k``, each divided by its series' scale (the in-sample MAE of
  the seasonal naive forecast, the MASE denominator) so that errors of big and small series can be pooled.
* Per step ``k`` and level ``L``: ``q_k`` = the ``ceil((n + 1) L / 100)``-th smallest of the ``n`` scaled
  errors at that step (split conformal's finite-sample quantile; with too few errors for the level the
  largest is used and the coverage may fall short).
* The interval is the point forecast +/- ``q_k`` x the series' scale; clipped at zero for non-negative data.

Pooling over the series of a run is what makes this work with few windows per series; with one series,
more windows give more errors. Used by the backtest and the forecast (``intervals="conformal"``) and by
``benchmarks/bench_selection.py``.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from forecasting.models.base import ForecastDict, bound_key


def scaled_quantiles(errors: Iterable[np.ndarray], levels: Sequence[int]) -> dict[int, np.ndarray]:
    """Per level, one quantile per horizon step of the scaled absolute errors (arrays of one window each,
    NaN where a window had no value; windows may be shorter than the longest). NaN where a step has none."""
    rows = [np.asarray(e, dtype=float) for e in errors]
    if not rows:
        return {int(l): np.zeros(0) for l in levels}
    h = max(r.size for r in rows)
    mat = np.full((len(rows), h), np.nan)
    for i, r in enumerate(rows):
        mat[i, :r.size] = r
    out = {}
    for l in levels:
        q = np.full(h, np.nan)
        for k in range(h):
            v = np.sort(mat[np.isfinite(mat[:, k]), k])
            if v.size:
                rank = min(math.ceil((v.size + 1) * float(l) / 100.0), v.size)
                q[k] = v[rank - 1]
        out[int(l)] = q
    return out


def conformal_bounds(mean: np.ndarray, q: dict[int, np.ndarray], scale: float, levels: Sequence[int],
                     non_negative: bool = False, fallback: ForecastDict | None = None) -> ForecastDict:
    """Bounds ``mean -/+ q[L][k] * scale``, nested across levels; steps without a quantile (or a series
    without a usable scale) keep ``fallback``'s bounds (the model's own) when given, else the mean."""
    mean = np.asarray(mean, dtype=float)
    h = mean.size
    out: ForecastDict = {"mean": mean.copy()}
    lo_prev, hi_prev = mean, mean
    for l in sorted(int(x) for x in levels):
        qk = np.asarray(q.get(l, np.full(h, np.nan)), dtype=float)
        qk = np.concatenate([qk, np.full(max(h - qk.size, 0), np.nan)])[:h]
        width = qk * scale if scale and np.isfinite(scale) else np.full(h, np.nan)
        lo, hi = mean - width, mean + width
        if fallback is not None:
            lo = np.where(np.isfinite(lo), lo, fallback[bound_key("lo", l)])
            hi = np.where(np.isfinite(hi), hi, fallback[bound_key("hi", l)])
        lo = np.where(np.isfinite(lo), lo, mean)
        hi = np.where(np.isfinite(hi), hi, mean)
        lo, hi = np.minimum(lo, lo_prev), np.maximum(hi, hi_prev)
        if non_negative:
            lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
        out[bound_key("lo", l)], out[bound_key("hi", l)] = lo, hi
        lo_prev, hi_prev = lo, hi
    return out
