"""Small monthly sales (2 stores × 2 products) for the forecast-cycle tests, written as a CSV the way an
analyst's file looks, and an archived forecast run made on it in a real workspace."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.ingest import load
from forecasting.pipeline import ForecastConfig
from forecasting.store import open_workspace
from forecasting.store.execute import config_of, execute_run

SERIES = [("North", "A-1"), ("North", "B-2"), ("South", "A-1"), ("South", "B-2")]
COLS = ["--date-col", "month", "--target-col", "units", "--id-cols", "store,sku"]


def sales(months: int = 39, seed: int = 7) -> pd.DataFrame:
    """month, store, sku, units: 2021-01 on, positive whole units with a yearly pattern."""
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2021-01", periods=months, freq="M")
    rows = []
    for k, (store, sku) in enumerate(SERIES):
        base = 50 + 20 * k
        season = 10 * np.sin(2 * np.pi * np.arange(months) / 12)
        y = np.round(base + season + rng.integers(-8, 9, months)).astype(int)
        rows += [(str(p), store, sku, int(v)) for p, v in zip(idx, y)]
    return pd.DataFrame(rows, columns=["month", "store", "sku", "units"])


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def load_csv(path):
    return load(str(path), date_col="month", target_col="units", id_cols=["store", "sku"])


def archived_forecast(folder, frame: pd.DataFrame, path, *, horizon: int = 3, model="naive", season_length=12,
                      ws_id: str | None = None):
    """A workspace at ``folder`` with a finished forecast run on ``frame`` (written to ``path``)."""
    write(frame, path)
    dataset = load_csv(path)
    ws = open_workspace(folder, ws_id=ws_id)
    rec = ws.add_dataset(dataset, raw=path, name=path.name, mapping={"file": path.name}, treatments=[])
    cfg = ForecastConfig(horizon=horizon, model=model, season_length=season_length, engine="serial")
    run_id = ws.create_run("forecast", rec.id, config_of("forecast", cfg))
    execute_run(ws, run_id)
    return ws, run_id, dataset
