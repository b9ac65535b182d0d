"""Period detection and seasonal indices on planted signals."""
import numpy as np
import pandas as pd
import pytest

from forecasting.explore.decompose import decompose
from forecasting.explore.seasonality import (calendar_periods, detect_periods, seasonal_indices,
                                              suggest_season_length)

from explore_signals import PATTERN_12, daily_two_seasons, monthly


def test_calendar_periods_follow_the_frequency():
    assert calendar_periods("D") == [7.0, 365.25]
    assert calendar_periods("MS") == [12.0]
    assert calendar_periods("QS-JAN") == [4.0]
    assert calendar_periods("h") == [24.0, 168.0]
    assert calendar_periods("YS") == []
    assert calendar_periods(None) == []


def test_planted_period_12_is_found():
    monthly_series = monthly()
    det = detect_periods(monthly_series, "MS")
    assert det.periods == [12.0]
    assert det.candidates[0].source == "calendar" and det.candidates[0].found
    assert suggest_season_length(monthly_series, "MS") == 12


def test_planted_period_12_found_without_calendar_hint():
    det = detect_periods(monthly().to_numpy(), None)     # no dates, no frequency: data only
    assert [c.period for c in det.candidates if c.found and c.source == "data"] == [12.0]


@pytest.mark.parametrize("method,rms_tol", [("stl", 0.75), ("mstl", 0.75), ("classical", 0.4)])
def test_decomposition_recovers_the_planted_seasonal_pattern(method, rms_tol):
    """Tolerance (noise sd 1, planted pattern swinging -6..+6): RMS error of the seasonal component
    below 0.75 for STL/MSTL (their seasonal may drift slowly) and 0.4 for classical (fixed pattern);
    correlation with the planted pattern above 0.97."""
    s = monthly(seed=0)
    dec = decompose(s, "MS", method)
    seasonal = dec.frame[dec.seasonal_cols[0]].to_numpy()
    planted = np.resize(PATTERN_12, len(s))
    assert np.sqrt(np.mean((seasonal - planted) ** 2)) < rms_tol
    assert np.corrcoef(seasonal, planted)[0, 1] > 0.97


def test_seasonal_indices_match_the_planted_pattern():
    monthly_series = monthly()
    dec = decompose(monthly_series, "MS", "classical")
    table = seasonal_indices(dec.frame["seasonal"], 12, "MS")
    assert list(table["position"]) == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"]
    assert abs(table["index"].sum()) < 1e-9
    assert np.abs(table["index"].to_numpy() - PATTERN_12).max() < 0.6
    assert (table["n"] == 10).all()


def test_multiplicative_indices_average_one():
    s = monthly(pattern=np.zeros(12))
    s = s * np.resize(1 + PATTERN_12 / 20, len(s))
    dec = decompose(s, "MS", "classical", model="multiplicative")
    table = seasonal_indices(dec.frame["seasonal"], 12, "MS", multiplicative=True)
    assert abs(table["index"].mean() - 1) < 1e-9
    assert np.abs(table["index"].to_numpy() - (1 + PATTERN_12 / 20)).max() < 0.02


def test_weekly_and_yearly_pair_found_on_daily_data():
    s, _, _ = daily_two_seasons()
    det = detect_periods(s, "D")
    assert det.periods == [7.0, 365.25]
    assert suggest_season_length(s, "D") == 7


def test_mstl_separates_weekly_and_yearly_components():
    s, weekly, yearly = daily_two_seasons()
    dec = decompose(s, "D", "mstl")
    assert dec.method == "mstl" and dec.periods == [7, 365]
    assert np.corrcoef(dec.frame["seasonal_7"], weekly)[0, 1] > 0.95
    assert np.corrcoef(dec.frame["seasonal_365"], yearly)[0, 1] > 0.9


def test_yearly_period_not_checked_with_less_than_two_years():
    s, _, _ = daily_two_seasons(n=400)
    det = detect_periods(s, "D")
    assert det.periods == [7.0]
    assert any("365.25 not checked" in n and "two full seasons" in n for n in det.notes)


def test_no_period_in_noise_or_random_walk():
    rng = np.random.default_rng(3)
    idx = pd.date_range("2020-01-01", periods=500, freq="D")
    assert detect_periods(pd.Series(rng.normal(size=500), index=idx), "D").periods == []
    assert suggest_season_length(pd.Series(rng.normal(size=500).cumsum(), index=idx), "D") == 1


def test_data_only_period_is_reported():
    rng = np.random.default_rng(4)
    t = np.arange(400)
    s = pd.Series(3 * np.sin(2 * np.pi * t / 5) + rng.normal(0, 1, 400),
                  index=pd.date_range("2020-01-01", periods=400, freq="D"))
    det = detect_periods(s, "D")
    assert det.periods == [5.0]
    assert [c.source for c in det.candidates if c.found] == ["data"]


def test_short_gappy_and_degenerate_input_never_raise():
    s = monthly(n=20)
    assert suggest_season_length(s, "MS") == 1
    assert any("two full seasons" in n for n in detect_periods(s, "MS").notes)
    gappy = monthly()
    gappy.iloc[[3, 4, 5, 50, 51]] = np.nan
    assert detect_periods(gappy.drop(gappy.index[[80, 81]]), "MS").periods == [12.0]
    for bad in ([], [np.nan, np.nan], [1.0], [2.0] * 40, "not a series"):
        assert suggest_season_length(bad, "MS") == 1


def test_default_season_length_prefers_the_calendar():
    """A 5-period swing in monthly data is reported, but not used as the models' default season."""
    rng = np.random.default_rng(6)
    t = np.arange(150)
    v = 3 * np.sin(2 * np.pi * t / 5) + rng.normal(0, 1, 150)
    s = pd.Series(v, index=pd.date_range("2000-01-01", periods=150, freq="MS"))
    det = detect_periods(s, "MS")
    assert det.periods == [5.0] and det.candidates[0].period == 12.0 and not det.candidates[0].found
    assert suggest_season_length(s, "MS") == 1
    assert suggest_season_length(v, None) == 5            # no calendar: the data's period is the default
    both = s + np.resize(PATTERN_12, 150)
    assert detect_periods(both, "MS").periods == [5.0, 12.0] and suggest_season_length(both, "MS") == 12
