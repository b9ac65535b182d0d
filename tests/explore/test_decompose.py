"""Decompositions: components add up, gaps and short histories fall back with a stated reason."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.explore.decompose import decompose, parse_periods

from explore_signals import daily_two_seasons, monthly


def _additive_gap(dec) -> float:
    f = dec.frame.dropna(subset=["y"])
    return float(np.abs(f["y"] - f["trend"] - f[dec.seasonal_cols].sum(axis=1) - f["resid"]).max())


@pytest.mark.parametrize("method", ["stl", "mstl", "classical"])
def test_components_add_up_to_y(method):
    dec = decompose(monthly(), "MS", method, robust=True)
    assert dec.method == method and dec.periods == [12]
    assert _additive_gap(dec) < 1e-8
    t, s = dec.strengths()
    assert t > 0.9 and s > 0.9


def test_multiplicative_components_multiply_to_y():
    s = monthly(pattern=np.zeros(12)) * np.resize(np.linspace(0.8, 1.2, 12), 120)
    dec = decompose(s, "MS", "classical", model="multiplicative")
    f = dec.frame
    assert dec.multiplicative
    assert np.allclose(f["trend"] * f["seasonal"] * f["resid"], f["y"])
    assert np.allclose(dec.adjusted * dec.seasonal, f["y"])


def test_multiplicative_needs_positive_values():
    s = monthly(level=0.0, slope=0.0)
    dec = decompose(s, "MS", "classical", model="multiplicative")
    assert dec.model == "additive"
    assert any("positive values" in n for n in dec.notes)


def test_gaps_are_interpolated_and_flagged():
    s = monthly()
    s.iloc[[0, 10, 11, 60]] = np.nan
    s = s.drop(s.index[[30, 31, 32]])            # missing dates, not just missing values
    dec = decompose(s, "MS", "stl")
    f = dec.frame
    assert len(f) == 120                          # back on the full monthly grid
    assert int(f["imputed"].sum()) == 6           # 10, 11, 30, 31, 32, 60
    assert f.loc["2010-01-01", ["y", "trend"]].isna().all()   # a leading gap is left out, not invented
    assert any("interpolated" in n for n in dec.notes)
    assert _additive_gap(dec) < 1e-8


@pytest.mark.parametrize("method", ["stl", "mstl", "classical"])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 23])
def test_short_series_fall_back_to_trend_with_a_reason(method, n):
    dec = decompose(monthly(n=max(n, 1)).iloc[:n], "MS", method, periods=[12])
    assert dec.method == "trend" and dec.seasonal_cols == []
    assert len(dec.frame) == n
    if n:
        assert any("two full seasons" in m for m in dec.notes)
        assert _additive_gap(dec) < 1e-8


def test_mstl_keeps_the_periods_the_data_can_hold():
    s, _, _ = daily_two_seasons(n=500)
    dec = decompose(s, "D", "mstl", periods=[7, 365.25])
    assert dec.periods == [7] and dec.seasonal_cols == ["seasonal_7"]
    assert any("period 365" in m and "two full seasons" in m for m in dec.notes)


def test_stl_with_two_periods_uses_the_shortest():
    s, _, _ = daily_two_seasons()
    dec = decompose(s, "D", "stl", periods=[7, 365.25])
    assert dec.periods == [7]
    assert any("MSTL" in m for m in dec.notes)


def test_degenerate_series_do_not_crash():
    idx = pd.date_range("2020-01-01", periods=60, freq="D")
    for values in (np.full(60, 5.0), np.full(60, np.nan), np.r_[np.full(59, np.nan), 1.0]):
        dec = decompose(pd.Series(values, index=idx), "D", "stl")
        assert dec.method == "trend"
        dec.strengths()


def test_bad_settings_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown decomposition method"):
        decompose(monthly(), "MS", "x11")
    with pytest.raises(ConfigError, match="at least 2"):
        parse_periods("1")
    with pytest.raises(ConfigError, match="not a number"):
        parse_periods("12,weekly")
    assert parse_periods("7, 365.25") == [7.0, 365.25]
    assert parse_periods(None) is None


def test_real_dataset_statsmodels_co2():
    """Source: statsmodels.datasets.co2 (Mauna Loa weekly CO2, 1958-2001, with missing weeks)."""
    from statsmodels.datasets import co2

    data = co2.load_pandas().data["co2"]
    assert data.isna().any()
    s = pd.Series(data.to_numpy(), index=pd.DatetimeIndex(data.index))
    freq = pd.infer_freq(s.index)
    dec = decompose(s, freq, "stl", robust=True)
    assert dec.periods == [52]
    assert any("interpolated" in n for n in dec.notes)
    t, seas = dec.strengths()
    assert t > 0.99 and seas > 0.9
    assert _additive_gap(dec) < 1e-8


def test_real_dataset_statsmodels_elec_equip_classical():
    """Source: statsmodels.datasets.elec_equip (monthly electrical equipment orders index)."""
    from statsmodels.datasets import elec_equip

    data = elec_equip.load_pandas().data.iloc[:, 0]
    s = pd.Series(data.to_numpy(dtype=float), index=pd.DatetimeIndex(data.index))
    dec = decompose(s, pd.infer_freq(s.index), "classical", model="multiplicative")
    assert dec.periods == [12] and dec.multiplicative
    assert np.allclose(dec.frame["trend"] * dec.frame["seasonal"] * dec.frame["resid"], dec.frame["y"])
