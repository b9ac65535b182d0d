"""Windowing, panel preparation and feature shapes (no training)."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError, DataError
from forecasting.models.deep.data import prepare
from forecasting.models.deep.features import calendar_features
from forecasting.models.deep.windows import gather, last_windows, ranges_to_index, window_starts

from .helpers import weekly_panel


def test_ranges_to_index_concatenates_ranges_and_skips_empty_ones():
    got = ranges_to_index(np.array([0, 10, 5, 20]), np.array([2, 9, 6, 20]))
    assert got.tolist() == [0, 1, 2, 5, 6, 20]


def _prep(df, L=14, H=7, val_size=None, covariates=True):
    return prepare(df, "D", lookback=L, horizon=H, covariates=covariates, scaler="standard",
                   holiday_country=None, val_size=val_size)


def test_panel_layout_windows_and_time_ordered_split():
    df = weekly_panel(n_series=2, periods=60)
    df = df[~((df.unique_id == "s1") & (df.ds < "2023-01-12"))]      # s1 is 10 periods shorter
    prep = _prep(df, L=14, H=7, val_size=7)
    p = prep.panel
    assert p.lengths.tolist() == [60, 50]
    assert p.offsets.tolist() == [0, 74, 138]
    assert p.feats.shape == (138, 4)                                # dow + doy sin/cos, no covariates
    assert p.mask.sum() == 110 and p.mask[:14].sum() == 0           # padding is masked
    train, val = window_starts(p, 7, prep.val_sizes, prep.min_obs)
    assert len(val) == 2                                            # one validation window per series
    idx = gather(np.concatenate([train, val]), 21)
    # every window's target is observed; no training target reaches into the validation periods
    assert p.mask[idx[:, 14:]].min() == 1
    first = p.first_obs()
    for s in train:
        i = np.searchsorted(p.offsets, s, side="right") - 1
        assert s + 14 + 7 <= first[i] + p.lengths[i] - prep.val_sizes[i]
        assert p.mask[s:s + 14].sum() >= prep.min_obs[i]
    for s in val:
        i = np.searchsorted(p.offsets, s, side="right") - 1
        assert s + 14 == first[i] + p.lengths[i] - 7
    # the scaled history inverts to the data
    y0 = p.y[first[0]:first[0] + 60] * prep.scale[0, 1] + prep.scale[0, 0]
    np.testing.assert_allclose(y0, df[df.unique_id == "s0"].y.to_numpy(), rtol=1e-5)
    assert (last_windows(p) + 14 == p.offsets[1:]).all()


def test_missing_values_are_masked_not_filled():
    df = weekly_panel(n_series=1, periods=40)
    df.loc[5, "y"] = np.nan
    p = _prep(df).panel
    assert p.mask[14 + 5] == 0 and p.y[14 + 5] == 0 and p.mask.sum() == 39


def test_covariates_standardised_and_checked():
    df = weekly_panel(n_series=2, periods=50, promo=True)
    prep = _prep(df)
    assert prep.cov_names == ["promo"] and prep.panel.n_feats == 5
    assert _prep(df, covariates=False).cov_names == []
    bad = df.copy()
    bad.loc[3, "promo"] = np.nan
    with pytest.raises(DataError, match="covariate 'promo'.*missing"):
        _prep(bad)
    with pytest.raises(ConfigError, match="not in the data"):
        _prep(df, covariates=["price"])


def test_series_too_short_is_a_clear_error():
    with pytest.raises(DataError, match="shorter than"):
        _prep(weekly_panel(n_series=1, periods=6), H=7)


def test_calendar_and_holidays():
    d = pd.date_range("2024-12-23", periods=14, freq="D")
    x, names = calendar_features(d, "D", "US")
    assert names[-2:] == ["holiday", "holiday_eve"]
    hol = dict(zip(d.strftime("%m-%d"), x[:, -2]))
    assert hol["12-25"] == 1 and hol["01-01"] == 1 and hol["12-26"] == 0
    assert dict(zip(d.strftime("%m-%d"), x[:, -1]))["12-24"] == 1
    m, mnames = calendar_features(pd.date_range("2024-01-01", periods=12, freq="MS"), "MS", "GB")
    assert mnames == ["month_sin", "month_cos", "holidays_in_period"] and m[:, -1].max() > 0
    with pytest.raises(ConfigError, match="holiday_country 'XX'"):
        calendar_features(d, "D", "XX")
