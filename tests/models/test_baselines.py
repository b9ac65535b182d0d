import numpy as np
import pytest
from scipy.stats import norm

from forecasting.models.baselines import Drift, MovingAverage, Naive, SeasonalNaive
from forecasting.models.intermittent import TSB, Croston


def test_naive_hand_computed():
    y = np.array([1.0, 3.0, 2.0, 4.0])
    out = Naive().fit(y).predict(2, levels=(95,))
    sigma = np.sqrt((4 + 1 + 4) / 3)   # diffs 2, -1, 2
    z = norm.ppf(0.975)
    np.testing.assert_allclose(out["mean"], [4, 4])
    np.testing.assert_allclose(out["hi-95"], 4 + z * sigma * np.sqrt([1, 2]))


def test_seasonal_naive_repeats_last_season_and_widens_per_season():
    y = np.array([1, 2, 3, 4, 2, 3, 4, 5.0])
    out = SeasonalNaive(season_length=4).fit(y).predict(6, levels=(80,))
    np.testing.assert_allclose(out["mean"], [2, 3, 4, 5, 2, 3])
    w = out["hi-80"] - out["mean"]
    # residuals y[t] - y[t-4] are all 1 -> sigma 1; the band doubles in variance after one season
    np.testing.assert_allclose(w[:4], norm.ppf(0.9))
    np.testing.assert_allclose(w[4:], norm.ppf(0.9) * np.sqrt(2))

def test_seasonal_naive_too_short_raises():
    with pytest.raises(ValueError, match="too short"):
        SeasonalNaive(season_length=12).fit(np.arange(5.0))


def test_drift_line():
    y = np.array([10.0, 12, 14, 16])
    out = Drift().fit(y).predict(3)
    np.testing.assert_allclose(out["mean"], [18, 20, 22])


def test_moving_average():
    y = np.array([1.0, 2, 3, 4, 5, 6])
    m = MovingAverage(window=3).fit(y)
    np.testing.assert_allclose(m.predict(2)["mean"], [5, 5])
    np.testing.assert_allclose(m.in_sample_residuals(), [4 - 2, 5 - 3, 6 - 4])


def test_croston_sba_hand_computed():
    y = np.array([0, 0, 4, 0, 2, 0, 0, 0, 6.0])
    m = Croston(alpha=0.5).fit(y)
    # sizes 4,2,6 -> z: 4, 3, 4.5 ; gaps 3,2,4 -> p: 3, 2.5, 3.25 ; SBA factor 0.75
    assert m.predict(1)["mean"][0] == pytest.approx(0.75 * 4.5 / 3.25)


def test_tsb_hand_computed():
    y = np.array([0, 2, 0, 4.0])
    m = TSB(alpha_d=0.5, alpha_p=0.5).fit(y)
    # p0 = 0.5, z0 = 2; t0: p=.25 ; t1: p=.625, z=2 ; t2: p=.3125 ; t3: p=.65625, z=3
    assert m.predict(1)["mean"][0] == pytest.approx(0.65625 * 3)


def test_intermittent_rejects_negative():
    with pytest.raises(ValueError):
        Croston().fit(np.array([1.0, -1, 0]))
