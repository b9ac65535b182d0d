"""Benchmark models every forecast should beat: naive, seasonal naive, drift, moving average.

Intervals are Gaussian with the textbook horizon scaling (Hyndman & Athanasopoulos, *FPP3* §5.5):
``sigma_h = sigma * sqrt(h)`` for naive, ``sigma * sqrt(k + 1)`` with ``k = floor((h - 1) / m)`` for
seasonal naive, ``sigma * sqrt(h * (1 + h / (T - 1)))`` for drift; ``sigma`` is the RMS of the
in-sample one-step residuals.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, PerSeriesModel, Setting, normal_intervals


def _rms(res: np.ndarray, dof: int = 0) -> float:
    res = res[np.isfinite(res)]
    if res.size - dof <= 0:
        return 0.0
    return float(np.sqrt(np.sum(res ** 2) / (res.size - dof)))


def _as_1d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if y.size == 0:
        raise ValueError("empty history")
    if not np.isfinite(y).all():
        raise ValueError("history holds NaN or infinite values")
    return y


class Naive(PerSeriesModel):
    """Last observed value carried forward."""

    name = "naive"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Naive":
        y = _as_1d(y)
        self.last_ = y[-1]
        self.resid_ = np.diff(y)
        self.sigma_ = _rms(self.resid_)
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        steps = np.arange(1, h + 1)
        return normal_intervals(np.full(h, self.last_), self.sigma_ * np.sqrt(steps), levels)

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_


class SeasonalNaive(PerSeriesModel):
    """Value of the same period one season ago (``season_length`` periods back)."""

    name = "seasonal_naive"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "SeasonalNaive":
        y = _as_1d(y)
        m = max(1, self.season_length)
        if y.size < m:
            raise ValueError(f"series too short for seasonal naive: {y.size} values < one season ({m})")
        self.m_ = m
        self.last_season_ = y[-m:]
        self.resid_ = y[m:] - y[:-m]
        self.sigma_ = _rms(self.resid_)
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        idx = np.arange(h)
        mean = self.last_season_[idx % self.m_]
        k = idx // self.m_
        return normal_intervals(mean, self.sigma_ * np.sqrt(k + 1), levels)

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_


class Drift(PerSeriesModel):
    """Straight line through the first and last values, extended."""

    name = "drift"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Drift":
        y = _as_1d(y)
        if y.size < 2:
            raise ValueError("drift needs at least 2 values")
        self.n_ = y.size
        self.last_ = y[-1]
        self.slope_ = (y[-1] - y[0]) / (y.size - 1)
        self.resid_ = np.diff(y) - self.slope_
        self.sigma_ = _rms(self.resid_, dof=1)
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        steps = np.arange(1, h + 1)
        mean = self.last_ + self.slope_ * steps
        sigma_h = self.sigma_ * np.sqrt(steps * (1 + steps / max(self.n_ - 1, 1)))
        return normal_intervals(mean, sigma_h, levels)

    def fitted_settings(self) -> dict[str, Any]:
        return {"slope": round(float(self.slope_), 6)}

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_


class MovingAverage(PerSeriesModel):
    """Mean of the last ``window`` values (default: one season, at least 3).

    Intervals: ``sigma`` is the RMS of the in-sample one-step moving-average errors; the variance grows
    like a local level's, ``sigma_h = sigma * sqrt(1 + (h - 1) / window)``."""

    name = "moving_average"
    window = Setting(None, "how many of the latest values are averaged (none: one season, at least 3)", kind="int",
                     low=1, label="window (periods)")

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "MovingAverage":
        y = _as_1d(y)
        k = int(self.window or max(3, self.season_length))
        if k < 1:
            raise ValueError("moving_average window must be at least 1")
        k = min(k, y.size)
        self.k_ = k
        self.level_ = float(y[-k:].mean())
        csum = np.concatenate([[0.0], np.cumsum(y)])
        ma = (csum[k:] - csum[:-k]) / k          # ma[i] = mean(y[i:i+k])
        self.resid_ = y[k:] - ma[:-1]
        self.sigma_ = _rms(self.resid_) if self.resid_.size else float(np.std(y))
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        steps = np.arange(1, h + 1)
        return normal_intervals(np.full(h, self.level_), self.sigma_ * np.sqrt(1 + (steps - 1) / self.k_), levels)

    def fitted_settings(self) -> dict[str, Any]:
        return {"window": self.k_}

    def in_sample_residuals(self) -> np.ndarray:
        return self.resid_

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"window": 3}
