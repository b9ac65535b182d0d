"""run_forecast: future dates, intervals, auto, future covariates, fallbacks, global models, stopping."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.errors import ConfigError
from forecasting.pipeline import ForecastConfig, run_forecast
from forecasting.progress import Cancelled

from .test_backtest import MeanGlobal, global_registered, make_dataset  # noqa: F401


def test_forecast_dates_and_columns():
    d = make_dataset(n_series=2)
    r = run_forecast(d, ForecastConfig(horizon=6, model="seasonal_naive", engine="serial"))
    assert list(r.forecasts.columns) == ["unique_id", "ds", "model", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(r.forecasts) == 12
    first = r.forecasts.groupby("unique_id")["ds"].min()
    assert (first == pd.Timestamp("2022-01-01")).all()
    # seasonal naive repeats the values one year earlier
    s0 = d.df[d.df.unique_id == "s0"]["y"].to_numpy()
    np.testing.assert_allclose(r.forecasts[r.forecasts.unique_id == "s0"]["forecast"], s0[-12:-6])
    assert r.settings["fallback"].eq("").all()


def test_forecast_weekly_dates_follow_the_frequency():
    d = make_dataset(n_series=1, n=30, freq="W-SUN")
    r = run_forecast(d, ForecastConfig(horizon=3, model="naive", engine="serial"))
    last = d.df["ds"].max()
    assert list(r.forecasts["ds"]) == [last + pd.Timedelta(weeks=k) for k in (1, 2, 3)]


def test_auto_records_its_choice_and_engines_agree():
    d = make_dataset(n_series=2)
    cfg = ForecastConfig(horizon=6, model="auto", model_params={"auto": {"models": "naive,seasonal_naive,drift"}},
                         engine="serial")
    r = run_forecast(d, cfg)
    assert r.settings["settings"].str.contains("chosen=").all() and r.settings["settings"].str.contains("reason=").all()
    cfg.engine, cfg.n_workers = "local", 2
    r2 = run_forecast(d, cfg)
    pd.testing.assert_frame_equal(r.forecasts, r2.forecasts)


def test_future_covariates_from_trailing_rows():
    d = make_dataset(n_series=1, n=60, with_promo=True)
    df = d.df.copy()
    fut = pd.DataFrame({"unique_id": "s0", "ds": pd.date_range("2023-01-01", periods=3, freq="MS"),
                        "y": np.nan, "promo": [1.0, 0.0, 1.0]})
    d2 = d.with_df(validate_long(pd.concat([df, fut])))
    r = run_forecast(d2, ForecastConfig(horizon=3, model="arima", engine="serial"))
    assert "covariates=1" in r.settings["settings"].iloc[0]
    f = r.forecasts["forecast"].to_numpy()
    assert f[0] - f[1] > 15 and f[2] - f[1] > 15      # the promo effect (30) shows in the forecast
    assert r.forecasts["ds"].min() == pd.Timestamp("2023-01-01")
    # without future values the model runs without covariates and says so
    r3 = run_forecast(d, ForecastConfig(horizon=3, model="arima", engine="serial"))
    assert "covariates not used" in r3.settings["notes"].iloc[0]


def test_fallback_recorded_and_empty_series_reported():
    d = make_dataset(n_series=1)
    empty = pd.DataFrame({"unique_id": "void", "ds": pd.date_range("2020-01-01", periods=3, freq="MS"), "y": np.nan})
    df = pd.concat([d.df, empty])
    df["y"] -= 1000                                   # croston refuses negative demand
    d = d.with_df(validate_long(df))
    r = run_forecast(d, ForecastConfig(horizon=4, model="croston", engine="serial"))
    st = r.settings.set_index("unique_id")
    assert "croston failed" in st.loc["s0", "fallback"] and "used seasonal_naive" in st.loc["s0", "fallback"]
    assert st.loc["s0", "model_used"] == "seasonal_naive"
    with pytest.raises(ConfigError, match="ets: setting model: ETS model 'QQQ' is not of the form"):
        run_forecast(d, ForecastConfig(horizon=4, model="ets", model_params={"ets": {"model": "QQQ"}}))
    with pytest.raises(ConfigError, match="ets has no setting 'icc'; its settings: model, ic"):
        run_forecast(d, ForecastConfig(horizon=4, model="ets", model_params={"ets": {"icc": "bic"}}))
    assert "no values" in st.loc["void", "fallback"]
    assert set(r.forecasts["unique_id"]) == {"s0"}


def test_bad_config_and_cancel():
    d = make_dataset(n_series=3)
    with pytest.raises(ConfigError):
        run_forecast(d, ForecastConfig(horizon=0, model="naive"))
    with pytest.raises(ConfigError, match="unknown model"):
        run_forecast(d, ForecastConfig(horizon=2, model="prophet"))

    def stop(ev):
        if ev.done >= 1:
            raise Cancelled()

    r = run_forecast(d, ForecastConfig(horizon=2, model="naive", engine="serial"), progress=stop)
    assert r.info["cancelled"] and r.forecasts["unique_id"].nunique() == 1


def test_global_model_forecast(global_registered):  # noqa: F811
    d = make_dataset(n_series=2)
    r = run_forecast(d, ForecastConfig(horizon=4, model="mean_global", engine="serial"))
    assert len(r.forecasts) == 8 and r.settings["fallback"].eq("").all()
    s0 = d.df[d.df.unique_id == "s0"]["y"].tail(12).mean()
    np.testing.assert_allclose(r.forecasts[r.forecasts.unique_id == "s0"]["forecast"], s0)


def test_transformer_forecast_explains_itself_with_attention():
    pytest.importorskip("torch")
    d = make_dataset(n_series=2)
    tiny = dict(max_epochs=2, hidden_size=8, context_size=4, decoder_hidden=8, emb_dim=2, device="cpu",
                num_threads=1)
    r = run_forecast(d, ForecastConfig(horizon=6, model="transformer", season_length=12, engine="serial",
                                       model_params={"transformer": tiny}, intervals="model"))
    att = r.attention
    assert list(att.columns) == ["unique_id", "model", "lag", "weight"] and set(att["model"]) == {"transformer"}
    assert set(att["unique_id"]) == {"s0", "s1"}
    lookback = max(2 * 6, 2 * 12, 8)          # the default input_size for h = 6, season 12
    assert sorted(att.loc[att.unique_id == "s0", "lag"]) == list(range(1, lookback + 1))
    np.testing.assert_allclose(att.groupby("unique_id")["weight"].sum(), 1.0, rtol=1e-4)
    assert (att["weight"] >= 0).all()
    assert r.info["device"] == "cpu"          # the network trained on the CPU: nothing else to name
    # models without attention give none
    assert run_forecast(d, ForecastConfig(horizon=6, model="naive", engine="serial")).attention is None


def test_run_device_names_where_networks_trained():
    from forecasting.pipeline.plan import run_device

    assert run_device([{"rows": []}]) == "cpu"
    assert run_device([{"devices": {"lstm": ["cpu", "cpu"]}}]) == "cpu"
    gpu = "cuda:0 (NVIDIA H200)"
    got = run_device([{"devices": {"ets": []}}, {"devices": {"lstm": [gpu, gpu, None]}},
                      {"devices": {"gru": ["cpu"]}}])
    assert got == f"cpu; lstm: {gpu}"


def test_network_settings_are_checked_before_any_work():
    pytest.importorskip("torch")
    from forecasting.pipeline import BacktestConfig, run_backtest

    d = make_dataset(n_series=2)
    seen = []
    with pytest.raises(ConfigError, match="gru: learning_rate must be a finite positive number"):
        run_forecast(d, ForecastConfig(horizon=4, model="gru", model_params={"gru": {"learning_rate": 0}}),
                     progress=seen.append)
    with pytest.raises(ConfigError, match="lstm: unknown holiday_country 'Narnia'"):
        run_backtest(d, BacktestConfig(horizon=4, models=["lstm"], model_params={"lstm": {"holiday_country": "Narnia"}}),
                     progress=seen.append)
    assert seen == []                         # refused before the first progress event
