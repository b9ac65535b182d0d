"""Reconciliation: coherence of means and bounds, hand-computed MinT, grouped levels, single children."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.hierarchy import METHODS, ReconcileSettings, build_hierarchy, reconcile, reconcile_bottom, reconcile_intervals
from forecasting.hierarchy.reconcile import seasonal_naive_residuals, shrunk_covariance

RTOL = 1e-9


def keys_frame(stores=3, skus=4, single=False):
    rows = [(s, k) for s in range(stores) for k in range(skus)]
    if single:
        rows.append((stores, 0))          # a store with a single SKU
    df = pd.DataFrame(rows, columns=["store", "sku"]).astype(str)
    df["store"] = "st" + df["store"]
    df["sku"] = "sku" + df["sku"]
    df.insert(0, "unique_id", df["store"] + " / " + df["sku"])
    return df


def assert_coherent(hier, values):
    """Every aggregate equals the sum of its bottom series (relative 1e-9)."""
    b = values[hier.n_aggregate:]
    sums = np.asarray(hier.S @ b)
    scale = np.maximum(np.abs(sums), 1.0)
    assert np.all(np.abs(sums - values) <= RTOL * scale)


def base_problem(hier, h=4, seed=0, negative=False):
    rng = np.random.default_rng(seed)
    bottom = rng.gamma(2.0, 10.0, size=(hier.n_bottom, 60))
    hist = np.asarray(hier.S @ bottom)
    truth = np.asarray(hier.S @ rng.gamma(2.0, 10.0, size=(hier.n_bottom, h)))
    base = truth * rng.normal(1.0, 0.2, size=truth.shape)       # incoherent base forecasts
    if negative:
        base[hier.n_aggregate:][::3] -= 40.0
    width = np.abs(base) * 0.3 + 1.0
    return hist, base, base - width, base + 1.5 * width


@pytest.mark.parametrize("levels", [None, [[], ["store"], ["sku"]]], ids=["nested", "grouped"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_coherent_means_and_bounds(method, levels):
    hier = build_hierarchy(keys_frame(single=True), ["store", "sku"], levels)
    if method in ("top_down", "middle_out") and levels is not None:
        with pytest.raises(ConfigError, match="nested"):
            reconcile(hier, np.zeros((hier.n_nodes, 2)), ReconcileSettings(method))
        return
    hist, base, lo, hi = base_problem(hier)
    s = ReconcileSettings(method, top_down="average_proportions" if method == "top_down" else "forecast_proportions")
    resid = seasonal_naive_residuals(hist, 12)
    b = reconcile_bottom(hier, base, s, residuals=resid, history=hist)
    mean = np.asarray(hier.S @ b)
    assert_coherent(hier, mean)
    rlo, rhi = reconcile_intervals(hier, b, base, lo, hi)
    assert_coherent(hier, rlo)
    assert_coherent(hier, rhi)
    assert np.all(rlo <= mean + 1e-9) and np.all(mean <= rhi + 1e-9)
    if method == "bottom_up":                       # the bottom level is left as it was
        np.testing.assert_allclose(mean[hier.n_aggregate:], base[hier.n_aggregate:])
        np.testing.assert_allclose(rlo[hier.n_aggregate:], lo[hier.n_aggregate:])


@pytest.mark.parametrize("method", METHODS)
def test_non_negative_option_is_never_negative(method):
    hier = build_hierarchy(keys_frame(), ["store", "sku"])
    hist, base, lo, hi = base_problem(hier, negative=True, seed=3)
    s = ReconcileSettings(method, non_negative=True)
    b = reconcile_bottom(hier, base, s, residuals=seasonal_naive_residuals(hist, 12), history=hist)
    mean = np.asarray(hier.S @ b)
    rlo, rhi = reconcile_intervals(hier, b, base, lo, hi, non_negative=True)
    assert (mean >= 0).all() and (rlo >= 0).all() and (rhi >= 0).all()
    assert_coherent(hier, mean)
    assert_coherent(hier, rlo)
    if method in ("bottom_up", "mint_ols"):        # without the option, these base forecasts go negative
        plain = reconcile(hier, base, ReconcileSettings(method), residuals=seasonal_naive_residuals(hist, 12))
        assert (plain < 0).any()


def toy():
    """total = A + B; nodes ordered total, A, B."""
    keys = pd.DataFrame({"unique_id": ["A", "B"], "item": ["A", "B"]})
    return build_hierarchy(keys, ["item"])


def test_mint_by_hand_on_three_series():
    hier = toy()
    assert hier.S.toarray().tolist() == [[1, 1], [1, 0], [0, 1]]
    base = np.array([[10.0], [6.0], [3.0]])
    # OLS: P = (S'S)^-1 S' = 1/3 [[1, 2, -1], [1, -1, 2]]  ->  b = (19/3, 10/3)
    ols = reconcile(hier, base, ReconcileSettings("mint_ols")).ravel()
    np.testing.assert_allclose(ols, [29 / 3, 19 / 3, 10 / 3], rtol=1e-12)
    # WLS structural: W = diag(2, 1, 1); S'W^-1S = [[1.5, .5], [.5, 1.5]], inverse [[.75, -.25], [-.25, .75]];
    # S'W^-1 y = (10/2 + 6, 10/2 + 3) = (11, 8)  ->  b = (6.25, 3.25)
    wls = reconcile(hier, base, ReconcileSettings("mint_wls", wls="struct")).ravel()
    np.testing.assert_allclose(wls, [9.5, 6.25, 3.25], rtol=1e-12)
    # WLS with variances: residuals give W = diag(mean r^2) = diag(4, 1, 9) (+2e-8)
    r = np.array([[2.0, 1.0, 3.0], [-2.0, -1.0, -3.0]] * 5)
    w = np.array([4.0, 1.0, 9.0]) + 2e-8
    # b = (S'W^-1S)^-1 S'W^-1 y by hand: S'W^-1S = [[1/4 + 1, 1/4], [1/4, 1/4 + 1/9]]
    M = np.array([[1 / w[0] + 1 / w[1], 1 / w[0]], [1 / w[0], 1 / w[0] + 1 / w[2]]])
    rhs = np.array([10 / w[0] + 6 / w[1], 10 / w[0] + 3 / w[2]])
    b = np.linalg.solve(M, rhs)
    var = reconcile(hier, base, ReconcileSettings("mint_wls", wls="var"), residuals=r).ravel()
    np.testing.assert_allclose(var, [b.sum(), b[0], b[1]], rtol=1e-9)


def reference_shrink(R):
    """Schäfer & Strimmer (2005), target D: the textbook formulas with explicit loops over pairs."""
    T, n = R.shape
    C = np.cov(R.T)
    sd = np.sqrt(np.diag(C))
    X = (R - R.mean(0)) / sd
    num = den = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            w = X[:, i] * X[:, j]
            r_ij = T / (T - 1) * w.mean()
            num += T / (T - 1) ** 3 * ((w - w.mean()) ** 2).sum()
            den += r_ij ** 2
    lam = min(max(num / den, 0.0), 1.0)
    W = (1 - lam) * C
    W[np.diag_indices(n)] = np.diag(C)
    return W, lam


def test_mint_shrink_by_hand_on_three_series():
    hier = toy()
    rng = np.random.default_rng(7)
    e = rng.normal(size=(24, 2)) * [3.0, 1.0]
    R = np.column_stack([e.sum(1) + rng.normal(0, 0.5, 24), e])       # total's residuals ~ A + B
    W, lam = reference_shrink(R)
    d, V, lam2 = shrunk_covariance(R)
    assert lam2 == pytest.approx(lam, rel=1e-10)
    np.testing.assert_allclose(np.diag(d) + V @ V.T, W, rtol=1e-10, atol=1e-12)
    S = hier.S.toarray()
    base = np.array([[10.0], [6.0], [3.0]])
    Wi = np.linalg.inv(W)
    expected = S @ np.linalg.solve(S.T @ Wi @ S, S.T @ Wi @ base)
    got = reconcile(hier, base, ReconcileSettings("mint_shrink"), residuals=R)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    wls = reconcile(hier, base, ReconcileSettings("mint_wls"), residuals=R)
    assert np.abs(got - wls).max() > 0.01                  # the covariance matters with these (incoherent) errors
    # coherent residuals (the total's = A's + B's, as any linear method's in-sample errors are): the covariance's
    # off-diagonal part cancels out of MinT, and mint_shrink gives WLS with the residual variances
    Rc = np.column_stack([e.sum(1), e])
    Di = np.diag(1 / np.var(Rc, axis=0, ddof=1))
    wls_var = S @ np.linalg.solve(S.T @ Di @ S, S.T @ Di @ base)
    np.testing.assert_allclose(reconcile(hier, base, ReconcileSettings("mint_shrink"), residuals=Rc), wls_var,
                               rtol=1e-7)


def test_top_down_and_middle_out_by_hand():
    keys = keys_frame(stores=2, skus=2)
    hier = build_hierarchy(keys, ["store", "sku"])     # total; st0, st1; 4 bottom
    base = np.array([[100.0], [30.0], [50.0], [10.0], [20.0], [5.0], [15.0]])
    td = reconcile(hier, base, ReconcileSettings("top_down")).ravel()
    # total 100 split 30:50 -> 37.5, 62.5; then 10:20 and 5:15
    np.testing.assert_allclose(td, [100, 37.5, 62.5, 12.5, 25, 62.5 / 4, 62.5 * 3 / 4])
    mo = reconcile(hier, base, ReconcileSettings("middle_out", middle_level="store")).ravel()
    np.testing.assert_allclose(mo, [80, 30, 50, 10, 20, 12.5, 37.5])
    hist = np.asarray(hier.S @ np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 4.0], [4.0, 2.0]]))
    avg = reconcile(hier, base, ReconcileSettings("top_down", top_down="average_proportions"), history=hist).ravel()
    # shares per period: (1,1,2,4)/8 and (2,2,4,2)/10 -> means 0.1625, 0.1625, 0.325, 0.35
    np.testing.assert_allclose(avg[3:], [16.25, 16.25, 32.5, 35.0])


def test_grouped_levels_sum_the_right_series():
    keys = keys_frame(stores=3, skus=2)
    hier = build_hierarchy(keys, ["store", "sku"], [[], ["sku"], ["store"]])
    assert hier.level_names == ["total", "sku", "store", "store,sku"]
    values = np.arange(1.0, 7.0)                       # bottom order: st0/sku0, st0/sku1, st1/sku0 ...
    agg = hier.aggregate(values)
    nodes = hier.nodes.assign(value=agg)
    by = nodes.set_index("unique_id")["value"]
    assert by["total"] == 21
    assert by["sku=sku0"] == 1 + 3 + 5 and by["sku=sku1"] == 2 + 4 + 6
    assert by["store=st1"] == 3 + 4
    assert nodes.loc[nodes["level"] == "sku", "store"].isna().all()
    assert not hier.is_nested()


def test_a_level_with_a_single_child():
    keys = keys_frame(stores=2, skus=3, single=True)    # st2 holds only sku0
    hier = build_hierarchy(keys, ["store", "sku"])
    hist, base, lo, hi = base_problem(hier, seed=5)
    st2 = hier.node_ids.index("store=st2")
    child = hier.node_ids.index("st2 / sku0")
    for method in METHODS:
        s = ReconcileSettings(method, middle_level="store")
        out = reconcile(hier, base, s, residuals=seasonal_naive_residuals(hist, 12), history=hist)
        assert_coherent(hier, out)
        np.testing.assert_allclose(out[st2], out[child], rtol=1e-12)
    # MinT OLS: parent and child forecasts are averaged when the rest is coherent
    base2 = np.asarray(hier.S @ np.ones((hier.n_bottom, 1)))
    base2[st2] += 2.0
    base2[0] += 2.0                                 # the total carries the same +2, so only st2 vs child differs
    out = reconcile(hier, base2, ReconcileSettings("mint_ols"))
    assert out[child, 0] > 1.0 and out[st2, 0] < 3.0


def test_levels_must_name_id_columns_and_need_two_series():
    keys = keys_frame()
    with pytest.raises(ConfigError, match="not id columns"):
        build_hierarchy(keys, ["store", "sku"], [[], ["region"]])
    with pytest.raises(ConfigError, match="two series"):
        build_hierarchy(keys.iloc[:1], ["store", "sku"])
    with pytest.raises(ConfigError, match="id columns"):
        build_hierarchy(keys, [], None)


@pytest.mark.slow
def test_hundred_thousand_bottom_series():
    n_store, n_sku = 500, 200
    keys = pd.DataFrame({"store": np.repeat(np.arange(n_store), n_sku).astype(str),
                         "sku": np.tile(np.arange(n_sku), n_store).astype(str)})
    keys["dept"] = (keys["sku"].astype(int) % 10).astype(str)
    keys.insert(0, "unique_id", keys["store"] + " / " + keys["dept"] + " / " + keys["sku"])
    hier = build_hierarchy(keys, ["store", "dept", "sku"])
    assert hier.n_bottom == 100_000 and hier.n_nodes == 1 + 500 + 5000 + 100_000
    assert hier.S.nnz == 4 * 100_000
    rng = np.random.default_rng(0)
    base = np.asarray(hier.S @ rng.gamma(2, 5, size=(hier.n_bottom, 3))) * rng.normal(1, 0.1, (hier.n_nodes, 3))
    hist = np.asarray(hier.S @ rng.gamma(2, 5, size=(hier.n_bottom, 30)))
    for method in ("mint_wls", "mint_shrink", "top_down"):
        out = reconcile(hier, base, ReconcileSettings(method), residuals=seasonal_naive_residuals(hist, 1))
        assert_coherent(hier, out)
