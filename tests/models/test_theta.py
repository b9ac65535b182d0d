"""Theta variants (STM, OTM, DSTM, DOTM): the recursion, the fit, the choice, the intervals.

The reference below is a plain loop over the model equations of Fiorucci et al. (2016) with the dynamic
trend line taken from ``np.polyfit`` on the values seen so far, written apart from the model's
vectorised least-squares code, so a wrong variant shows up as a mismatch."""
import numpy as np
import pytest

from forecasting.models.theta import VARIANTS, Theta, _trend_states, classical_seasonal

from .data import AIR


def _line(y):
    """Intercept and slope of the least-squares line through y at times 1..len(y) (slope 0 for one value)."""
    if y.size < 2:
        return float(y[0]), 0.0
    b, a = np.polyfit(np.arange(1, y.size + 1), y, 1)
    return a, b


def reference_errors(y, variant, l0, alpha, theta):
    """One-step errors of a variant at given parameters (e[0] left at 0), by the plain recursion."""
    c = 1 - 1 / theta
    A_s, B_s = _line(y)
    level = alpha * y[0] + (1 - alpha) * l0
    e = np.zeros(y.size)
    for t in range(1, y.size):
        A, B = _line(y[:t]) if variant.startswith("d") else (A_s, B_s)
        mu = level + c * (A * (1 - alpha) ** t + B * (1 - (1 - alpha) ** (t + 1)) / alpha)
        e[t] = y[t] - mu
        level = alpha * y[t] + (1 - alpha) * level
    return e


def simulate_dotm(n, alpha, theta, sigma, l0=100.0, rng=None):
    """A series drawn from the dynamic optimised theta model itself."""
    c = 1 - 1 / theta
    y = np.empty(n)
    y[0] = l0 + rng.normal(0, sigma)
    level = alpha * y[0] + (1 - alpha) * l0
    for t in range(1, n):
        A, B = _line(y[:t])
        y[t] = level + c * (A * (1 - alpha) ** t + B * (1 - (1 - alpha) ** (t + 1)) / alpha) + rng.normal(0, sigma)
        level = alpha * y[t] + (1 - alpha) * level
    return y


def _trended(n=60, seed=0, slope=2.0):
    rng = np.random.default_rng(seed)
    return 100 + slope * np.arange(n) + np.cumsum(rng.normal(0, 2, n)) + rng.normal(0, 3, n)


