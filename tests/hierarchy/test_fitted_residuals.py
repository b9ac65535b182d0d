"""residuals="fitted": mint_shrink / mint_wls (var) from the base model's in-sample one-step errors."""
import numpy as np
import pandas as pd
import pytest

from forecasting.hierarchy.data import history_matrix, with_level
from forecasting.hierarchy.reconcile import ReconcileSettings, reconcile, shrunk_covariance
from forecasting.hierarchy.run import (HierarchyConfig, fitted_errors, has_fitted_errors, hierarchical_backtest,
                                       hierarchical_forecast)
from forecasting.hierarchy.structure import build_hierarchy
from forecasting.pipeline import BacktestConfig, ForecastConfig

from tests.hierarchy.test_pipeline import coherent, dataset, sales

RTOL = 1e-9


def toy():
    """total = a + b; b launched at the third date (missing before), a has an interior gap."""
    hier = build_hierarchy(pd.DataFrame({"unique_id": ["a", "b"], "k": ["a", "b"]}), ["k"])
    a = np.array([10.0, 12.0, np.nan, 15.0, 14.0, 18.0])
    b = np.array([np.nan, np.nan, 5.0, 7.0, 4.0, 6.0])
    rows = {"a": a, "b": b}
    ids = list(hier.node_ids)
    H = np.array([rows[u] if u in rows else np.nansum([a, b], axis=0) for u in ids])
    return hier, H


def test_naive_fitted_errors_by_hand():
    """The naive model's one-step errors are y_t - y_(t-1), aligned on the dates; gaps interpolated as the
    pipeline fits them; nothing before a launch or at a series' first value (zero rows)."""
    hier, H = toy()
    E = fitted_errors("naive", H, 1)
    ids = list(hier.node_ids)
    assert E.shape == (6, 3)
    # a: 10, 12, (13.5 interpolated), 15, 14, 18
    np.testing.assert_allclose(E[:, ids.index("a")], [0, 2, 1.5, 1.5, -1, 4])
    np.testing.assert_allclose(E[:, ids.index("b")], [0, 0, 0, 2, -3, 2])
    tot = ids.index(next(u for u in ids if u not in ("a", "b")))
    # total: 10, 12, 5 (a missing that day, b only), 22, 18, 24
    np.testing.assert_allclose(E[:, tot], [0, 2, -7, 17, -4, 6])


def test_mint_shrink_with_fitted_errors_by_hand():
    """mint_shrink on the toy's naive errors: W = lam diag(C) + (1 - lam) C from those errors, and the reconciled
    forecasts are S (S' W^-1 S)^-1 S' W^-1 y_hat, computed here densely."""
    hier, H = toy()
    E = fitted_errors("naive", H, 1)
    C = np.cov(E, rowvar=False)
    d, V, lam = shrunk_covariance(E)
    W = lam * np.diag(np.diag(C)) + (1 - lam) * C
    np.testing.assert_allclose(np.diag(d) + V @ V.T, W, rtol=1e-12)
    S = hier.S.toarray()
    y_hat = np.array([[40.0, 41.0] if u not in ("a", "b") else ([20.0, 22.0] if u == "a" else [13.0, 12.0])
                      for u in hier.node_ids])
    Wi = np.linalg.inv(W)
    want = S @ np.linalg.solve(S.T @ Wi @ S, S.T @ Wi @ y_hat)
    got = reconcile(hier, y_hat, ReconcileSettings("mint_shrink", residuals="fitted"), residuals=E)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.all(np.abs(got[0] - got[1:].sum(axis=0)) <= RTOL * np.abs(got[0]))


def test_ets_in_sample_errors_are_on_the_data_scale():
    from forecasting.models.ets import AutoETS

    rng = np.random.default_rng(3)
    t = np.arange(48)
    y = 100 * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.05, 48))
    m = AutoETS(season_length=12, model="MNM").fit(y)
    e = m.in_sample_errors()
    np.testing.assert_allclose(y - e, np.asarray(m.res_.fittedvalues), rtol=1e-12)
    # the relative residuals of the multiplicative-error form are ~100 times smaller here
    assert np.abs(e).mean() > 20 * np.abs(m.in_sample_residuals()).mean()


def test_which_models_have_fitted_errors():
    assert has_fitted_errors("ets") and has_fitted_errors("theta") and has_fitted_errors("naive")
    assert not has_fitted_errors("lstm")          # a global network: keeps the backtest errors
    assert not has_fitted_errors("no_such_model")


