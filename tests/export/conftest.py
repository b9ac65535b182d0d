"""Small synthetic results shaped like the engine's frames, for export tests that must not wait on models."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long

EVIL = '<script>alert("x")</script>'


def make_dataset(n_periods: int = 48, evil: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2020-01-01", periods=n_periods, freq="MS")
    rows = []
    stores = ["North", EVIL if evil else "South"]
    for i, store in enumerate(stores):
        for sku in ["A", "=B"]:
            y = 100 + 20 * i + 10 * np.sin(2 * np.pi * np.arange(n_periods) / 12) + rng.normal(0, 2, n_periods)
            rows.append(pd.DataFrame({"store": store, "sku": sku, "ds": ds, "y": y}))
    raw = pd.concat(rows, ignore_index=True)
    raw["unique_id"] = raw["store"] + " / " + raw["sku"]
    id_map = raw[["unique_id", "store", "sku"]].drop_duplicates().reset_index(drop=True)
    long = validate_long(raw[["unique_id", "ds", "y"]])
    return Dataset(long, "MS", date_col="month", target_col="units", id_cols=["store", "sku"], id_map=id_map,
                   source="sales <b>.csv")


def make_backtest_frame(dataset: Dataset, models=("seasonal_naive", "drift"), h: int = 6, windows: int = 2):
    rows = []
    for uid, g in dataset.df.groupby("unique_id"):
        y = g["y"].to_numpy()
        for w in range(windows):
            end = len(y) - (windows - w) * h
            cutoff = g["ds"].iloc[end - 1]
            actual = y[end:end + h]
            for j, m in enumerate(models):
                fc = y[end - 12:end - 12 + h] if m == "seasonal_naive" else np.full(h, y[end - 1]) + j
                sd = 5.0 + 3 * j
                rows.append(pd.DataFrame({
                    "unique_id": uid, "model": m, "cutoff": cutoff, "ds": g["ds"].iloc[end:end + h].to_numpy(),
                    "actual": actual, "forecast": fc, "lo_80": fc - 1.28 * sd, "hi_80": fc + 1.28 * sd,
                    "lo_95": fc - 1.96 * sd, "hi_95": fc + 1.96 * sd}))
    return pd.concat(rows, ignore_index=True)


def make_forecast_frame(dataset: Dataset, h: int = 6, model: str = "seasonal_naive"):
    rows = []
    for uid, g in dataset.df.groupby("unique_id"):
        fc = g["y"].to_numpy()[-12:-12 + h]
        ds = pd.date_range(g["ds"].iloc[-1], periods=h + 1, freq=dataset.freq)[1:]
        rows.append(pd.DataFrame({"unique_id": uid, "ds": ds, "model": model, "forecast": fc,
                                  "lo_80": fc - 6, "hi_80": fc + 6, "lo_95": fc - 10, "hi_95": fc + 10}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def dataset():
    return make_dataset()


@pytest.fixture
def backtest_frame(dataset):
    return make_backtest_frame(dataset)


@pytest.fixture
def forecast_frame(dataset):
    return make_forecast_frame(dataset)


def make_results(dataset):
    """Duck-typed BacktestResult / ForecastResult holding the synthetic frames (same attributes)."""
    from types import SimpleNamespace

    from forecasting.metrics import all_metrics

    bt = make_backtest_frame(dataset)
    rows = []
    for (uid, model), g in bt.groupby(["unique_id", "model"], sort=False):
        m = all_metrics(g["actual"].to_numpy(), g["forecast"].to_numpy(),
                        bands={80: (g["lo_80"].to_numpy(), g["hi_80"].to_numpy())})
        rows.append({"unique_id": uid, "model": model, **m, "mase": m["mae"] / 5,
                     "settings": "season_length=12", "fallback": ""})
    metrics = pd.DataFrame(rows)
    summary = metrics.groupby("model", sort=False)[["mae", "rmse", "mase"]].mean().reset_index()
    info = {"seed": 7, "device": "cpu", "config": {"horizon": 6, "windows": 2, "models": ["seasonal_naive", "drift"]},
            "versions": {"pandas": pd.__version__}, "cancelled": False}
    btr = SimpleNamespace(forecasts=bt, metrics=metrics, summary=summary, info=info, total=None)
    fc = make_forecast_frame(dataset)
    settings = pd.DataFrame({"unique_id": dataset.series_ids, "model": "seasonal_naive",
                             "settings": [{"season_length": 12}] * dataset.n_series, "fallback": ""})
    fr = SimpleNamespace(forecasts=fc, settings=settings, info={"seed": 7, "device": "cpu",
                                                                  "config": {"horizon": 6, "model": "seasonal_naive"}})
    return btr, fr


@pytest.fixture
def results(dataset):
    return make_results(dataset)
