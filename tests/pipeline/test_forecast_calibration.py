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


def test_points_only_calibration_keeps_the_means():
    ds = _panel()
    cfg = ForecastConfig(horizon=6, model=["naive", "ets"], engine="serial")
    origins = calibration_origins(6, 3, ds.n_series)
    full = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins)
    points = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins, points_only=True)
    assert "lo_80" not in points.columns
    pd.testing.assert_frame_equal(points, full[list(points.columns)], check_exact=True)


def test_calibration_keeps_the_ets_form_chosen_at_its_earliest_origin():
    import pytest

    from forecasting.errors import ConfigError
    from forecasting.pipeline.forecast import calibration_choices, run_forecast
    from forecasting.pipeline.plan import plan_run

    ds = _panel()
    cfg = ForecastConfig(horizon=6, model=["naive", "ets"], engine="serial")
    assert cfg.calibration_search == "first"                      # the default
    origins = calibration_origins(6, 3, ds.n_series)               # [(6, 3, 1), (4, 1, 2), (2, 1, 2)]
    hh, ww, step = origins[0]
    # what a backtest with one window ending at the earliest calibration origin chooses, series by series
    one = run_backtest(ds, history_backtest_config(ForecastConfig(horizon=6, model="ets"), 12, [80],
                                                   hh + step * (ww - 1), 1, step))
    earliest = one.forecasts.groupby("unique_id")["cutoff"].first()
    chosen = {r.unique_id: r.settings.split(";")[0].removeprefix("form=")
              for r in one.metrics.itertuples() if r.settings}
    assert set(chosen) == {"s0", "s1"}                            # s2 (9 values) is too short for that window
    choices = calibration_choices(ds, cfg, plan_run(ds, cfg.models, 12, cfg.levels), origins)
    assert choices == {u: {"ets": {"model": f}} for u, f in chosen.items()}   # naive has no choice to keep

    first = run_forecast(ds, cfg)
    every = run_forecast(ds, ForecastConfig(horizon=6, model=["naive", "ets"], engine="serial",
                                            calibration_search="every"))
    assert any("calibration_search=first" in n for n in first.info["notes"])
    assert first.info["config"]["calibration_search"] == "first"
    # the forecast itself searches every form on the full history either way: the same point forecasts
    pd.testing.assert_frame_equal(first.forecasts[["unique_id", "ds", "model", "forecast"]],
                                  every.forecasts[["unique_id", "ds", "model", "forecast"]], check_exact=True)
    kept = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins, series_params=choices, points_only=True)
    pd.testing.assert_frame_equal(first.calibration, kept, check_exact=True)
    searched = history_backtest_forecasts(ds, cfg, 12, [80, 95], origins, points_only=True)
    pd.testing.assert_frame_equal(every.calibration, searched, check_exact=True)
    a, b = first.calibration, every.calibration
    # at the earliest origin the kept form is the form the search picks there, fit the same way: the same forecasts;
    # naive, and s2 (no choice made), are searched / fit as before
    at_first = (a["model"] == "naive") | (a["unique_id"] == "s2") | (a["cutoff"].values == earliest.reindex(a["unique_id"]).values)
    assert at_first.sum() < len(a)
    pd.testing.assert_frame_equal(a[at_first], b[at_first], check_exact=True)
    with pytest.raises(ConfigError, match="calibration_search"):
        ForecastConfig(horizon=6, calibration_search="sometimes").validate()
