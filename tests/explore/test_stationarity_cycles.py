"""ACF/PACF, ADF/KPSS verdicts, HP and band-pass cycles, smoothing."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.explore.cycles import cycles
from forecasting.explore.smoothing import ema, sma, trend_line
from forecasting.explore.stationarity import acf_pacf, stationarity

from explore_signals import monthly

IDX = pd.date_range("2000-01-01", periods=300, freq="MS")


def test_white_noise_is_stationary_and_random_walk_is_not():
    rng = np.random.default_rng(1)
    noise = stationarity(pd.Series(rng.normal(size=300), index=IDX), freq="MS")
    assert noise.stationary is True and noise.ndiffs == 0 and noise.nsdiffs == 0
    assert "stationary" in noise.verdict and "No differencing" in noise.verdict
    walk = stationarity(pd.Series(rng.normal(size=300).cumsum(), index=IDX), freq="MS")
    assert walk.stationary is False and walk.ndiffs == 1
    assert "not stationary" in walk.verdict and "1 ordinary difference" in walk.verdict


def test_strong_seasonality_suggests_a_seasonal_difference():
    st = stationarity(monthly(), season_length=12, seasonal_strength=0.95, freq="MS")
    assert st.nsdiffs == 1 and "seasonal difference (lag 12" in st.verdict


def test_short_or_constant_series_are_not_tested():
    assert stationarity(pd.Series([1.0, 2.0, 3.0])).stationary is None
    assert "not tested" in stationarity(pd.Series([4.0] * 50)).verdict


def test_acf_pacf_have_bands_and_seasonal_peak():
    t = acf_pacf(monthly(), 24)
    assert list(t.columns) == ["lag", "acf", "acf_band", "pacf", "pacf_band"]
    assert len(t) == 25 and t["acf"].iloc[0] == pytest.approx(1.0)
    assert (t["acf_band"].iloc[1:] > 0).all() and t["acf_band"].iloc[-1] > t["acf_band"].iloc[1]
    assert t["pacf_band"].iloc[1] == pytest.approx(1.96 / np.sqrt(120), rel=1e-4)
    assert acf_pacf(pd.Series([1.0, 2.0])).empty


def test_band_pass_recovers_a_planted_business_cycle():
    n = 480                                                      # 40 years of months
    t = np.arange(n)
    cycle = 8 * np.sin(2 * np.pi * t / 60)                       # 5-year swing
    rng = np.random.default_rng(2)
    s = pd.Series(100 + 0.2 * t + cycle + rng.normal(0, 1, n), index=pd.date_range("1980-01-01", periods=n, freq="MS"))
    c = cycles(s, "MS", season_length=12)
    f = c.frame
    assert c.band == (24.0, 96.0)                  # two seasons to 8 years
    assert np.allclose(f["hp_trend"] + f["hp_cycle"], s.to_numpy())
    assert np.corrcoef(f["cf_cycle"], cycle)[0, 1] > 0.9
    assert np.corrcoef(f["hp_cycle"], cycle)[0, 1] > 0.8


def test_cycles_on_short_series_say_why():
    c = cycles(monthly(n=30), "MS", season_length=12)
    assert c.band is None and c.frame["cf_cycle"].isna().all()
    assert any("too short" in n for n in c.notes)
    assert cycles(monthly(n=4), "MS").frame["hp_trend"].isna().all()


def test_moving_averages_and_trend_line():
    s = pd.Series([1.0, 2, 3, np.nan, 5, 6], index=pd.date_range("2020-01-01", periods=6, freq="D"))
    assert sma(s, 2).tolist()[:3] == [1.0, 1.5, 2.5]
    e = ema(s, 3)                                                # alpha 0.5
    assert e.iloc[1] == pytest.approx(1.5) and e.iloc[2] == pytest.approx(2.25)
    tl = trend_line(monthly(noise=0.0, pattern=np.zeros(12)))
    assert tl.slope == pytest.approx(0.5) and tl.r2 == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        sma(s, 0)
