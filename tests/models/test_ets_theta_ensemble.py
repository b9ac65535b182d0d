"""ETS form selection and pruning, Theta, ensemble combination, auto selection."""
import numpy as np
import pytest

from forecasting.models.auto import AutoSelect
from forecasting.models.ensemble import Ensemble
from forecasting.models.ets import AutoETS
from forecasting.models.theta import Theta

from .data import AIR


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


def test_theta_defaults_to_the_dynamic_optimised_variant():
    # (the variants themselves are tested in test_theta.py)
    s = Theta(season_length=12).fit(np.array(AIR, float)).fitted_settings()
    assert s["variant"] == "dotm" and s["deseasonalized"]


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
    m = AutoSelect(season_length=12, models="naive,seasonal_naive,drift").fit(y)
    out = m.predict(6)
    s = m.fitted_settings()
    assert s["chosen"] == "seasonal_naive"
    assert "mase_by_model" in s
    np.testing.assert_allclose(out["mean"], y[-12:-6])
