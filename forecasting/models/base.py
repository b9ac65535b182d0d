"""The model protocol every SalesCast model follows.

Two kinds, one shape (after statsforecast / Darts / sktime, see ../shared/STYLE.md):

* :class:`LocalModel` — one instance per series. ``__init__`` only stores settings; ``fit(y, X)`` learns
  from one series' history (1-D float array, oldest first, no NaN) and optional covariates
  (2-D array, one row per period); ``predict(h, X_future, levels)`` returns a :data:`ForecastDict`.
* :class:`GlobalModel` — one instance for many series (the deep networks). ``fit(df, freq)`` takes a long
  frame (``unique_id``, ``ds``, ``y``, covariates); ``predict(h, futr_df, levels)`` returns a frame with
  ``unique_id``, ``ds``, ``mean`` and ``lo-L`` / ``hi-L`` columns.

Fitted attributes end in ``_``. Capabilities are declared on the class (and mirrored in the registry
so listing models never imports torch). ``test_params()`` gives cheap settings for the shared check.
The orchestration (fallbacks, non-negativity, backtests) lives in ``forecasting.evaluation``,
not in the models.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

# {"mean": (h,), "lo-80": (h,), "hi-80": (h,), "lo-95": …} — plain arrays, like statsforecast.
ForecastDict = dict[str, np.ndarray]
DEFAULT_LEVELS: tuple[int, ...] = (80, 95)


@dataclass(frozen=True)
class Capabilities:
    covariates: bool = False      # uses exogenous regressors (needs their future values)
    intervals: bool = True        # gives prediction intervals
    global_model: bool = False    # trained across many series at once
    needs_torch: bool = False
    intermittent: bool = False    # designed for intermittent demand


class LocalModel(ABC):
    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        self.season_length = int(season_length)
        self.settings = settings

    @abstractmethod
    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "LocalModel":
        ...

    @abstractmethod
    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        ...

    def fitted_settings(self) -> dict[str, Any]:
        """What was chosen while fitting (ARIMA order, ETS form …), for the leaderboard and exports."""
        return {}

    def in_sample_residuals(self) -> np.ndarray | None:
        """One-step in-sample residuals where the model has them (for residual diagnostics)."""
        return None

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {}


class GlobalModel(ABC):
    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities(global_model=True)

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        self.season_length = int(season_length)
        self.settings = settings

    @abstractmethod
    def fit(self, df: pd.DataFrame, freq: str) -> "GlobalModel":
        ...

    @abstractmethod
    def predict(self, h: int, futr_df: pd.DataFrame | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
        ...

    def fitted_settings(self) -> dict[str, Any]:
        return {}

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {}


def interval_keys(levels: Sequence[int]) -> list[str]:
    return [f"{side}-{int(l)}" for l in levels for side in ("lo", "hi")]


def normal_intervals(mean: np.ndarray, sigma_h: np.ndarray, levels: Sequence[int]) -> ForecastDict:
    """Symmetric Gaussian intervals around ``mean`` with per-step standard deviation ``sigma_h``."""
    from scipy.stats import norm

    out: ForecastDict = {"mean": np.asarray(mean, dtype=float)}
    for l in levels:
        z = norm.ppf(0.5 + l / 200.0)
        out[f"lo-{int(l)}"] = out["mean"] - z * sigma_h
        out[f"hi-{int(l)}"] = out["mean"] + z * sigma_h
    return out
