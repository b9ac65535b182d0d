"""Rolling-origin backtests: cutoffs, fallbacks, non-negativity, NaNs, covariates, global models, stopping."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.errors import ConfigError
from forecasting.models import registry
from forecasting.models.base import Capabilities, GlobalModel
from forecasting.models.fitting import cutoff_ends
from forecasting.pipeline import BacktestConfig, run_backtest
from forecasting.progress import Cancelled


def make_dataset(n_series=3, n=48, freq="MS", seed=0, level=100.0, with_promo=False):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        ds = pd.date_range("2018-01-01", periods=n, freq=freq)
        t = np.arange(n)
        y = level + i * 10 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
        f = pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y})
        if with_promo:
            f["promo"] = rng.integers(0, 2, n).astype(float)
            f["y"] += 30 * f["promo"]
        frames.append(f)
    df = validate_long(pd.concat(frames))
    return Dataset(df, freq=freq, covariates=["promo"] if with_promo else [])


def test_cutoffs_cover_the_end():
    assert cutoff_ends(48, 6, 3, 6) == [30, 36, 42]
    assert cutoff_ends(48, 6, 2, 3) == [39, 42]


def test_backtest_shapes_and_metrics():
    d = make_dataset()
    cfg = BacktestConfig(horizon=6, models=["naive", "seasonal_naive"], windows=2, engine="serial")
    r = run_backtest(d, cfg)
    assert len(r.forecasts) == 3 * 2 * 2 * 6
    assert list(r.forecasts.columns) == ["unique_id", "model", "cutoff", "ds", "actual", "forecast",
                                         "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(r.metrics) == 6 and {"mase", "coverage_80", "settings", "fallback"} <= set(r.metrics.columns)
    # the last cutoff is horizon periods before the end of each series
    last = r.forecasts.groupby("unique_id")["cutoff"].max()
    assert (last == pd.Timestamp("2021-06-01")).all()
    # seasonal data: seasonal naive beats naive in MASE
    s = r.summary.set_index("model")
    assert s.loc["seasonal_naive", "mase"] < s.loc["naive", "mase"]
    # actuals are the real values
    one = r.forecasts[(r.forecasts.unique_id == "s0")].iloc[0]
    assert one["actual"] == pytest.approx(d.df.set_index(["unique_id", "ds"]).loc[("s0", one["ds"]), "y"])


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_metrics_pool_every_window_of_a_series(engine):
    """Each series × model is scored where it is forecast (a worker, on the local engine), over the points
    of all its windows together, as the forecasts table shows them."""
    d = make_dataset(n_series=3)
    cfg = BacktestConfig(horizon=6, models=["naive", "seasonal_naive"], windows=3, engine=engine, n_workers=2)
    r = run_backtest(d, cfg)
    assert len(r.metrics) == 6 and (r.metrics["n_windows"] == 3).all() and (r.metrics["n_points"] == 18).all()
    for (uid, model), g in r.forecasts.groupby(["unique_id", "model"]):
        row = r.metrics[(r.metrics.unique_id == uid) & (r.metrics.model == model)].iloc[0]
        err = g["forecast"] - g["actual"]
        assert row["mae"] == pytest.approx(err.abs().mean())
        assert row["bias"] == pytest.approx(err.mean())
        inside = (g["actual"] >= g["lo_80"]) & (g["actual"] <= g["hi_80"])
        assert row["coverage_80"] == pytest.approx(inside.mean())


def test_sliding_window_keeps_training_length():
    d = make_dataset(n_series=1)
    seen = []

    class Spy(registry.get_model_class("naive")):
        def fit(self, y, X=None):
            seen.append(len(y))
            return super().fit(y, X)

    import forecasting.models.baselines as b
    orig = b.Naive
    b.Naive = Spy
    try:
        run_backtest(d, BacktestConfig(horizon=6, models=["naive"], windows=3, window_type="sliding", engine="serial"))
    finally:
        b.Naive = orig
    assert seen == [30, 30, 30]


def test_local_engine_matches_serial():
    d = make_dataset(n_series=4)
    a = run_backtest(d, BacktestConfig(horizon=4, models=["drift"], windows=2, engine="serial"))
    b = run_backtest(d, BacktestConfig(horizon=4, models=["drift"], windows=2, engine="local", n_workers=2))
    pd.testing.assert_frame_equal(a.forecasts, b.forecasts)


def test_fallback_and_too_short_series_are_recorded_not_dropped():
    d = make_dataset(n_series=2)
    short = pd.DataFrame({"unique_id": "tiny", "ds": pd.date_range("2021-01-01", periods=5, freq="MS"),
                          "y": [1.0, 2, 3, 4, 5]})
    df = pd.concat([d.df, short])
    df.loc[df["unique_id"] == "s0", "y"] -= 1000      # croston refuses negative demand on s0
    d = d.with_df(validate_long(df))
    cfg = BacktestConfig(horizon=6, models=["croston"], windows=2, engine="serial", non_negative=False)
    r = run_backtest(d, cfg)
    m = r.metrics.set_index("unique_id")
    assert "croston failed (ValueError: intermittent-demand models need non-negative demand)" in m.loc["s0", "fallback"]
    assert "used seasonal_naive" in m.loc["s0", "fallback"]
    assert m.loc["s1", "fallback"] == ""
    # a setting the model refuses stops the run before any work, naming the model and what it accepts
    with pytest.raises(ConfigError, match="moving_average: setting window must be a whole number of at least 1"):
        run_backtest(d, BacktestConfig(horizon=6, models=["moving_average"], model_params={"moving_average": {"window": -1}}))
    assert "tiny" in m.index and np.isnan(m.loc["tiny", "mae"])
    assert "skipped" in m.loc["tiny", "notes"]


def test_non_negative_clipping_and_nan_history():
    d = make_dataset(n_series=1, level=0.5)
    df = d.df.copy()
    df["y"] = np.abs(df["y"] - 35)
    df.loc[10, "y"] = np.nan
    d = d.with_df(df)
    r = run_backtest(d, BacktestConfig(horizon=6, models=["drift", "naive"], windows=2, engine="serial"))
    assert (r.forecasts[["forecast", "lo_80", "lo_95"]] >= 0).all().all()
    assert (r.forecasts["lo_95"] == 0).any()
    assert "interpolated" in r.metrics["notes"].iloc[0]
    off = run_backtest(d, BacktestConfig(horizon=6, models=["naive"], windows=2, engine="serial", non_negative=False))
    assert (off.forecasts["lo_95"] < 0).any()


def test_bad_config():
    d = make_dataset(n_series=1)
    with pytest.raises(ConfigError, match="unknown model"):
        run_backtest(d, BacktestConfig(horizon=6, models=["nope"]))
    with pytest.raises(ConfigError, match="horizon"):
        run_backtest(d, BacktestConfig(horizon=0, models=["naive"]))
    with pytest.raises(ConfigError, match="levels"):
        run_backtest(d, BacktestConfig(horizon=3, models=["naive"], levels=(80, 120)))


def test_cancel_returns_partial_results():
    d = make_dataset(n_series=4)
    events = []

    def cb(ev):
        events.append(ev)
        if ev.done >= 2:
            raise Cancelled()

    r = run_backtest(d, BacktestConfig(horizon=3, models=["naive"], windows=1, engine="serial"), progress=cb)
    assert r.info["cancelled"] is True
    assert r.metrics["unique_id"].tolist() == ["s0", "s1"]
    assert events[0].total == 4


class MeanGlobal(GlobalModel):
    """A tiny global model for the tests: each series' last-12 mean plus a pooled promo effect."""

    name = "mean_global"
    capabilities = Capabilities(global_model=True, covariates=True)
    fits: list = []

    def fit(self, df, freq):
        MeanGlobal.fits.append(len(df))
        self.level_ = df.groupby("unique_id")["y"].apply(lambda s: s.tail(12).mean())
        return self

    def predict(self, h, futr_df=None, levels=(80, 95)):
        out = futr_df[["unique_id", "ds"]].copy()
        out["mean"] = out["unique_id"].map(self.level_)
        if "fail" in set(out["unique_id"]):
            out = out[out.unique_id != "fail"]
        for l in levels:
            out[f"lo-{l}"] = out["mean"] - l / 10
            out[f"hi-{l}"] = out["mean"] + l / 10
        return out


