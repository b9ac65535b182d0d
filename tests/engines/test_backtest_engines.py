"""run_backtest and run_forecast give identical results on the serial, local and dask engines."""
import importlib.util

import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.pipeline import BacktestConfig, run_backtest
from forecasting.models.registry import get_spec
from tests.engines.helpers import worker_pids


def available(names):
    return [n for n in names if importlib.util.find_spec(get_spec(n).module) is not None]


MODELS = available(["seasonal_naive", "drift", "croston", "ets", "theta"])


def make_dataset(n_series=12, n_days=120, seed=1):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=n_days, freq="D")
    frames = []
    for i in range(n_series):
        t = np.arange(n_days)
        y = 50 + 3 * i + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 4, n_days)
        if i == 3:
            y = np.where(rng.random(n_days) < 0.7, 0.0, rng.poisson(3, n_days))  # intermittent
        if i == 5:
            y[:110] = np.nan   # too short for 3 windows: recorded, not dropped
        frames.append(pd.DataFrame({"unique_id": f"store {i:02d}", "ds": ds, "y": y}))
    return Dataset(validate_long(pd.concat(frames)), freq="D")


FORECAST_MODELS = ["seasonal_naive", "ets"]


@pytest.fixture(scope="module")
def serial():
    return run_backtest(make_dataset(), BacktestConfig(horizon=7, models=MODELS, windows=3, engine="serial"))


@pytest.fixture(scope="module")
def serial_forecast():
    from forecasting.pipeline import ForecastConfig, run_forecast

    return run_forecast(make_dataset(), ForecastConfig(horizon=14, model=FORECAST_MODELS, engine="serial"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_backtest_and_forecast_identical_on_every_engine(engine, serial, serial_forecast):
    from forecasting.pipeline import ForecastConfig, run_forecast

    events = []
    got = run_backtest(make_dataset(), BacktestConfig(horizon=7, models=MODELS, windows=3, engine=engine,
                                                      n_workers=2), progress=events.append)
    pd.testing.assert_frame_equal(got.forecasts, serial.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(got.metrics, serial.metrics, check_exact=True)
    pd.testing.assert_frame_equal(got.summary, serial.summary, check_exact=True)
    assert len(serial.metrics) == 12 * len(MODELS) and serial.forecasts["forecast"].notna().all()
    assert events and events[-1].done == events[-1].total == 12
    fc = run_forecast(make_dataset(), ForecastConfig(horizon=14, model=FORECAST_MODELS, engine=engine, n_workers=2))
    pd.testing.assert_frame_equal(fc.forecasts, serial_forecast.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(fc.settings, serial_forecast.settings, check_exact=True)
    assert len(fc.forecasts) == 12 * 2 * 14 and fc.forecasts["forecast"].notna().all()
    assert not worker_pids()
