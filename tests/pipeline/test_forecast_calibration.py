"""The forecast's calibration backtests (conformal intervals) run through a lean path that plans once and
skips the backtest's scoring: its forecasts must be the frames ``run_backtest`` gives, value for value."""
import numpy as np
import pandas as pd

from forecasting.data.contract import Dataset, validate_long
from forecasting.pipeline.backtest import run_backtest
from forecasting.pipeline.forecast import (ForecastConfig, calibration_origins, history_backtest_config,
                                           history_backtest_forecasts)


def _panel() -> Dataset:
    rng = np.random.default_rng(3)
    frames = []
    for i, n in enumerate([60, 40, 9]):            # the last too short for the full-length windows
        y = 50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 12) + rng.normal(0, 2, n).cumsum()
        if i == 1:
            y[15] = np.nan                          # an interior gap
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                                    "y": y}))
    return Dataset(validate_long(pd.concat(frames)), "MS", "month", "y", [],
                   pd.DataFrame({"unique_id": ["s0", "s1", "s2"]}), [])


def test_lean_calibration_backtests_equal_run_backtest():
    ds = _panel()
    cfg = ForecastConfig(horizon=6, model=["naive", "seasonal_naive", "theta"], engine="serial")
    origins = calibration_origins(6, 3, ds.n_series)
    assert len(origins) == 3
    levels = [80, 95]
    ref = pd.concat([run_backtest(ds, history_backtest_config(cfg, 12, levels, hh, ww, st)).forecasts
                     for hh, ww, st in origins], ignore_index=True)
    lean = history_backtest_forecasts(ds, cfg, 12, levels, origins)
    assert len(ref) > 0 and set(ref["unique_id"]) == {"s0", "s1", "s2"}
    pd.testing.assert_frame_equal(lean, ref, check_exact=True)


def test_points_only_calibration_keeps_the_means_and_ets_refits_its_form():
    from forecasting.pipeline.forecast import calibration_refits, run_forecast

    ds = _panel()
    cfg = ForecastConfig(horizon=6, model=["naive", "ets"], engine="serial")
    origins = calibration_origins(6, 3, ds.n_series)
    full = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins)
    points = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins, points_only=True)
    assert "lo_80" not in points.columns
    pd.testing.assert_frame_equal(points, full[list(points.columns)], check_exact=True)
    # with calibration_refit, the forecast's calibration refits each series' chosen ETS form: parameters only
    assert not cfg.calibration_refit                         # off by default (results/conformal_refit.md)
    cfg.calibration_refit = True
    res = run_forecast(ds, cfg)
    refits = calibration_refits(res.settings)
    ets = res.settings[res.settings["model"] == "ets"].set_index("unique_id")
    assert set(refits) == set(ets.index[ets["model_used"] == "ets"]) and refits
    for uid, per_model in refits.items():
        assert list(per_model) == ["ets"]                   # naive has no choice to keep
        assert f"form={per_model['ets']['model']};" in ets.loc[uid, "settings"]
    fixed = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins, series_params=refits, points_only=True)
    cal = res.calibration
    pd.testing.assert_frame_equal(cal, fixed, check_exact=True)
    same = cal["model"] == "naive"
    pd.testing.assert_frame_equal(cal[same], points[same], check_exact=True)
