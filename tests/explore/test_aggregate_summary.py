"""Aggregation choices, the summary card and the many-series table, the components table."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.errors import ConfigError
from forecasting.explore.aggregate import aggregate, aggregation_choices
from forecasting.explore.components import dataset_components
from forecasting.explore.summary import summarize, summary_table
from forecasting.progress import Cancelled

from explore_signals import monthly


def _dataset(missing: bool = False) -> Dataset:
    rows = []
    for i, (store, sku) in enumerate([("N", "A"), ("N", "B"), ("S", "A"), ("S", "B")]):
        s = monthly(seed=i, level=50.0 * (i + 1))
        uid = f"{store} / {sku}"
        rows.append(pd.DataFrame({"unique_id": uid, "ds": s.index, "y": s.to_numpy()}))
    df = pd.concat(rows, ignore_index=True)
    if missing:
        df.loc[5, "y"] = np.nan
    id_map = pd.DataFrame({"unique_id": ["N / A", "N / B", "S / A", "S / B"], "store": ["N", "N", "S", "S"],
                           "sku": ["A", "B", "A", "B"]})
    return Dataset(validate_long(df), "MS", "month", "units", ["store", "sku"], id_map)


def test_choices_and_total():
    ds = _dataset()
    assert aggregation_choices(ds) == [("total", None), ("column", "store"), ("column", "sku"), ("series", None)]
    tot = aggregate(ds, "total")
    assert tot.series_ids == ["Total"] and len(tot.frame) == 120
    assert tot.frame["y"].sum() == pytest.approx(ds.df["y"].sum())


def test_per_level_of_an_id_column():
    ds = _dataset()
    agg = aggregate(ds, "column", "store")
    assert agg.series_ids == ["N", "S"]
    n = agg.frame[agg.frame["unique_id"] == "N"]["y"].to_numpy()
    expected = ds.df[ds.df["unique_id"].isin(["N / A", "N / B"])].groupby("ds")["y"].sum().to_numpy()
    assert np.allclose(n, expected)
    assert aggregate(ds, "series").series_ids == ds.series_ids
    with pytest.raises(ConfigError):
        aggregate(ds, "column", "region")


def test_partial_dates_are_counted_in_a_note():
    agg = aggregate(_dataset(missing=True), "total")
    assert agg.notes == ["1 date(s) sum only some of their series (the others are missing there)"]


def test_single_series_dataset_offers_only_itself():
    df = validate_long(pd.DataFrame({"unique_id": "total", "ds": monthly().index, "y": monthly().to_numpy()}))
    assert aggregation_choices(Dataset(df, "MS")) == [("series", None)]


def test_summary_card_of_a_seasonal_series():
    s = monthly()
    s.iloc[40] += 20
    card = summarize(s, "MS")
    assert card.periods == [12.0] and card.season_length == 12
    assert card.trend_strength > 0.9 and card.seasonal_strength > 0.7   # the spike sits in the residual
    assert card.profile.demand_class == "smooth"
    assert card.n_anomalies >= 1 and card.anomalies["ds"].iloc[0] == s.index[40]
    assert card.stationarity.verdict
    row = card.row()
    assert row["periods"] == "12" and row["demand_class"] == "smooth"


def test_summary_table_has_one_row_per_series_and_stops_on_cancel():
    ds = _dataset()
    table = summary_table(ds.df, ds.freq)
    assert list(table["unique_id"]) == ds.series_ids
    assert {"trend_strength", "seasonal_strength", "demand_class", "n_anomalies", "stationary"} <= set(table.columns)
    assert (table["periods"] == "12").all()
    calls = []

    def stop_after_two(ev):
        calls.append(ev)
        if ev.done >= 2:
            raise Cancelled

    assert len(summary_table(ds.df, ds.freq, progress=stop_after_two)) == 2


def test_components_table_restores_id_columns():
    ds = _dataset()
    comp = dataset_components(ds, method="mstl")
    f = comp.frame
    assert list(f.columns) == ["store", "sku", "date", "y", "trend", "seasonal_12", "resid", "imputed", "anomaly"]
    assert len(f) == 480 and comp.detected and set(map(tuple, comp.periods.values())) == {(12,)}
    assert np.allclose(f["y"], f["trend"] + f["seasonal_12"] + f["resid"])
    one = dataset_components(ds, "S / B", method="stl", periods=[12])
    assert len(one.frame) == 120 and set(one.frame["store"]) == {"S"} and not one.detected


def test_components_of_series_with_different_periods_still_add_up():
    long = monthly(n=120)
    short = monthly(n=20, seed=3)                               # too short for period 12
    df = validate_long(pd.concat([
        pd.DataFrame({"unique_id": "long", "ds": long.index, "y": long.to_numpy()}),
        pd.DataFrame({"unique_id": "short", "ds": short.index, "y": short.to_numpy()})]))
    comp = dataset_components(Dataset(df, "MS"), method="mstl")
    f = comp.frame
    assert comp.periods == {"long": [12], "short": []}
    assert (f.loc[f["series"] == "short", "seasonal_12"] == 0).all()
    assert np.allclose(f["y"], f["trend"] + f["seasonal_12"] + f["resid"])
    assert any("two full seasons" in n for n in comp.notes["short"])
