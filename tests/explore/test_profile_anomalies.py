"""Demand classes on constructed series; anomalies from the decomposition residual."""
import numpy as np
import pandas as pd
import pytest

from forecasting.explore.anomalies import find_anomalies, robust_z
from forecasting.explore.decompose import decompose
from forecasting.explore.profile import classify, demand_profile

from explore_signals import monthly


def test_demand_classes_on_constructed_series():
    rng = np.random.default_rng(0)
    smooth = 100 + rng.normal(0, 5, 200)                        # every period, steady size
    erratic = rng.choice([5.0, 200.0], size=200)                  # every period, sizes vary a lot
    intermittent = np.where(np.arange(200) % 4 == 0, 10.0, 0.0)  # one period in four, same size
    lumpy = np.where(np.arange(200) % 4 == 0, rng.choice([1.0, 60.0], 200), 0.0)
    got = {name: demand_profile(v) for name, v in
           [("smooth", smooth), ("erratic", erratic), ("intermittent", intermittent), ("lumpy", lumpy)]}
    assert {k: p.demand_class for k, p in got.items()} == {k: k for k in got}
    assert got["intermittent"].adi == pytest.approx(4.0)
    assert got["intermittent"].cv2 == pytest.approx(0.0)
    assert got["intermittent"].zero_share == pytest.approx(0.75)
    assert got["smooth"].cv == pytest.approx(np.std(smooth, ddof=1) / np.mean(smooth))


def test_profile_ignores_missing_values_and_handles_empty():
    p = demand_profile([1.0, np.nan, 0.0, np.nan, 3.0])
    assert p.n == 3 and p.adi == pytest.approx(1.5)
    assert demand_profile([]).demand_class == "unknown"
    assert demand_profile([0.0, 0.0, 0.0]).demand_class == "no demand"
    assert classify(1.0, 0.1) == "smooth" and classify(2.0, 1.0) == "lumpy"


def test_planted_spikes_are_found_with_their_dates():
    s = monthly()
    s.iloc[40] += 15
    s.iloc[90] -= 12
    dec = decompose(s, "MS", "stl", robust=True)
    an = find_anomalies(dec)
    assert set(an["ds"][:2]) == {s.index[40], s.index[90]}     # the two planted ones lead, by |score|
    by = an.set_index("ds")
    # +15 and -12 on noise of sd 1: scored against the residual's spread, which also holds the fit's own error
    assert by.loc[s.index[40], "score"] > 9 and by.loc[s.index[90], "score"] < -8
    assert (an["score"].abs().iloc[2:] < 6).all()              # anything else is a borderline noise point
    assert by.loc[s.index[40], "expected"] == pytest.approx(s.iloc[40] - 15, abs=3)


def test_clean_series_has_no_anomalies_and_interpolated_points_are_never_flagged():
    s = monthly()
    assert len(find_anomalies(decompose(s, "MS", "stl", robust=True))) == 0
    s.iloc[50] = np.nan
    dec = decompose(s, "MS", "stl", robust=True)
    assert s.index[50] not in set(find_anomalies(dec, threshold=0.0)["ds"])


def test_intermittent_series_only_flags_unusual_demands():
    rng = np.random.default_rng(5)
    v = np.where(rng.random(150) < 0.3, rng.poisson(5, 150) + 1.0, 0.0)   # ~70% zero periods
    v[70] = 40.0
    s = pd.Series(v, index=pd.date_range("2015-01-01", periods=150, freq="MS"))
    an = find_anomalies(decompose(s, "MS", "stl", robust=True))
    assert list(an["ds"]) == [s.index[70]]


def test_robust_z_of_constant_residual_is_zero():
    assert (robust_z(pd.Series([2.0] * 10)) == 0).all()