def test_fitted_errors_see_no_history_after_the_cutoff():
    """Changing every value after the first cutoff leaves that window's reconciled forecasts unchanged, and they
    equal mint_shrink by hand from the model refit on the history up to the cutoff."""
    frame = sales(late=True)
    cfg = BacktestConfig(horizon=3, models=["theta"], windows=2, engine="serial", levels=(80,),
                         season_length=12)    # set: detection would see the changed later values
    hcfg = HierarchyConfig(None, "mint_shrink", residuals="fitted")
    res, hds, hier = hierarchical_backtest(dataset(frame), cfg, hcfg)
    first = res.forecasts["cutoff"].min()
    changed = frame.copy()
    after = changed["month"] > first
    changed.loc[after, "units"] = changed.loc[after, "units"] * 3 + 50
    res2, _, _ = hierarchical_backtest(dataset(changed), cfg, hcfg)
    key = ["unique_id", "ds"]
    w1 = res.forecasts[res.forecasts["cutoff"] == first].sort_values(key)
    w2 = res2.forecasts[res2.forecasts["cutoff"] == first].sort_values(key)
    np.testing.assert_allclose(w1["forecast"].to_numpy(), w2["forecast"].to_numpy(), rtol=1e-12)
    assert not np.allclose(res.forecasts[res.forecasts["cutoff"] > first]["forecast"],
                           res2.forecasts[res2.forecasts["cutoff"] > first]["forecast"])
    # by hand: base forecasts of the window, errors of theta refit up to the cutoff
    base, _, _ = hierarchical_backtest(dataset(frame), cfg, HierarchyConfig(None, "none"))
    hist, dates = history_matrix(hds, hier)
    end = int(pd.Index(dates).get_loc(first)) + 1
    m = int(res.info["config"]["season_length"])
    pos = pd.Index(hier.node_ids)
    b = base.forecasts[base.forecasts["cutoff"] == first]
    b = b.assign(r=pos.get_indexer(b["unique_id"])).sort_values(["r", "ds"])
    want = reconcile(hier, b["forecast"].to_numpy().reshape(hier.n_nodes, 3),
                     ReconcileSettings("mint_shrink", residuals="fitted"),
                     residuals=fitted_errors("theta", hist[:, :end], m))
    got = w1.assign(r=pos.get_indexer(w1["unique_id"])).sort_values(["r", "ds"])["forecast"].to_numpy()
    np.testing.assert_allclose(got, want.ravel(), rtol=1e-9)
    assert any("in-sample one-step errors (theta" in n for n in res.info["notes"])
    coherent(with_level(hds, res.forecasts), ["forecast", "lo_80", "hi_80"], ["model", "cutoff", "ds"])


def test_forecast_with_fitted_errors_needs_no_calibration_backtest():
    ds = dataset(sales())
    cfg = ForecastConfig(horizon=3, model="theta", engine="serial", intervals="model")
    res, hds, hier = hierarchical_forecast(ds, cfg, HierarchyConfig(None, "mint_shrink", residuals="fitted"))
    notes = res.info["notes"]
    assert any("in-sample one-step errors (theta" in n for n in notes)
    assert not any("backtest errors" in n for n in notes)
    base, _, _ = hierarchical_forecast(ds, cfg, HierarchyConfig(None, "none"))
    hist, _ = history_matrix(hds, hier)
    pos = pd.Index(hier.node_ids)
    b = base.forecasts.assign(r=pos.get_indexer(base.forecasts["unique_id"])).sort_values(["r", "ds"])
    got = res.forecasts.assign(r=pos.get_indexer(res.forecasts["unique_id"])).sort_values(["r", "ds"])
    want = reconcile(hier, b["forecast"].to_numpy().reshape(hier.n_nodes, 3),
                     ReconcileSettings("mint_shrink", residuals="fitted"),
                     residuals=fitted_errors("theta", hist, int(res.info["config"]["season_length"])))
    np.testing.assert_allclose(got["forecast"].to_numpy(), want.ravel(), rtol=1e-9)


def test_unknown_residuals_refused():
    from forecasting.errors import ConfigError

    with pytest.raises(ConfigError, match="fitted"):
        ReconcileSettings("mint_shrink", residuals="model").validate()


def test_transformed_arima_keeps_the_backtest_errors():
    """arima fit on a log scale has residuals on that scale: no fitted errors for it (no fit is made)."""
    from forecasting.hierarchy.run import FittedErrors

    hier, H = toy()
    fe = FittedErrors(H, 1, {"arima": {"transform": "log"}})
    assert fe.get("arima", 6) is None and fe.without == {"arima"}
    assert FittedErrors(H, 1).get("naive", 4).shape == (4, 3)
