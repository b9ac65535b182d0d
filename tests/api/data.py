"""Small monthly sales series, the same numbers as a request body and as a CSV file for the CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd


def monthly(n_series: int = 2, n: int = 72, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2015-01-01", periods=n, freq="MS")
    rows = []
    for k in range(n_series):
        y = 100 + 20 * k + 0.5 * np.arange(n) + 15 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 3, n)
        rows.append(pd.DataFrame({"store": f"S{k}", "month": months, "units": np.round(y, 2)}))
    return pd.concat(rows, ignore_index=True)


def body(frame: pd.DataFrame, **extra) -> dict:
    series = [{"id": sid, "timestamps": g["month"].dt.strftime("%Y-%m-%d").tolist(), "values": g["units"].tolist()}
              for sid, g in frame.groupby("store", sort=False)]
    return {"series": series, **extra}