@pytest.fixture
def global_registered(monkeypatch):
    spec = registry.ModelSpec("mean_global", __name__, "MeanGlobal", MeanGlobal.capabilities, "test")
    monkeypatch.setitem(registry.MODELS, "mean_global", spec)
    MeanGlobal.fits.clear()


def test_global_model_backtest(global_registered):
    d = make_dataset(n_series=3, with_promo=True)
    r = run_backtest(d, BacktestConfig(horizon=6, models=["mean_global", "naive"], windows=2, engine="serial",
                                       intervals="model"))
    assert len(MeanGlobal.fits) == 2, "one fit per cutoff on all series"
    assert MeanGlobal.fits == [3 * 36, 3 * 42]
    g = r.forecasts[r.forecasts.model == "mean_global"]
    assert len(g) == 3 * 2 * 6
    assert (g["hi_95"] - g["forecast"]).round(6).eq(9.5).all()
    assert r.metrics[r.metrics.model == "mean_global"]["fallback"].eq("").all()
    # conformal intervals (the backtest's default) apply to global models too: the second window is
    # calibrated on the first window's errors, the first keeps the model's own
    MeanGlobal.fits.clear()
    c = run_backtest(d, BacktestConfig(horizon=6, models=["mean_global", "naive"], windows=2, engine="serial"))
    gc = c.forecasts[c.forecasts.model == "mean_global"]
    first = gc["cutoff"] == gc["cutoff"].min()
    assert (gc.loc[first, "hi_95"] - gc.loc[first, "forecast"]).round(6).eq(9.5).all()
    assert not (gc.loc[~first, "hi_95"] - gc.loc[~first, "forecast"]).round(6).eq(9.5).all()


