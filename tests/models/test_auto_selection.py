"""auto's selection rules: the combination weighted by inverse backtest error (default); a single model only when
it wins clearly over several windows (``clear``); the lowest mean (``best``)."""
import numpy as np
import pytest

from forecasting.models.auto import AutoSelect, choose, combination_members, combination_weights, mean_scores
from forecasting.models.ensemble import Ensemble

FAST = "naive,seasonal_naive,drift,ets,theta"


def test_rule_needs_every_window_and_the_margin():
    comb = np.array([1.0, 1.0, 1.0])
    clear = dict(rule="clear")
    # better on the mean by 30% but lost one window: noise, not a clear win
    assert choose({"ets": np.array([0.4, 0.5, 1.2]), "ensemble": comb}, **clear)[0] == "ensemble"
    # every window, but only 5% better: within the margin
    assert choose({"ets": np.array([0.95, 0.95, 0.95]), "ensemble": comb}, **clear)[0] == "ensemble"
    # every window and 20% better: the single model; of two clear winners the better mean
    got, why = choose({"ets": np.array([0.8, 0.8, 0.8]), "theta": np.array([0.7, 0.9, 0.6]), "ensemble": comb},
                      **clear)
    assert got == "theta" and "all 3 windows" in why
    # one window is too little evidence for a single model
    assert choose({"ets": np.array([0.1]), "ensemble": np.array([1.0])}, **clear)[0] == "ensemble"
    # the default (weighted) always takes the combination
    got, why = choose({"ets": np.array([0.1, 0.1, 0.1]), "ensemble": comb})
    assert got == "ensemble" and "weighted" in why and "3 windows" in why
    # the old rule takes the lowest mean
    assert choose({"ets": np.array([0.4, 0.5, 1.2]), "ensemble": comb}, rule="best")[0] == "ets"


def test_a_candidate_never_scored_ranks_last():
    scores = {"ets": np.array([np.nan, np.nan]), "theta": np.array([np.nan, 0.9]), "ensemble": np.array([1.0, 1.0])}
    means = mean_scores(scores)
    assert np.isnan(means["ets"]) and means["theta"] == 0.9 and means["ensemble"] == 1.0
    for rule in ("best", "clear"):
        assert choose(scores, rule=rule)[0] == choose(scores, rule=rule, means=means)[0]
    assert choose(scores, rule="best")[0] == "theta"
    # the combination unscored: the clear rule falls back to the lowest mean, the unscored ets last
    got, why = choose({**scores, "ensemble": np.array([np.nan, np.nan])}, rule="clear")
    assert got == "theta" and "could not be scored" in why


def test_combination_members_leave_out_baselines():
    assert combination_members(["naive", "seasonal_naive", "ets", "theta", "sarima"]) == ["ets", "theta", "sarima"]
    assert combination_members(["naive", "drift", "ets"]) == ["naive", "drift", "ets"]


def test_a_series_one_model_gets_right_picks_it():
    # a strong irregular season: seasonal naive is right, naive and drift (half the combination) far off
    rng = np.random.default_rng(4)
    pattern = rng.uniform(50, 150, 12)
    y = np.tile(pattern, 8) + rng.normal(0, 0.5, 96)
    m = AutoSelect(season_length=12, models="naive,seasonal_naive,drift", rule="clear").fit(y)
    out = m.predict(6)
    s = m.fitted_settings()
    assert s["chosen"] == "seasonal_naive" and s["windows"] == 3 and "all 3 windows" in s["reason"]
    np.testing.assert_allclose(out["mean"], y[-12:-6])


def test_a_noisy_series_gets_the_combination():
    y = 100 + np.random.default_rng(7).normal(0, 10, 96)
    m = AutoSelect(season_length=12, models=FAST, rule="clear").fit(y)
    out = m.predict(6)
    s = m.fitted_settings()
    assert s["chosen"] == "ensemble" and s["reason"].startswith("combination") and "weights" not in s
    assert "combination=" in s["mase_by_model"] and s["ensemble.members"] == "ets, theta"
    ref = Ensemble(season_length=12, models=["ets", "theta"]).fit(y).predict(6)
    np.testing.assert_allclose(out["mean"], ref["mean"])
    np.testing.assert_allclose(out["hi-95"], ref["hi-95"])


def test_short_series_gets_the_combination_and_bad_settings_are_refused():
    y = np.arange(10.0) + 5
    m = AutoSelect(season_length=1, models="naive,drift,ets,theta").fit(y)
    m.predict(6)
    assert m.fitted_settings()["chosen"] == "ensemble" and m.fitted_settings()["windows"] == 0
    with pytest.raises(ValueError, match="rule"):
        AutoSelect(rule="vote").fit(y)
    with pytest.raises(ValueError, match="candidate"):
        AutoSelect(models="ets,ensemble").fit(y)


def test_weights_follow_inverse_error():
    scores = {"ets": np.array([1.0, 1.0]), "theta": np.array([0.5, 0.5]), "sarima": np.array([np.nan, 2.0])}
    np.testing.assert_allclose(combination_weights(scores, ["ets", "theta", "sarima"]), [2 / 7, 4 / 7, 1 / 7])
    # a member without a usable score: equal weights
    scores["sarima"] = np.array([np.nan, np.nan])
    np.testing.assert_allclose(combination_weights(scores, ["ets", "theta", "sarima"]), [1 / 3] * 3)


def test_default_weights_the_members_by_their_backtest_error():
    # the same series the clear rule hands to seasonal naive: weighted, seasonal naive (right) gets most of
    # the weight, naive and drift (far off) little; the forecast is the weighted mean of the members' own
    rng = np.random.default_rng(4)
    pattern = rng.uniform(50, 150, 12)
    y = np.tile(pattern, 8) + rng.normal(0, 0.5, 96)
    m = AutoSelect(season_length=12, models="naive,seasonal_naive,drift").fit(y)
    out = m.predict(6, levels=(80, 95))
    s = m.fitted_settings()
    w = dict(p.split("=") for p in s["weights"].split(", "))
    assert s["chosen"] == "ensemble" and "weighted" in s["reason"] and float(w["seasonal_naive"]) > 0.9
    assert s["ensemble.combine"] == "weighted mean"
    members = Ensemble(season_length=12, models=["naive", "seasonal_naive", "drift"]).fit(y).member_forecasts(6)
    for k in ("mean", "lo-80", "hi-95"):
        np.testing.assert_allclose(out[k], np.tensordot(m.weights_, np.vstack([o[k] for o in members]), axes=1))
    assert np.abs(out["mean"] - y[-12:-6]).mean() < 0.1 * np.abs(members[0]["mean"] - y[-12:-6]).mean()
