"""The safety net every per-series forecast goes through (the pipeline's backtests and forecasts, ``auto``,
``ensemble``).

:func:`fit_predict` turns one series' history into a forecast with one model and makes it safe to show:

- NaNs inside the history are interpolated linearly for fitting (said in ``notes``);
- covariates reach only models that declare ``capabilities.covariates``;
- a model that raises, returns non-finite values, or has too short a history falls back to
  ``seasonal_naive`` (or ``naive`` when even that cannot run); the reason is returned, never raised;
- intervals are made nested (``lo_95 <= lo_80 <= mean <= hi_80 <= hi_95``);
- with ``non_negative`` and a non-negative history, forecasts and bounds are clipped at zero.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from forecasting.models.base import ForecastDict, bound_key
from forecasting.models.registry import get_model_class, get_spec

FALLBACK_CHAIN = ("seasonal_naive", "naive")
MIN_TRAIN = 2      # the shortest history a rolling-origin window fits on


def cutoff_ends(n: int, h: int, windows: int, step: int) -> list[int]:
    """Rolling origins over a history of ``n`` values: the training length (index of the first forecast
    point) of each of ``windows`` windows of ``h`` periods, ``step`` apart, oldest first; the last window
    ends at the last value."""
    return [n - h - step * (windows - 1 - i) for i in range(windows)]


@dataclass
class FitOutcome:
    forecast: ForecastDict
    model_used: str
    settings: dict[str, Any] = field(default_factory=dict)
    fallback: str = ""          # empty when the requested model ran
    notes: list[str] = field(default_factory=list)


def fill_gaps(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Linear interpolation of interior NaNs; leading/trailing NaNs take the nearest value."""
    y = np.asarray(y, dtype=float)
    bad = ~np.isfinite(y)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return y, 0
    if n_bad == y.size:
        raise ValueError("history has no values")
    idx = np.arange(y.size)
    out = y.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], y[~bad])
    return out, n_bad


def _fit_one(name: str, y: np.ndarray, X, X_future, h: int, levels: Sequence[int],
             season_length: int, params: dict[str, Any]) -> tuple[ForecastDict, dict[str, Any]]:
    cls = get_model_class(name, per_series=True)     # a global model with a per-series variant (ensemble member)
    model = cls(season_length=season_length, **params)
    use_x = X is not None and cls.capabilities.covariates
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            model.fit(y, X if use_x else None)
            out = model.predict(h, X_future if use_x else None, levels)
    mean = np.asarray(out["mean"], dtype=float)
    if mean.shape != (h,) or not np.isfinite(mean).all():
        raise ValueError("the model returned non-finite forecasts")
    for l in levels:
        for side in ("lo", "hi"):
            key = bound_key(side, l)
            arr = np.asarray(out.get(key, mean), dtype=float)
            if not np.isfinite(arr).all():
                raise ValueError(f"the model returned non-finite {key} bounds")
            out[key] = arr
    settings = dict(model.fitted_settings())
    if use_x:
        settings["covariates"] = X.shape[1]
    return out, settings


def tidy_bounds(out: ForecastDict, levels: Sequence[int], non_negative: bool) -> ForecastDict:
    """Nest the intervals around the mean and clip at zero when asked."""
    mean = np.asarray(out["mean"], dtype=float)
    if non_negative:
        mean = np.maximum(mean, 0.0)
    res: ForecastDict = {"mean": mean}
    lo_prev, hi_prev = mean, mean
    for l in sorted(int(l) for l in levels):
        lo = np.minimum(np.asarray(out[bound_key("lo", l)], dtype=float), lo_prev)
        hi = np.maximum(np.asarray(out[bound_key("hi", l)], dtype=float), hi_prev)
        if non_negative:
            lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
        res[bound_key("lo", l)], res[bound_key("hi", l)] = lo, hi
        lo_prev, hi_prev = lo, hi
    return res


def fit_predict(name: str, y: np.ndarray, h: int, *, levels: Sequence[int] = (80, 95), season_length: int = 1,
                params: dict[str, Any] | None = None, X: np.ndarray | None = None,
                X_future: np.ndarray | None = None, non_negative: bool = True) -> FitOutcome:
    """Fit ``name`` on ``y`` and forecast ``h`` steps, with the safety net described in the module doc."""
    notes: list[str] = []
    y, n_filled = fill_gaps(y)
    if n_filled:
        notes.append(f"{n_filled} missing value(s) interpolated for fitting")
    if X is not None:
        X = np.asarray(X, dtype=float)
        X_future = None if X_future is None else np.asarray(X_future, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X_future is not None and X_future.ndim == 1:
            X_future = X_future[:, None]
        if X_future is None or X_future.shape != (h, X.shape[1]) or not np.isfinite(X_future).all() \
                or not np.isfinite(X).all():
            if get_spec(name).capabilities.covariates:
                notes.append("covariates not used: future values missing or incomplete")
            X, X_future = None, None
    clip = bool(non_negative) and bool((y >= 0).all())
    try:
        out, settings = _fit_one(name, y, X, X_future, h, levels, season_length, params or {})
        return FitOutcome(tidy_bounds(out, levels, clip), name, settings, "", notes)
    except Exception as exc:  # noqa: BLE001 - any failure falls back, with its reason kept
        reason = f"{name} failed ({type(exc).__name__}: {str(exc)[:160]})"
    for fb in FALLBACK_CHAIN:
        if fb == name:
            continue
        try:
            out, settings = _fit_one(fb, y, None, None, h, levels, season_length, {})
            return FitOutcome(tidy_bounds(out, levels, clip), fb, settings, f"{reason}; used {fb}", notes)
        except Exception as exc:  # noqa: BLE001
            reason = f"{reason}; {fb} failed ({type(exc).__name__}: {str(exc)[:80]})"
    raise ValueError(reason)


BULKY_SETTINGS = frozenset({"history"})


def settings_text(settings: dict[str, Any]) -> str:
    """Compact ``key=value; …`` text of fitted settings for tables and CSV exports.

    Bulky diagnostics (a network's per-epoch training ``history``) stay in the result objects, not here."""
    return "; ".join(f"{k}={v}" for k, v in settings.items() if k not in BULKY_SETTINGS)