def test_dynamic_trend_is_the_least_squares_line_so_far():
    y = _trended(30)
    A, B = _trend_states(y, dynamic=True)
    for t in (1, 2, 5, 29):
        a, b = _line(y[: t + 1])
        assert A[t] == pytest.approx(a, rel=1e-9) and B[t] == pytest.approx(b, rel=1e-9, abs=1e-9)
    A, B = _trend_states(y, dynamic=False)
    a, b = _line(y)
    assert np.allclose(A, a) and np.allclose(B, b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_fits_its_own_equations_at_their_optimum(variant):
    y = _trended()
    model = Theta(variant=variant, deseasonalize=False).fit(y)
    f = model.fit_
    assert model.fitted_settings()["variant"] == variant
    e = reference_errors(y, variant, f.l0, f.alpha, f.theta)
    # the residuals the model reports are those of its equations
    np.testing.assert_allclose(model.in_sample_residuals()[3:], e[3:], rtol=1e-8, atol=1e-8)
    sse = float(np.sum(e[3:] ** 2))
    assert f.mse == pytest.approx(sse / (y.size - 3), rel=1e-8)
    if variant in ("stm", "dstm"):
        assert f.theta == pytest.approx(2.0)
    else:
        assert f.theta >= 1.0
    assert 0.1 <= f.alpha <= 0.99
    # no admissible parameter set does better (the fit is the global optimum, not a local one)
    rng = np.random.default_rng(1)
    for _ in range(60):
        a = rng.uniform(0.1, 0.99)
        th = 2.0 if variant in ("stm", "dstm") else 1 + rng.exponential(3)
        l0 = f.l0 + rng.normal(0, 20)
        assert np.sum(reference_errors(y, variant, l0, a, th)[3:] ** 2) >= sse * (1 - 1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_point_forecasts_continue_the_recursion(variant):
    """Feeding each forecast back as if observed gives the next forecast (dynamic variants refit the line)."""
    y = _trended(40, seed=3)
    model = Theta(variant=variant, deseasonalize=False).fit(y)
    f, h = model.fit_, 6
    mean = model.predict(h)["mean"]
    ext = y.copy()
    for j in range(h):
        # the error at the next time, when the value equals 0: its forecast is -e
        ext_probe = np.append(ext, 0.0)
        if variant.startswith("d"):
            e = reference_errors(ext_probe, variant, f.l0, f.alpha, f.theta)
        else:   # the static line stays the one fitted on the history
            e = _static_errors(ext_probe, y, f)
        assert mean[j] == pytest.approx(-e[-1], rel=1e-8)
        ext = np.append(ext, mean[j])


def _static_errors(ext, y, f):
    c = 1 - 1 / f.theta
    A, B = _line(y)
    level = f.alpha * ext[0] + (1 - f.alpha) * f.l0
    e = np.zeros(ext.size)
    for t in range(1, ext.size):
        e[t] = ext[t] - (level + c * (A * (1 - f.alpha) ** t + B * (1 - (1 - f.alpha) ** (t + 1)) / f.alpha))
        level = f.alpha * ext[t] + (1 - f.alpha) * level
    return e


def test_standard_theta_is_ses_with_half_the_slope_and_optimised_theta_takes_the_whole_trend():
    rng = np.random.default_rng(0)
    b = 3.0
    y = 50 + b * np.arange(80) + rng.normal(0, 2, 80)
    stm = Theta(variant="stm", deseasonalize=False).fit(y).predict(12)["mean"]
    otm_model = Theta(variant="otm", deseasonalize=False).fit(y)
    otm = otm_model.predict(12)["mean"]
    # a clean linear trend: the optimised theta gives the trend line its full weight (theta large)
    assert otm_model.fitted_settings()["theta"] > 5
    assert np.mean(np.diff(otm)) == pytest.approx(b, rel=0.1)
    assert np.mean(np.diff(stm)) == pytest.approx(b / 2, rel=0.15)   # theta = 2 halves the long-run slope
    future = 50 + b * np.arange(80, 92)
    assert np.mean(np.abs(otm - future)) < np.mean(np.abs(stm - future))


def test_optimised_theta_recovers_a_planted_model():
    rng = np.random.default_rng(5)
    thetas, alphas = [], []
    for _ in range(8):
        y = simulate_dotm(150, alpha=0.3, theta=3.0, sigma=1.0, rng=rng)
        s = Theta(variant="dotm", deseasonalize=False).fit(y).fitted_settings()
        thetas.append(s["theta"])
        alphas.append(s["alpha"])
    assert 2.0 < np.median(thetas) < 5.0, thetas
    assert 0.2 < np.median(alphas) < 0.45, alphas


def test_auto_keeps_the_variant_with_the_lowest_in_sample_mse():
    for seed in range(4):
        y = _trended(50, seed=seed, slope=seed - 1.5)
        auto = Theta(variant="auto", deseasonalize=False).fit(y)
        mse = {v: Theta(variant=v, deseasonalize=False).fit(y).fit_.mse for v in VARIANTS}
        best = min(mse, key=mse.get)
        assert auto.fitted_settings()["variant"] == best
        assert auto.mse_ == pytest.approx(mse)
        np.testing.assert_allclose(auto.predict(5)["mean"], Theta(variant=best, deseasonalize=False).fit(y).predict(5)["mean"])
        # an estimated theta never fits worse than the fixed theta = 2 it contains
        assert mse["otm"] <= mse["stm"] * (1 + 1e-9) and mse["dotm"] <= mse["dstm"] * (1 + 1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_intervals_widen_with_the_horizon(variant):
    out = Theta(season_length=12, variant=variant).fit(np.array(AIR, float)).predict(24)
    w80, w95 = out["hi-80"] - out["lo-80"], out["hi-95"] - out["lo-95"]
    assert (w95 > w80).all() and (w80 > 0).all()
    # deseasonalised multiplicatively: compare on the adjusted scale, where the width grows every step
    s = np.resize(classical_seasonal(np.array(AIR, float), 12, True)[-12:], 24)
    assert (np.diff(w95 / s) > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["stm", "dotm"])
def test_interval_coverage_is_about_nominal_on_simulated_data(variant):
    """Series drawn from the model: the 80/95% intervals cover about 80/95% of the future values."""
    rng = np.random.default_rng(11)
    h, hits80, hits95, total = 8, 0, 0, 0
    for _ in range(150):
        y = simulate_dotm(90 + h, alpha=0.4, theta=2.0 if variant == "stm" else 3.0, sigma=1.0, rng=rng) \
            if variant == "dotm" else 20 + np.cumsum(rng.normal(0.3, 1.0, 90 + h))
        out = Theta(variant=variant, deseasonalize=False).fit(y[:-h]).predict(h)
        te = y[-h:]
        hits80 += np.sum((te >= out["lo-80"]) & (te <= out["hi-80"]))
        hits95 += np.sum((te >= out["lo-95"]) & (te <= out["hi-95"]))
        total += h
    assert 0.72 <= hits80 / total <= 0.88, hits80 / total
    assert 0.90 <= hits95 / total <= 0.985, hits95 / total


def test_seasonality_and_decomposition_choices():
    y = np.array(AIR, float)
    s = Theta(season_length=12).fit(y).fitted_settings()
    assert s["deseasonalized"] and s["method"] == "multiplicative"
    z = y.copy()
    z[3] = 0
    assert Theta(season_length=12).fit(z).fitted_settings()["method"] == "additive"
    assert Theta(season_length=12, method="additive").fit(y).fitted_settings()["method"] == "additive"
    assert not Theta(season_length=12, deseasonalize=False).fit(y).fitted_settings()["deseasonalized"]
    flat = np.random.default_rng(0).normal(100, 1, 60)
    assert not Theta(season_length=12).fit(flat).fitted_settings()["deseasonalized"]
    # the seasonal indices are those of statsmodels' classical decomposition
    from statsmodels.tsa.seasonal import seasonal_decompose

    for mult in (True, False):
        ref = seasonal_decompose(y, model="multiplicative" if mult else "additive", period=12).seasonal
        np.testing.assert_allclose(classical_seasonal(y, 12, mult), ref, rtol=1e-10, atol=1e-10)
    ref = seasonal_decompose(y[:63], model="multiplicative", period=7).seasonal
    np.testing.assert_allclose(classical_seasonal(y[:63], 7, True), ref, rtol=1e-10)


def test_constant_series_bad_settings_and_short_history():
    out = Theta(season_length=12).fit(np.full(30, 7.0)).predict(4)
    np.testing.assert_allclose(out["mean"], 7.0)
    np.testing.assert_allclose(out["hi-95"], 7.0)
    with pytest.raises(ValueError, match="variant"):
        Theta(variant="xyz").fit(_trended())
    with pytest.raises(ValueError, match="at least"):
        Theta().fit(np.array([1.0, 2.0, 3.0, 4.0]))
    short = Theta().fit(np.array([3.0, 5.0, 4.0, 6.0, 7.0, 6.5])).predict(3)
    assert np.isfinite(short["mean"]).all() and np.isfinite(short["lo-95"]).all()
