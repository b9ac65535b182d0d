"""Accuracy by lag and FVA on small frames whose answers are worked out by hand, and the vectorised
seasonal naive against the seasonal naive model fitted series by series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation import by_lag
from forecasting.models.baselines import SeasonalNaive


def test_seasonal_naive_matches_the_model_series_by_series():
    rng = np.random.default_rng(3)
    m, h = 7, 10
    frames, expected = [], {}
    for k, n in enumerate([30, 7, 5, 22]):           # long, exactly one season, shorter than a season, long
        ds = pd.date_range("2024-01-01", periods=n + 3, freq="D")
        y = rng.integers(1, 100, n + 3).astype(float)
        y[n:] = np.nan                                # rows after the last observation (future covariates)
        uid = f"s{k}"
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
        hist = y[:n]
        if n >= m:
            expected[uid] = SeasonalNaive(season_length=m).fit(hist).predict(h)["mean"]
        else:                                         # too short for a season: the last value
            expected[uid] = np.full(h, hist[-1])
    history = pd.concat(frames[::-1], ignore_index=True)          # any row order
    wanted = pd.DataFrame([(u, lag) for u in ["s2", "s0", "s3", "s1", "nope"] for lag in range(1, h + 1)],
                          columns=["unique_id", "lag"])
    got = by_lag.seasonal_naive(history, m, wanted)
    for u in expected:
        np.testing.assert_array_equal(got[(wanted["unique_id"] == u).to_numpy()], expected[u])
    assert np.isnan(got[(wanted["unique_id"] == "nope").to_numpy()]).all()
    cut = by_lag.series_cutoffs(history)
    assert cut["s1"] == pd.Timestamp("2024-01-07") and cut["s0"] == pd.Timestamp("2024-01-30")


def test_seasonal_naive_gap_takes_the_value_before():
    hist = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=6, freq="D"),
                         "y": [1.0, 2.0, 3.0, np.nan, 5.0, 6.0]})
    got = by_lag.seasonal_naive(hist, 3, pd.DataFrame({"unique_id": ["a"] * 4, "lag": [1, 2, 3, 4]}))
    np.testing.assert_array_equal(got, [3.0, 5.0, 6.0, 3.0])       # y[3] missing: y[2] instead


def _rows():
    # two series, one run, lags 1 and 2
    return pd.DataFrame({
        "unique_id": ["a", "b", "a", "b"], "run": "r1", "model": "m", "lag": [1, 1, 2, 2],
        "ds": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"]),
        "cutoff": pd.Timestamp("2023-12-01"),
        "actual":   [100.0, 50.0, 80.0, 20.0],
        "naive":    [90.0, 70.0, 60.0, 20.0],
        "forecast": [95.0, 55.0, 90.0, 30.0],
        "final":    [100.0, 45.0, 90.0, 30.0]})


def test_summarise_by_hand():
    s = by_lag.summarise(_rows(), ["run", "model", "lag"]).set_index("lag")
    # lag 1: |actual| 150; naive errors 10 + 20, statistical 5 + 5, final 0 + 5, final errors 0 and -5
    assert s.loc[1, "wape_naive"] == pytest.approx(30 / 150)
    assert s.loc[1, "wape_statistical"] == pytest.approx(10 / 150)
    assert s.loc[1, "wape_final"] == s.loc[1, "wape"] == pytest.approx(5 / 150)
    assert s.loc[1, "fva_statistical"] == pytest.approx(20 / 150)
    assert s.loc[1, "fva_final"] == pytest.approx(5 / 150)
    assert s.loc[1, "bias"] == pytest.approx(-5 / 150) and s.loc[1, "mae"] == pytest.approx(2.5)
    assert s.loc[1, "helped_statistical"] == 1.0 and s.loc[1, "helped_final"] == 0.5
    assert s.loc[1, "series_overridden"] == 2
    # lag 2: |actual| 100; naive 20 + 0, statistical 10 + 10, final the same (no override)
    assert s.loc[2, "wape_naive"] == pytest.approx(0.2) and s.loc[2, "wape_statistical"] == pytest.approx(0.2)
    assert s.loc[2, "fva_statistical"] == pytest.approx(0.0) and s.loc[2, "fva_final"] == 0.0
    assert s.loc[2, "helped_statistical"] == 0.5 and s.loc[2, "series_overridden"] == 0   # a: 10 < 20; b: 10 > 0
    assert s.loc[2, "bias"] == pytest.approx(20 / 100)
    st = by_lag.stairstep(_rows(), ["lag"])
    one = st[st["lag"] == 1].set_index("step")
    assert list(st[st["lag"] == 1]["step"]) == ["naive", "statistical", "final"]
    assert np.isnan(one.loc["naive", "value_added"]) and one.loc["final", "value_added"] == pytest.approx(5 / 150)


def test_tracking_signal_by_hand():
    rows = pd.DataFrame({"unique_id": "a", "model": "m", "lag": 1,
                         "ds": pd.date_range("2024-01-01", periods=4, freq="MS"),
                         "actual": [10.0, 10.0, 10.0, 10.0], "final": [12.0, 9.0, 13.0, 10.0]})
    t = by_lag.tracking_signal(rows)
    # errors 2, -1, 3, 0; running sums 2, 1, 4, 4; running MAD 2, 1.5, 2, 1.5
    np.testing.assert_allclose(t["cum_error"], [2, 1, 4, 4])
    np.testing.assert_allclose(t["mad"], [2, 1.5, 2, 1.5])
    np.testing.assert_allclose(t["tracking_signal"], [1, 1 / 1.5, 2, 4 / 1.5])


def test_aggregate_rows_sum_the_series_of_a_group():
    rows = _rows()
    id_map = pd.DataFrame({"unique_id": ["a", "b"], "store": ["N", "N"], "sku": ["x", "y"]})
    tot = by_lag.aggregate_rows(rows, id_map, [])
    assert list(tot["unique_id"].unique()) == ["total"] and len(tot) == 2
    one = tot[tot["lag"] == 1].iloc[0]
    assert (one["actual"], one["naive"], one["forecast"], one["final"]) == (150, 160, 150, 145)
    assert one["abs_error"] == 5
    store = by_lag.aggregate_rows(rows, id_map, ["store"])
    pd.testing.assert_frame_equal(store.drop(columns="unique_id"), tot.drop(columns="unique_id"))
    s = by_lag.summarise(tot, ["lag"]).set_index("lag")
    assert s.loc[1, "wape_naive"] == pytest.approx(10 / 150)     # errors cancel at the total
