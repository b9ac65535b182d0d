"""ARIMA/SARIMA: published airline coefficients, automatic selection, Fourier seasons, covariates, transforms."""
import numpy as np
import pytest

from forecasting.metrics import mase, naive_scale
from forecasting.models.arima import AutoARIMA, AutoSARIMA
from forecasting.models.arima_search import kpss_ndiffs, seasonal_ndiffs

from .data import AIR


def test_airline_model_reproduces_published_coefficients():
    # Box & Jenkins' airline model on log passengers: theta = -0.40, Theta = -0.56 (Box, Jenkins & Reinsel)
    m = AutoSARIMA(season_length=12, order="0,1,1", seasonal_order="0,1,1", transform="log").fit(np.array(AIR, float))
    coef = m.coefficients()
    assert coef["ma.L1"] == pytest.approx(-0.40, abs=0.01)
    assert coef["ma.S.L12"] == pytest.approx(-0.56, abs=0.01)
    assert m.fitted_settings()["order"] == "(0,1,1)(0,1,1)12"
    out = m.predict(12, levels=(95,))
    assert (out["lo-95"] > 0).all() and (out["hi-95"] / out["mean"] > 1).all()   # back-transformed from logs


def test_differencing_tests():
    y = np.log(np.array(AIR, float))
    assert seasonal_ndiffs(y, 12) == 1
    assert kpss_ndiffs(y) >= 1
    rng = np.random.default_rng(0)
    assert kpss_ndiffs(rng.normal(size=200)) == 0
    assert kpss_ndiffs(np.cumsum(rng.normal(size=200))) == 1


def test_auto_sarima_beats_seasonal_naive_on_airpassengers():
    y = np.array(AIR, float)
    tr, te = y[:-12], y[-12:]
    m = AutoSARIMA(season_length=12).fit(tr)
    s = m.fitted_settings()
    assert ")12" in s["order"] and s["models_fit"] > 4
    sc = naive_scale(tr, 12)[0]
    snaive = tr[-12:]
    assert mase(te, m.predict(12)["mean"], sc) < 0.8 * mase(te, snaive, sc)


def test_nonseasonal_arima_recovers_ar1():
    rng = np.random.default_rng(1)
    e = rng.normal(size=400)
    y = np.zeros(400)
    for t in range(1, 400):
        y[t] = 0.7 * y[t - 1] + e[t]
    m = AutoARIMA(approximation=False).fit(y + 10)
    assert m.fitted_settings()["order"].startswith("(1,0,0)") or m.fitted_settings()["order"].startswith("(1,0,1)")
    # for an AR(1) the ML estimate is close to the lag-1 sample autocorrelation (Yule-Walker)
    r1 = np.corrcoef(y[1:], y[:-1])[0, 1]
    assert m.coefficients()["ar.L1"] == pytest.approx(r1, abs=0.03)


def test_long_season_uses_fourier_terms():
    rng = np.random.default_rng(2)
    t = np.arange(156)   # three years of weekly data
    y = 200 + 40 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 4, 156)
    m = AutoSARIMA(season_length=52).fit(y[:-13])
    s = m.fitted_settings()
    assert "fourier" in s and ")52" not in s["order"]
    sc = naive_scale(y[:-13], 1)[0]
    assert mase(y[-13:], m.predict(13)["mean"], sc) < mase(y[-13:], np.full(13, y[-14]), sc)


def test_covariates_enter_as_regressors():
    rng = np.random.default_rng(3)
    n = 120
    promo = (rng.random(n + 6) < 0.3).astype(float)
    y = 100 + np.cumsum(rng.normal(0, 1, n + 6)) * 0.3 + 25 * promo
    m = AutoARIMA().fit(y[:n], promo[:n, None])
    assert m.coefficients()["x1"] == pytest.approx(25, abs=2)
    on = m.predict(2, np.array([[1.0], [1.0]]))["mean"]
    off = m.predict(2, np.array([[0.0], [0.0]]))["mean"]
    assert (on - off) == pytest.approx([25, 25], abs=2)
    with pytest.raises(ValueError, match="future values"):
        m.predict(2)


def test_manual_order_bad_input_and_boxcox():
    y = np.array(AIR, float)
    with pytest.raises(ValueError, match="order"):
        AutoSARIMA(season_length=12, order="1,1").fit(y)
    with pytest.raises(ValueError, match="transform"):
        AutoSARIMA(season_length=12, transform="sqrt").fit(y)
    m = AutoSARIMA(season_length=12, transform="boxcox", ic="bic").fit(y[:-12])
    s = m.fitted_settings()
    assert s["transform"].startswith("boxcox") and "bic" in s
    with pytest.raises(ValueError, match="positive"):
        AutoSARIMA(season_length=12, transform="log").fit(np.r_[0.0, y])
