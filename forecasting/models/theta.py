"""The Theta method (Assimakopoulos & Nikolopoulos 2000) on statsmodels' ``ThetaModel``.

Equivalent to simple exponential smoothing with drift (Hyndman & Billah 2003). With a season length
> 1 the series is deseasonalised first when a 90% autocorrelation test finds seasonality:
multiplicatively when every value is positive, additively otherwise. Intervals are those of the
SES-with-drift state-space form. Settings: ``theta`` (default 2), ``method`` (``"auto"``,
``"additive"``, ``"multiplicative"``), ``deseasonalize`` (default True).
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, LocalModel


class Theta(LocalModel):
    name = "theta"

    def __init__(self, season_length: int = 1, theta: float = 2.0, method: str = "auto",
                 deseasonalize: bool = True, **settings: Any) -> None:
        super().__init__(season_length, **settings)
        self.theta, self.method, self.deseasonalize = float(theta), method, bool(deseasonalize)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Theta":
        from statsmodels.tsa.forecasting.theta import ThetaModel

        y = np.asarray(y, dtype=float).ravel()
        if y.size < 4 or not np.isfinite(y).all():
            raise ValueError(f"Theta needs at least 4 values without gaps (got {y.size})")
        m = self.season_length
        deseason = self.deseasonalize and m > 1 and y.size >= 2 * m
        method = self.method
        if method in ("auto", "multiplicative") and (y <= 0).any():
            method = "additive"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = ThetaModel(y, period=m if m > 1 else None, deseasonalize=deseason,
                                     method=method, use_test=True)
            self.res_ = self.model_.fit()
        self.method_ = method
        # whether the seasonality test kept the deseasonalisation (set by statsmodels during fit)
        self.deseason_ = bool(getattr(self.model_, "_has_seasonality", deseason)) and deseason
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out: ForecastDict = {"mean": np.asarray(self.res_.forecast(h, theta=self.theta), dtype=float)}
            for l in levels:
                pi = np.asarray(self.res_.prediction_intervals(h, theta=self.theta, alpha=1 - l / 100.0), dtype=float)
                out[f"lo-{int(l)}"], out[f"hi-{int(l)}"] = pi[:, 0], pi[:, 1]
        return out

    def fitted_settings(self) -> dict[str, Any]:
        p = self.res_.params
        return {"theta": self.theta, "alpha": round(float(p.get("alpha", np.nan)), 4),
                "drift": round(float(p.get("b0", np.nan)), 4), "deseasonalized": bool(self.deseason_),
                "method": self.method_}
