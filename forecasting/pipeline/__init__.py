"""One run pipeline for backtests and forecasts.

:func:`plan_run` works out what a run needs (season length, typed per-series payloads, covariates, which
models run per series and which across all series); :mod:`per_series` and :mod:`across_series` are the
two paths every model goes through; :func:`run_backtest` and :func:`run_forecast` are thin entry points
that choose the windows and the tables. Shared options (levels, model settings, season length, seed,
non-negativity, engine) are one dataclass, :class:`RunOptions`.
"""
from forecasting.pipeline.backtest import BacktestConfig, BacktestResult, run_backtest
from forecasting.pipeline.forecast import ForecastConfig, ForecastResult, run_forecast
from forecasting.pipeline.options import RunOptions, check_levels

__all__ = ["BacktestConfig", "BacktestResult", "ForecastConfig", "ForecastResult", "RunOptions", "check_levels",
           "run_backtest", "run_forecast"]
