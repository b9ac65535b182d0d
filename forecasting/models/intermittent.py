"""Intermittent-demand models: Croston with the Syntetos–Boylan correction (SBA) and TSB.

Both forecast a flat demand rate. Intervals come from the empirical quantiles of the in-sample one-step
errors (demand is skewed and mostly zero, so Gaussian bands would be wrong), widened with the horizon
like a local level (``sqrt(1 + (h - 1) * alpha^2)`` times the one-step spread).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, PerSeriesModel, Setting, bound_key


def _ses_path(x: np.ndarray, alpha: float) -> np.ndarray:
    """Smoothed values before each observation: s[0] = x[0], s[t+1] = s[t] + alpha (x[t] - s[t])."""
    s = np.empty(x.size + 1)
    s[0] = x[0]
    for t in range(x.size):
        s[t + 1] = s[t] + alpha * (x[t] - s[t])
    return s


def _empirical_bands(mean: np.ndarray, resid: np.ndarray, alpha: float,
                     levels: Sequence[int]) -> ForecastDict:
    out: ForecastDict = {"mean": mean}
    resid = resid[np.isfinite(resid)]
    grow = np.sqrt(1 + (np.arange(mean.size)) * alpha ** 2)
    for l in levels:
        if resid.size >= 2:
            lo_q, hi_q = np.quantile(resid, [0.5 - l / 200.0, 0.5 + l / 200.0])
        else:
            lo_q = hi_q = 0.0
        out[bound_key("lo", l)] = mean + min(lo_q, 0.0) * grow
        out[bound_key("hi", l)] = mean + max(hi_q, 0.0) * grow
    return out


def _check(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if y.size == 0 or not np.isfinite(y).all():
        raise ValueError("history is empty or holds NaN")
    if (y < 0).any():
        raise ValueError("intermittent-demand models need non-negative demand")
    return y


class Croston(PerSeriesModel):
    """Croston's method with the SBA bias correction ``(1 - alpha / 2)``."""

    name = "croston"
    alpha = Setting(0.1, "smoothing of the demand sizes and of the intervals between demands", low=0, high=1)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Croston":
        y = _check(y)
        nz = np.flatnonzero(y > 0)
        if nz.size == 0:
            self.rate_, self.resid_ = 0.0, np.zeros(0)
            return self
        sizes = y[nz]
        gaps = np.diff(np.concatenate([[-1], nz])).astype(float)
        z = _ses_path(sizes, self.alpha)
        p = _ses_path(gaps, self.alpha)
        corr = 1 - self.alpha / 2
        self.rate_ = float(corr * z[-1] / p[-1])
        # one-step in-sample forecasts: rate known after each demand, held until the next
        fitted = np.full(y.size, np.nan)
        for i, t in enumerate(nz):
            end = nz[i + 1] + 1 if i + 1 < nz.size else y.size
            fitted[t + 1:end] = corr * z[i + 1] / p[i + 1]
        self.resid_ = (y - fitted)[np.isfinite(fitted)]
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        return _empirical_bands(np.full(h, self.rate_), self.resid_, self.alpha, levels)

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_

    def fitted_settings(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class TSB(PerSeriesModel):
    """Teunter–Syntetos–Babai: demand probability updated every period, size when demand occurs."""

    name = "tsb"
    alpha_d = Setting(0.1, "smoothing of the demand size", low=0, high=1)
    alpha_p = Setting(0.1, "smoothing of the demand probability", low=0, high=1)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "TSB":
        y = _check(y)
        nz = y > 0
        if not nz.any():
            self.rate_, self.resid_ = 0.0, np.zeros(0)
            return self
        z, p = float(y[nz][0]), float(nz.mean())
        fitted = np.empty(y.size)
        for t in range(y.size):
            fitted[t] = p * z
            p += self.alpha_p * (float(nz[t]) - p)
            if nz[t]:
                z += self.alpha_d * (y[t] - z)
        self.rate_ = p * z
        self.resid_ = y - fitted
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        return _empirical_bands(np.full(h, self.rate_), self.resid_, max(self.alpha_d, self.alpha_p), levels)

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_

    def fitted_settings(self) -> dict[str, Any]:
        return {"alpha_d": self.alpha_d, "alpha_p": self.alpha_p}
