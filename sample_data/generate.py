"""Generate SalesCast's bundled sample files (fixed seed; the outputs are committed).

    python sample_data/generate.py            # rewrites the three CSV files next to this script

- ``store_sales_daily.csv``: 3 stores x 4 products, daily 2022-01-01 .. 2024-12-31 (13,152 rows):
  trend, weekly and yearly seasonality, German national holidays (``holidays`` package), promotions
  and price as covariates, stock-outs (zero sales) and a few anomalies (spikes and dips).
- ``monthly_sales.csv``: one monthly series, 2015-01 .. 2024-12 (120 rows).
- ``wide_sales.csv``: weekly totals per product, one column per product (wide layout).
"""
from __future__ import annotations

from pathlib import Path

import holidays
import numpy as np
import pandas as pd

SEED = 20240601
HERE = Path(__file__).resolve().parent
STORES = {"Berlin": 1.3, "Hamburg": 1.0, "Munich": 0.8}
PRODUCTS = {  # name: (base units per day, base price)
    "Coffee": (40.0, 8.99),
    "Tea": (18.0, 4.49),
    "Cocoa": (9.0, 5.99),
    "Biscuits": (25.0, 2.79),
}


class RecordingRng:
    """A random source that records the expected value of every Poisson draw and draws the same numbers:
    ``daily(RecordingRng(np.random.default_rng(SEED)))`` gives the sample and, in ``.lam``, each day's true
    expected sales (the anomaly benchmark and tests measure against it)."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.lam = rng, []

    def poisson(self, lam):
        self.lam.append(np.asarray(lam, dtype="float64").copy())
        return self.rng.poisson(lam)

    def __getattr__(self, name):
        return getattr(self.rng, name)


def daily(rng: np.random.Generator, planted: list | None = None) -> pd.DataFrame:
    """``planted``, when a list, receives (store, product, date, value before, value after) of every planted
    anomaly (the benchmarks score anomaly detection against them); the output is the same either way."""
    dates = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    n = len(dates)
    t = np.arange(n)
    de_holidays = holidays.country_holidays("DE", years=[2022, 2023, 2024])
    holiday = np.array([d in de_holidays for d in dates.date], dtype=int)
    weekly = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 0.8])[dates.dayofweek]
    frames = []
    for s_i, (store, scale) in enumerate(STORES.items()):
        for p_i, (product, (base, price0)) in enumerate(PRODUCTS.items()):
            phase = 2 * np.pi * (p_i / len(PRODUCTS))
            yearly = 1 + 0.25 * np.cos(2 * np.pi * (dates.dayofyear - 15) / 365.25 + phase)
            if product == "Cocoa":  # a strongly winter product
                yearly = 1 + 0.7 * np.cos(2 * np.pi * (dates.dayofyear - 15) / 365.25)
            trend = 1 + (0.15 + 0.05 * s_i) * t / n
            promo = (rng.random(n) < 0.08).astype(int)
            promo = np.maximum(promo, np.roll(promo, 1))  # promotions last about two days
            price = np.round(price0 * (1 + 0.03 * (t // 365)) * np.where(promo == 1, 0.8, 1.0), 2)
            level = base * scale * trend * weekly * yearly * (1 + 0.45 * promo) * (1 - 0.6 * holiday)
            units = rng.poisson(np.maximum(level, 0.1)).astype(float)
            stockout = np.zeros(n, dtype=bool)  # a few stock-outs of 2-6 days
            for start in rng.choice(n - 7, size=3, replace=False):
                stockout[start:start + rng.integers(2, 7)] = True
            units[stockout] = 0.0
            for k in rng.choice(n, size=2, replace=False):  # anomalies: a spike and a dip
                before = units[k]
                units[k] = np.round(units[k] * rng.choice([3.5, 0.2]))
                if planted is not None:
                    planted.append((store, product, dates[k].strftime("%Y-%m-%d"), before, units[k]))
            frames.append(pd.DataFrame({
                "date": dates.strftime("%Y-%m-%d"), "store": store, "product": product, "units": units.astype(int),
                "price": price, "promo": promo, "holiday": holiday,
            }))
    return pd.concat(frames, ignore_index=True)


def monthly(rng: np.random.Generator) -> pd.DataFrame:
    months = pd.date_range("2015-01-01", periods=120, freq="MS")
    t = np.arange(len(months))
    season = 1 + 0.18 * np.sin(2 * np.pi * (months.month - 3) / 12) + 0.25 * (months.month == 12)
    sales = (12000 + 85 * t) * season * rng.normal(1, 0.03, len(t))
    return pd.DataFrame({"month": months.strftime("%Y-%m"), "sales": np.round(sales, 0).astype(int)})


def wide(daily_frame: pd.DataFrame) -> pd.DataFrame:
    d = daily_frame.assign(date=pd.to_datetime(daily_frame["date"]))
    weekly = (d.groupby(["product", pd.Grouper(key="date", freq="W-SUN")])["units"].sum()
              .unstack("product").reset_index())
    weekly = weekly.iloc[1:-1]  # whole weeks only
    weekly["date"] = weekly["date"].dt.strftime("%Y-%m-%d")
    weekly.columns.name = None
    return weekly[["date", *PRODUCTS]]


def main() -> None:
    rng = np.random.default_rng(SEED)
    d = daily(rng)
    d.to_csv(HERE / "store_sales_daily.csv", index=False)
    monthly(rng).to_csv(HERE / "monthly_sales.csv", index=False)
    wide(d).to_csv(HERE / "wide_sales.csv", index=False)
    print(f"wrote {len(d)} daily rows, 120 monthly rows and a wide weekly file to {HERE}")


if __name__ == "__main__":
    main()
