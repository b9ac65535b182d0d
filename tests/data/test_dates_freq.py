"""Date parsing and frequency inference on the ways dates are really written."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.dates import parse_dates
from forecasting.data.frequency import infer_freq, normalize_freq, period_index, snap
from forecasting.errors import ConfigError, DataError


@pytest.mark.parametrize("values, first, last", [
    (["2024-01-31", "2024-02-01"], "2024-01-31", "2024-02-01"),
    (["31/01/2024", "01/02/2024"], "2024-01-31", "2024-02-01"),        # a day above 12 first: day-first
    (["01/31/2024", "02/01/2024"], "2024-01-31", "2024-02-01"),        # a day above 12 second: month-first
    (["31.01.24", "01.02.24"], "2024-01-31", "2024-02-01"),            # two-digit years
    (["2024-01", "2024-02"], "2024-01-01", "2024-02-01"),
    (["2024 Jan", "2024 Feb"], "2024-01-01", "2024-02-01"),
    (["Jan-24", "Feb-24"], "2024-01-01", "2024-02-01"),
    (["January 2024", "February 2024"], "2024-01-01", "2024-02-01"),
    (["1998 Q1", "1998 Q4"], "1998-01-01", "1998-10-01"),
    (["Q2 1998", "Q3 1998"], "1998-04-01", "1998-07-01"),
    (["2020-W01", "2020-W02"], "2019-12-30", "2020-01-06"),
    (["Jan 5, 2020", "Jan 6, 2020"], "2020-01-05", "2020-01-06"),
])
def test_text_formats(values, first, last):
    p = parse_dates(pd.Series(values), "date")
    assert p.ok_share == 1.0
    assert str(p.values.iloc[0].date()) == first and str(p.values.iloc[-1].date()) == last


def test_ambiguous_day_month_resolved_by_regular_calendar():
    # 1..5 February read day-first is daily; month-first it would be the 2nd of Jan..May (irregular steps)
    vals = [f"{d:02d}/02/2024" for d in range(1, 6)]
    p = parse_dates(pd.Series(vals), "date")
    assert list(p.values.dt.day) == [1, 2, 3, 4, 5] and "day-first" in p.how


def test_numbers_as_dates():
    assert parse_dates(pd.Series([20240229, 20240301]), "d").values.dt.strftime("%m-%d").tolist() == ["02-29", "03-01"]
    serial = parse_dates(pd.Series([45351.0, 45352.5]), "date").values
    assert serial.iloc[0] == pd.Timestamp("2024-02-29") and serial.iloc[1] == pd.Timestamp("2024-03-01 12:00")
    assert parse_dates(pd.Series([45351, 45352]), "units").ok_share == 0.0   # not named like a date
    assert parse_dates(pd.Series([1.5, 2.5]), "x").ok_share == 0.0


def test_time_zones_wall_days_and_utc_hours():
    days = parse_dates(pd.Series(["2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"]), "ts")
    assert list(days.values.dt.day) == [31, 1] and "local days" in days.how
    hours = parse_dates(pd.Series(["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00"]), "ts")
    assert (hours.values.diff().iloc[1]) == pd.Timedelta("1h") and "UTC" in hours.how


def test_unparseable_values_are_nat_not_guessed():
    p = parse_dates(pd.Series(["2024-01-01", "Total", ""]), "date")
    assert p.values.isna().tolist() == [False, True, True]


def _infer(dates, codes=None):
    d = pd.DatetimeIndex(dates).to_numpy()
    return infer_freq(np.zeros(len(d), dtype=np.int64) if codes is None else np.asarray(codes), d)


@pytest.mark.parametrize("rng, want", [
    (pd.date_range("2024-01-01", periods=48, freq="h"), "h"),
    (pd.date_range("2024-01-01", periods=30, freq="D"), "D"),
    (pd.bdate_range("2024-01-01", periods=30), "B"),
    (pd.date_range("2024-01-03", periods=20, freq="W-WED"), "W-WED"),
    (pd.date_range("2024-01-01", periods=20, freq="MS"), "MS"),
    (pd.date_range("2024-01-31", periods=20, freq="ME"), "MS"),
    (pd.date_range("2024-02-01", periods=12, freq="QS-FEB"), "QS-FEB"),
    (pd.date_range("2024-03-31", periods=12, freq="QE-DEC"), "QS-JAN"),
    (pd.date_range("2000-01-01", periods=10, freq="YS"), "YS-JAN"),
    (pd.date_range("2024-01-01", periods=40, freq="15min"), "15min"),
])
def test_infer_freq(rng, want):
    assert _infer(rng) == want


def test_infer_freq_ignores_gaps_and_duplicates_and_needs_two_dates():
    d = pd.date_range("2024-01-01", periods=30, freq="D").delete([3, 4, 10])
    assert _infer(d.append(d[:5]).sort_values()) == "D"
    with pytest.raises(DataError, match="single date"):
        _infer(["2024-01-01", "2024-01-05"], codes=[0, 1])


def test_snap_and_period_index_agree_with_pandas_grids():
    ds = pd.Series(pd.to_datetime(["2024-01-17", "2024-02-29", "2024-05-05"]))
    assert snap(ds, "MS").dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-02-01", "2024-05-01"]
    assert snap(ds, "QS-JAN").dt.strftime("%m-%d").tolist() == ["01-01", "01-01", "04-01"]
    assert snap(ds, "W-SUN").dt.dayofweek.eq(6).all() and (snap(ds, "W-SUN") >= ds).all()
    assert snap(ds, "YS-JAN").dt.year.tolist() == [2024, 2024, 2024]
    for f in ("D", "B", "W-SUN", "MS", "QS-MAR", "YS-JAN", "h"):
        grid = pd.date_range("2023-01-01", periods=30, freq=f)
        assert np.all(np.diff(period_index(grid, f)) == 1), f


def test_normalize_freq():
    assert normalize_freq("M") == "MS" and normalize_freq("Q") == "QS-JAN" and normalize_freq("W") == "W-SUN"
    assert normalize_freq("Q-NOV") == "QS-MAR" and normalize_freq("A") == "YS-JAN" and normalize_freq("H") == "h"
    with pytest.raises(ConfigError, match="unknown frequency"):
        normalize_freq("fortnightly")
