"""Recurrent encoders reading the lookback in patches of P periods (``patch_len``)."""
import numpy as np
import pandas as pd
import pytest
import torch

from forecasting.errors import ConfigError
from forecasting.models.deep.network import patch_periods, recurrent_patch
from forecasting.models.registry import create_model, get_model_class

from .helpers import TINY, as_saved_before, split, weekly_panel


def test_patches_put_consecutive_periods_side_by_side_and_pad_the_front():
    x = torch.arange(2 * 7 * 3, dtype=torch.float32).view(2, 7, 3)       # B=2, L=7, D=3
    p = patch_periods(x, 3)                                               # 7 periods -> 3 patches of 3
    assert p.shape == (2, 3, 9)
    assert torch.equal(p[:, 0, :6], torch.zeros(2, 6))                   # two padded periods in front
    assert torch.equal(p[:, 0, 6:], x[:, 0])
    assert torch.equal(p[:, -1], x[:, 4:7].reshape(2, 9))                # the last patch: the last 3 periods
    assert patch_periods(x, 1) is x


def test_auto_patch_gives_about_twelve_recurrent_steps():
    assert recurrent_patch("auto", 56) == 4          # daily, 8 weeks of lookback: 14 steps of 4 days
    assert recurrent_patch("auto", 48) == 4         # monthly, 4 years: 12 steps of 4 months
    assert recurrent_patch("auto", 23) == 1         # short lookback: one period per step
    assert recurrent_patch("AUTO", 730) == 60
    assert recurrent_patch(3, 48) == 3 and recurrent_patch("100", 48) == 48
    for bad in (0, -2, "abc", None):
        with pytest.raises(ConfigError, match="patch_len"):
            recurrent_patch(bad, 48)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_patched_network_trains_forecasts_and_records_its_patch(name):
    train, test = split(weekly_panel(n_series=3, periods=120, promo=True), 7)
    fut = test.drop(columns="y")
    auto = create_model(name, season_length=7, horizon=7, input_size=28, **TINY).fit(train, "D")
    one = create_model(name, season_length=7, horizon=7, input_size=28, patch_len=1, **TINY).fit(train, "D")
    assert auto.fitted_settings()["patch_len"] == 2 and one.fitted_settings()["patch_len"] == 1
    assert auto.net_.encoder.rnn.input_size == 2 * one.net_.encoder.rnn.input_size
    a, b = auto.predict(7, fut), one.predict(7, fut)
    assert a["mean"].notna().all() and not np.allclose(a["mean"], b["mean"])
    with pytest.raises(ConfigError, match="patch_len"):
        create_model(name, season_length=7, horizon=7, patch_len="x", **TINY).fit(train, "D")


def test_patched_model_saves_and_loads_and_old_files_read_one_period_per_step(tmp_path):
    train, test = split(weekly_panel(n_series=2, periods=90), 7)
    cls = get_model_class("lstm")
    patched = create_model("lstm", season_length=7, horizon=7, input_size=28, **TINY).fit(train, "D")
    patched.save(tmp_path / "p.pt")
    pd.testing.assert_frame_equal(cls.load(tmp_path / "p.pt").predict(7), patched.predict(7))

    # a file written before patch_len existed has no such key: it must load as one period per step
    plain = create_model("lstm", season_length=7, horizon=7, input_size=28, patch_len=1, **TINY).fit(train, "D")
    plain.save(tmp_path / "plain.pt")
    as_saved_before(tmp_path / "plain.pt", tmp_path / "old.pt", "patch_len")
    back = cls.load(tmp_path / "old.pt")
    assert back.net_.encoder.patch_len == 1
    pd.testing.assert_frame_equal(back.predict(7), plain.predict(7))
