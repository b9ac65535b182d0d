"""The model protocol every SalesCast model follows.

Two kinds, one shape (after statsforecast / Darts / sktime):

* :class:`PerSeriesModel` — one instance per series. ``__init__`` only stores settings; ``fit(y, X)`` learns
  from one series' history (1-D float array, oldest first, no NaN) and optional covariates
  (2-D array, one row per period); ``predict(h, X_future, levels)`` returns a :data:`ForecastDict`.
* :class:`GlobalModel` — one instance for many series (the deep networks). ``fit(df, freq)`` takes a long
  frame (``unique_id``, ``ds``, ``y``, covariates); ``predict(h, futr_df, levels)`` returns a frame with
  ``unique_id``, ``ds``, ``mean`` and ``lo-L`` / ``hi-L`` columns.

Fitted attributes end in ``_``. Settings are declared once, as :class:`~forecasting.models.settings.Setting`
class attributes; the base checks names and values when a model is created (a :class:`ConfigError` naming
the model and what it accepts) and sets them as attributes. Capabilities are declared once, in the
registry (so listing models never imports torch), and read on the class as ``cls.capabilities``.
``test_params()`` gives cheap settings for the shared protocol check. The safety net (fallbacks,
non-negativity) is :mod:`forecasting.models.fitting`; backtests and forecasts are :mod:`forecasting.pipeline`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from forecasting.models.capabilities import Capabilities
from forecasting.models.settings import Setting, check_settings, declared

# {"mean": (h,), "lo-80": (h,), "hi-80": (h,), "lo-95": …} — plain arrays, like statsforecast.
ForecastDict = dict[str, np.ndarray]
DEFAULT_LEVELS: tuple[int, ...] = (80, 95)

__all__ = ["Capabilities", "DEFAULT_LEVELS", "ForecastDict", "GlobalModel", "PerSeriesModel", "Setting", "bound_column",
           "bound_key",
           "normal_intervals"]


class _Registered:
    """``cls.capabilities``: what the registry declares for ``cls.name`` (``default`` for a class that is
    not registered)."""

    def __init__(self, default: Capabilities) -> None:
        self.default = default

    def __get__(self, obj: Any, owner: type) -> Capabilities:
        from forecasting.models.registry import MODELS

        spec = MODELS.get(owner.name)
        return spec.capabilities if spec is not None else self.default


class PerSeriesModel(ABC):
    name: ClassVar[str] = ""
    capabilities = _Registered(Capabilities())

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        self.season_length = int(season_length)
        self.settings = check_settings(type(self), self.name or type(self).__name__, settings)
        for s in declared(type(self)):
            setattr(self, s.name, self.settings.get(s.name, s.default))

    @abstractmethod
    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "PerSeriesModel":
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
    def refit_settings(cls, fitted: dict[str, str]) -> dict[str, Any]:
        """Settings that refit this model at another origin of the same series keeping the choice it made at one
        origin (``fitted``: its :meth:`fitted_settings` there): only the parameters are estimated again. Used by a
        forecast's calibration backtests (the choice made at their earliest origin,
        :func:`~forecasting.pipeline.forecast.calibration_choices`); {} (the default): search again."""
        return {}

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {}


class GlobalModel(ABC):
    name: ClassVar[str] = ""
    capabilities = _Registered(Capabilities(global_model=True))
    # run options a global model is given beside its settings (the run's seed), accepted unchecked
    run_options: ClassVar[tuple[str, ...]] = ("seed",)
    # whether fitting learns from the user's series (False: a zero-shot model only reads them)
    trains: ClassVar[bool] = True

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        self.season_length = int(season_length)
        self.settings = check_settings(type(self), self.name or type(self).__name__, settings,
                                       accept=self.run_options)

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


def bound_key(side: str, level) -> str:
    """``lo-80``: a bound in a model's forecast dict (``side`` is ``lo`` or ``hi``), as statsforecast names it."""
    return f"{side}-{int(level)}"


def bound_column(side: str, level) -> str:
    """``lo_80``: a bound column of the result frames (forecasts, backtests, exports, the API)."""
    return f"{side}_{int(level)}"


def normal_intervals(mean: np.ndarray, sigma_h: np.ndarray, levels: Sequence[int]) -> ForecastDict:
    """Symmetric Gaussian intervals around ``mean`` with per-step standard deviation ``sigma_h``."""
    from scipy.stats import norm

    out: ForecastDict = {"mean": np.asarray(mean, dtype=float)}
    for l in levels:
        z = norm.ppf(0.5 + l / 200.0)
        out[bound_key("lo", l)] = out["mean"] - z * sigma_h
        out[bound_key("hi", l)] = out["mean"] + z * sigma_h
    return out
