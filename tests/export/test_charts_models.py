"""Figures carry the data they claim to show, and user strings reach plotly escaped."""
import json

import numpy as np
import pandas as pd
import pytest

from forecasting.export import charts_models as cm
from tests.export.conftest import EVIL


def test_levels_in_widest_first(forecast_frame):
    assert cm.levels_in(forecast_frame) == [95, 80]
    assert cm.levels_in(forecast_frame.drop(columns=["hi_95"])) == [80]


def test_backtest_figure_has_one_line_per_model_and_window(dataset, backtest_frame):
    uid = dataset.series_ids[0]
    hist = dataset.series(uid)
    bt = backtest_frame[backtest_frame["unique_id"] == uid]
    fig = cm.backtest_figure(hist, bt, title=cm.esc(uid))
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 2 * 2                      # 2 models x 2 windows
    sn = bt[bt["model"] == "seasonal_naive"].sort_values(["cutoff", "ds"])
    drawn = np.concatenate([t.y for t in lines if t.name == "seasonal_naive"])
    np.testing.assert_allclose(drawn, sn["forecast"].to_numpy())
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 4 and bands[0].name.endswith("80%")
    assert len(fig.layout.shapes) == 2                # one dotted line per cutoff


def test_error_distribution_per_model(backtest_frame):
    fig = cm.error_distribution_figure(backtest_frame, scaled=False)
    assert [t.name for t in fig.data] == ["seasonal_naive", "drift"]
    drift = backtest_frame[backtest_frame["model"] == "drift"]
    np.testing.assert_allclose(np.sort(fig.data[1].y), np.sort((drift["forecast"] - drift["actual"]).to_numpy()))


def test_ljung_box_detects_autocorrelation():
    white = np.random.default_rng(0).normal(size=300)
    rng = np.random.default_rng(1)
    ar = np.zeros(300)
    for t in range(1, 300):
        ar[t] = 0.8 * ar[t - 1] + rng.normal()
    lb_white = cm.ljung_box_table(white, season_length=12)
    lb_ar = cm.ljung_box_table(ar, season_length=12)
    assert list(lb_white["lag"]) == [1, 5, 10, 12, 24]
    assert (lb_white["p_value"] > 0.01).all()
    assert (lb_ar["p_value"] < 1e-6).all() and lb_ar["verdict"].str.startswith("autocorrelated").all()
    assert cm.ljung_box_table(np.array([1.0, 2.0])).empty


def test_residual_acf_and_histogram():
    rng = np.random.default_rng(2)
    ar = np.zeros(200)
    for t in range(1, 200):
        ar[t] = 0.9 * ar[t - 1] + rng.normal()
    fig = cm.residual_acf_figure(ar, nlags=10)
    assert len(fig.data[0].y) == 10 and fig.data[0].y[0] > 0.7
    hist = cm.residual_hist_figure(ar)
    assert len(hist.data[0].x) == 200 and hist.data[1].name == "normal"


def test_series_residuals_from_a_registered_model():
    y = 50 + np.sin(np.arange(60) * 2 * np.pi / 12) * 10
    resid = cm.series_residuals(y, "seasonal_naive", season_length=12)
    if resid is None:
        pytest.skip("seasonal_naive exposes no in-sample residuals")
    assert np.allclose(resid, 0, atol=1e-9)


def test_training_curves(tmp_path):
    curves = pd.DataFrame({"model": ["lstm"] * 3 + ["gru"] * 3, "epoch": [1, 2, 3] * 2,
                           "train_loss": [3, 2, 1, 4, 3, 2.5], "val_loss": [3.5, 2.5, 1.5, np.nan, np.nan, np.nan]})
    fig = cm.training_curves_figure(curves)
    assert [t.name for t in fig.data] == ["lstm train", "lstm validation", "gru train"]


