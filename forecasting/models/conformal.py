"""Split-conformal prediction intervals from rolling-origin errors, for any model.

A model's own intervals assume the model is right; real series change more than that (``theta``'s 80/95%
intervals covered 72%/87% of M3's test values). Conformal intervals use what the model actually got wrong:

* Calibration: the absolute errors of the model's forecasts in rolling-origin windows that end before the
  period to forecast, one per horizon step ``k``, each divided by its series' scale (the in-sample MAE of
  the seasonal naive forecast, the MASE denominator) so that errors of big and small series can be pooled.
* Per step ``k`` and level ``L``: ``q_k`` = the ``ceil((n + 1) L / 100)``-th smallest of the ``n`` scaled
  errors at that step (split conformal's finite-sample quantile) when there are at least ``MIN_ERRORS``
  (100) of them. With fewer (a run of a few series, short histories) one step's quantile is one of a
  handful of values: too wide at 80% (the rank rounds up, to the largest of fewer than 20) and too narrow
  at 95% (the largest of a few correlated errors). Then the step borrows from its neighbours: the steps
  ``k - r .. k + r`` (``r`` as small as gives ``MIN_ERRORS`` errors, up to all steps), each step's errors
  divided by its typical size ``s_j`` (the mean scaled error per step, made non-decreasing in the step by
  pooled-adjacent-violators, which steadies means of few values), and ``q_k = s_k`` x the finite-sample
  quantile of those ratios: the growth of the error with the step comes from ``s``, the tail's shape
  from all the steps pooled.
* Older origins (``ages``: each window's rank among its series' calibration windows, 0 for the most recent):
  a model fit at an older origin saw a shorter history, and its errors were larger than the forecast's on
  M3 and Tourism (the most recent origin's matched the test's). So, when the most recent windows give at
  least ``MIN_ERRORS`` errors, each older rank's errors are divided by how much larger their mean is than
  the most recent windows' mean on the steps both reach (never multiplied: an older rank with smaller
  errors is kept as it is). The most recent origin sets the level, the older ones still give the steps it
  does not reach and the tail's shape.
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


MIN_ERRORS = 100     # fewer errors at a step than this: it borrows from neighbouring steps (module docstring)


def _rank_quantile(v: np.ndarray, level: float) -> float:
    """Split conformal's finite-sample quantile: the ``ceil((n + 1) L / 100)``-th smallest (the largest when
    there are too few)."""
    v = np.sort(v[np.isfinite(v)])
    if not v.size:
        return np.nan
    return float(v[min(math.ceil((v.size + 1) * float(level) / 100.0), v.size) - 1])


def _increasing(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit of ``x`` (pool adjacent violators)."""
    blocks: list[list[float]] = []                  # [mean, weight, length]
    for xi, wi in zip(x, w):
        blocks.append([float(xi), float(wi), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, m) for m, _, n in blocks]) if blocks else np.zeros(0)


def _fsum_mean(v: np.ndarray) -> float:
    # math.fsum: exactly rounded, so the same errors in another order (a resumed run's series come in the
    # order they finished) give the same bits
    v = v[np.isfinite(v)]
    return math.fsum(v) / v.size if v.size else np.nan


def _recent_level(mat: np.ndarray, ages: np.ndarray, min_errors: int) -> np.ndarray:
    """``mat`` (windows x steps) with each older rank's errors divided by how much larger they are, on
    average, than the most recent windows' (rank 0) on the steps those reach (module docstring)."""
    recent = ages == 0
    shared = np.isfinite(mat[recent]).any(axis=0)
    ref = mat[recent][:, shared]
    if np.isfinite(ref).sum() < min_errors or not _fsum_mean(ref) > 0:
        return mat
    out = mat.copy()
    for a in np.unique(ages[ages > 0]):
        ratio = _fsum_mean(mat[ages == a][:, shared]) / _fsum_mean(ref)
        if ratio > 1:
            out[ages == a] /= ratio
    return out


def scaled_quantiles(errors: Iterable[np.ndarray], levels: Sequence[int], min_errors: int = MIN_ERRORS,
                     ages: Sequence[int] | None = None) -> dict[int, np.ndarray]:
    """Per level, one quantile per horizon step of the scaled absolute errors (arrays of one window each,
    NaN where a window had no value; windows may be shorter than the longest). NaN where a step has none.
    A step with fewer than ``min_errors`` errors borrows from its neighbours; ``ages`` (one per window: its
    rank among its series' windows by origin, 0 for the most recent) brings older origins' errors to the
    most recent ones' level (module docstring)."""
    rows = [np.asarray(e, dtype=float) for e in errors]
    if not rows:
        return {int(l): np.zeros(0) for l in levels}
    h = max(r.size for r in rows)
    mat = np.full((len(rows), h), np.nan)
    for i, r in enumerate(rows):
        mat[i, :r.size] = r
    if ages is not None:
        mat = _recent_level(mat, np.asarray(ages, dtype=int), min_errors)
    ok = np.isfinite(mat)
    n = ok.sum(axis=0)
    has = np.flatnonzero(n > 0)
    size = np.full(h, np.nan)                       # typical scaled error per step, non-decreasing in the step
    if has.size:
        means = np.array([_fsum_mean(mat[ok[:, k], k]) for k in has])
        size[has] = _increasing(means, n[has].astype(float))
    out = {}
    for l in levels:
        q = np.full(h, np.nan)
        for k in has:
            if n[k] >= min_errors:
                q[k] = _rank_quantile(mat[ok[:, k], k], l)
                continue
            if not size[k] > 0:                     # every error at this step (and before it) is zero
                q[k] = 0.0
                continue
            r = 0
            while True:
                r += 1
                near = [j for j in has[(has >= k - r) & (has <= k + r)] if size[j] > 0]
                if sum(n[j] for j in near) >= min_errors or (k - r <= 0 and k + r >= h - 1):
                    break
            ratios = np.concatenate([mat[ok[:, j], j] / size[j] for j in near])
            q[k] = _rank_quantile(ratios, l) * size[k]
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
