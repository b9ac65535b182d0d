"""Metrics against values computed by hand."""
import numpy as np
import pytest

from forecasting import metrics as M

Y = np.array([2.0, 4.0, 0.0, 8.0])
F = np.array([3.0, 2.0, 1.0, 8.0])   # errors f - y: 1, -2, 1, 0


def test_point_metrics():
    assert M.mae(Y, F) == pytest.approx(1.0)
    assert M.rmse(Y, F) == pytest.approx(np.sqrt(6 / 4))
    assert M.bias(Y, F) == pytest.approx(0.0)
    assert M.wape(Y, F) == pytest.approx(4 / 14)
    # MAPE skips the zero actual: (1/2 + 2/4 + 0/8) / 3
    assert M.mape(Y, F) == pytest.approx(100 / 3)
    # sMAPE: 200 * mean(1/5, 2/6, 1/1, 0/16)
    assert M.smape(Y, F) == pytest.approx(200 * (0.2 + 1 / 3 + 1 + 0) / 4)
    # R2: SST around mean 3.5: 2.25 + .25 + 12.25 + 20.25 = 35
    assert M.r2(Y, F) == pytest.approx(1 - 6 / 35)


def test_mape_all_zero_is_nan_and_smape_zero_over_zero():
    assert np.isnan(M.mape([0, 0], [1, 2]))
    assert M.smape([0, 0], [0, 0]) == 0.0


def test_scaled_metrics():
    train = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    sc, sc2 = M.naive_scale(train, 1)           # diffs 2, -1, 4, -2
    assert sc == pytest.approx(9 / 4) and sc2 == pytest.approx(25 / 4)
    sc_s, _ = M.naive_scale(train, 2)           # y[t]-y[t-2]: 1, 3, 2
    assert sc_s == pytest.approx(2.0)
    assert M.mase(Y, F, sc) == pytest.approx(1.0 / (9 / 4))
    assert M.rmsse(Y, F, sc2) == pytest.approx(np.sqrt((6 / 4) / (25 / 4)))
    # season longer than history -> naive scale
    assert M.naive_scale(train, 12)[0] == pytest.approx(sc)


def test_interval_metrics():
    y = np.array([1.0, 5.0, 10.0])
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([2.0, 4.0, 12.0])
    assert M.coverage(y, lo, hi) == pytest.approx(2 / 3)
    # Winkler at 80%: widths 2, 4, 12; the miss (5 > 4) adds 2/0.2 * 1 = 10
    assert M.winkler(y, lo, hi, 80) == pytest.approx((2 + 14 + 12) / 3)
    # pinball at tau=0.9 of q=hi: d = y - q = -1, 1, -2 -> .1, .9, .2
    assert M.pinball(y, hi, 0.9) == pytest.approx((0.1 + 0.9 + 0.2) / 3)


def test_nan_actuals_are_skipped():
    assert M.mae([1, np.nan, 3], [2, 100, 3]) == pytest.approx(0.5)


def test_all_metrics_keys():
    out = M.all_metrics(Y, F, scale=1.0, scale_sq=1.0, bands={80: (F - 1, F + 1), 95: (F - 2, F + 2)})
    for k in M.metric_columns((80, 95)):
        assert k in out
    assert out["coverage_95"] == pytest.approx(1.0)
    assert out["coverage_80"] == pytest.approx(0.75)