def test_fan_chart_bands_nested_and_connected(dataset, forecast_frame):
    uid = dataset.series_ids[0]
    fc = forecast_frame[forecast_frame["unique_id"] == uid]
    fig = cm.fan_chart(dataset.series(uid), fc, title="x")
    names = [t.name for t in fig.data]
    assert names[0] == "history" and "95% interval" in names and "80% interval" in names
    mean = fig.data[-1]
    assert mean.y[0] == dataset.series(uid)["y"].iloc[-1]      # starts at the last observation
    np.testing.assert_allclose(mean.y[1:], fc["forecast"])


def test_aggregate_total_and_by_column(dataset, forecast_frame):
    h, f = cm.aggregate(dataset.df, forecast_frame)
    assert set(h["group"]) == {"total"} and len(f) == 6
    np.testing.assert_allclose(f["forecast"].to_numpy(),
                               forecast_frame.groupby("ds")["forecast"].sum().to_numpy())
    np.testing.assert_allclose(f["hi_95"] - f["forecast"], 4 * 10)    # four series' half-widths summed
    h2, f2 = cm.aggregate(dataset.df, forecast_frame, dataset.id_map, by="sku")
    assert set(f2["group"]) == {"A", "=B"} and len(f2) == 12
    assert h2.groupby("ds")["y"].sum().sum() == pytest.approx(dataset.df["y"].sum())
    with pytest.raises(KeyError):
        cm.aggregate(dataset.df, forecast_frame, dataset.id_map, by="nope")


def test_user_strings_are_escaped_in_figures(dataset, backtest_frame):
    bt = backtest_frame.replace({"model": {"drift": EVIL}})
    fig = cm.error_distribution_figure(bt)
    payload = json.dumps(fig.to_plotly_json(), default=str)
    assert "<script>" not in payload and "&lt;script&gt;" in payload


def test_attention_bars_sit_on_the_periods_they_weigh():
    hist = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=30, freq="MS"), "y": np.arange(30.0)})
    w = np.linspace(1, 2, 36)
    att = pd.DataFrame({"lag": np.arange(36, 0, -1), "weight": w / w.sum()})   # lookback longer than the series
    fig = cm.attention_figure(hist, att, title="Attention over the lookback: s1")
    bars = fig.data[0]
    x = pd.to_datetime(np.asarray(bars.x))
    assert len(x) == 30                          # the 6 padded periods before the first date have no bar
    assert x[-1] == hist["ds"].iloc[-1] and x[0] == hist["ds"].iloc[0]
    lag1 = att.loc[att["lag"] == 1, "weight"].item()
    assert np.asarray(bars.y)[-1] == pytest.approx(lag1)          # lag 1 = the last observed period
    assert list(np.asarray(bars.customdata)[-3:]) == [3, 2, 1]


def test_training_runs_name_windows_and_per_series_networks():
    ev = lambda model, epoch, **kw: {"message": f"{model} epoch {epoch}/2", "model": model, "epoch": epoch,  # noqa: E731
                                     "train_loss": 1.0 / epoch, "val_loss": None, **kw}
    # a global lstm over two backtest windows, then one gru per series (a, b) in one window
    events = [ev("lstm", 1), ev("lstm", 2), ev("lstm", 1), ev("lstm", 2),
              ev("gru", 1, series="a"), ev("gru", 2, series="a"), ev("gru", 1, series="b"), ev("gru", 2, series="b")]
    runs = cm.training_runs(events)
    assert list(runs["run"]) == ["window 1"] * 2 + ["window 2"] * 2 + ["window 1 · a"] * 2 + ["window 1 · b"] * 2
    fig = cm.training_curves_figure(runs)
    assert [t.name for t in fig.data] == ["lstm train · window 1", "lstm train · window 2",
                                          "gru train · window 1 · a", "gru train · window 1 · b"]
    # events saved before they named their model: the message's first word
    old = [{k: v for k, v in e.items() if k != "model"} for e in events[:2]]
    assert list(cm.training_runs(old)["model"]) == ["lstm", "lstm"]
    assert cm.training_runs([]).empty