def test_global_model_missing_series_falls_back(global_registered):
    d = make_dataset(n_series=2)
    df = d.df.copy()
    df.loc[df.unique_id == "s1", "unique_id"] = "fail"
    d = d.with_df(validate_long(df))
    r = run_backtest(d, BacktestConfig(horizon=6, models=["mean_global"], windows=1, engine="serial"))
    m = r.metrics.set_index("unique_id")
    assert "used seasonal_naive" in m.loc["fail", "fallback"] and m.loc["s0", "fallback"] == ""


@pytest.mark.slow
def test_cancel_on_the_process_pool_keeps_finished_partitions():
    d = make_dataset(n_series=16, n=60)

    def cb(ev):
        if ev.done >= 4:
            raise Cancelled()

    cfg = BacktestConfig(horizon=6, models=["ets"], windows=1, engine="local", n_workers=1)
    r = run_backtest(d, cfg, progress=cb)
    assert r.info["cancelled"] is True
    kept = r.metrics["unique_id"].tolist()
    assert 4 <= len(kept) < 16
    assert kept == [f"s{i}" for i in sorted(int(k[1:]) for k in kept)]   # whole series, in series order
    assert r.metrics["mase"].notna().all()


def test_settings_text_leaves_out_training_history():
    from forecasting.models.fitting import settings_text

    text = settings_text({"device": "cpu", "epochs": 3, "history": [{"epoch": 1, "train_loss": 0.5}]})
    assert text == "device=cpu; epochs=3"


def test_default_season_length_comes_from_the_detector():
    from forecasting.explore.seasonality import dataset_season_length

    seasonal = make_dataset(n_series=2, n=72)                 # planted period 12 on monthly data
    assert dataset_season_length(seasonal)[0] == 12
    rng = np.random.default_rng(3)
    flat = pd.DataFrame({"unique_id": "s0", "ds": pd.date_range("2015-01-01", periods=72, freq="MS"),
                         "y": 100 + rng.normal(0, 1, 72)})   # monthly, no season: the calendar's 12 is not confirmed
    m, why = dataset_season_length(Dataset(validate_long(flat), freq="MS"))
    assert m == 1 and "detected" in why
    r = run_backtest(seasonal, BacktestConfig(horizon=3, models=["seasonal_naive"], windows=1, engine="serial"))
    assert r.info["config"]["season_length"] == 12
    assert any("season length 12 (detected" in n for n in r.info["notes"])
