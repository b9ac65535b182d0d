"""LSTM, GRU and Transformer through the GlobalModel protocol: shapes, seeds, learning, persistence."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError, DataError
from forecasting.models.registry import create_model, get_model_class

from .helpers import TINY, deep_networks, split, weekly_panel

NETS = deep_networks()


@pytest.mark.parametrize("name", NETS)
def test_output_frame_shape_order_and_dates(name):
    train, test = split(weekly_panel(n_series=3, periods=80, promo=True), 7)
    m = create_model(name, season_length=7, horizon=7, **TINY).fit(train, "D")
    out = m.predict(7, test.drop(columns="y"), levels=(80, 95))
    assert list(out.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(out) == 21 and out.notna().all().all()
    pd.testing.assert_frame_equal(out[["unique_id", "ds"]], test[["unique_id", "ds"]], check_dtype=False)
    assert (out["lo-95"] <= out["lo-80"] + 1e-6).all() and (out["lo-80"] <= out["mean"]).all()
    assert (out["mean"] <= out["hi-80"]).all() and (out["hi-80"] <= out["hi-95"] + 1e-6).all()
    fs = m.fitted_settings()
    assert fs["device"] == "cpu" and fs["epochs_run"] == 2 and len(fs["history"]) == 2
    assert {"epoch", "train_loss", "val_loss"} <= set(fs["history"][0]) and fs["covariates"] == ["promo"]
    assert m.predict(3, test.drop(columns="y"))["ds"].nunique() == 3      # a shorter horizon is a prefix


def test_same_seed_same_forecast_other_seed_differs():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    run = lambda seed: create_model("gru", season_length=7, horizon=7, **{**TINY, "random_seed": seed}).fit(train, "D").predict(7)  # noqa: E731
    a, b, c = run(1), run(1), run(2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["mean"], c["mean"])


@pytest.mark.parametrize("name", NETS)
def test_planted_weekly_pattern_beats_naive(name):
    df = weekly_panel(n_series=4, periods=200)
    train, test = split(df, 14)
    m = create_model(name, season_length=7, horizon=14, **{**TINY, "max_epochs": 12, "hidden_size": 16,
                                                            "batch_size": 32}).fit(train, "D")
    f = m.predict(14).merge(test, on=["unique_id", "ds"])
    last = train.groupby("unique_id")["y"].last()
    naive_mae = (f["y"] - f["unique_id"].map(last)).abs().mean()
    mae = (f["y"] - f["mean"]).abs().mean()
    assert mae < 0.5 * naive_mae, (mae, naive_mae)
    cover = ((f["y"] >= f["lo-95"]) & (f["y"] <= f["hi-95"])).mean()
    assert cover >= 0.8


def test_save_load_round_trip(tmp_path):
    train, test = split(weekly_panel(n_series=2, periods=70, promo=True), 7)
    m = create_model("transformer", season_length=7, horizon=7, **TINY).fit(train, "D")
    path = tmp_path / "model.pt"
    m.save(path)
    cls = get_model_class("transformer")
    back = cls.load(path)
    fut = test.drop(columns="y")
    pd.testing.assert_frame_equal(m.predict(7, fut, (80, 95)), back.predict(7, fut, (80, 95)))
    assert back.fitted_settings()["epochs_run"] == 2
    with pytest.raises(DataError, match="holds a transformer model"):
        get_model_class("lstm").load(path)
    # a size valid only with its own head count (6 = 3 heads of 2; the default 32 is no multiple of 3)
    odd = create_model("transformer", season_length=7, horizon=7, **{**TINY, "hidden_size": 6, "n_heads": 3})
    odd.fit(train, "D").save(tmp_path / "odd.pt")
    pd.testing.assert_frame_equal(odd.predict(7, fut), cls.load(tmp_path / "odd.pt").predict(7, fut))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="cannot read a saved model"):
        cls.load(tmp_path / "junk.pt")


def test_horizon_handling():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    m = create_model("lstm", season_length=7, horizon=7, **TINY).fit(train, "D")
    with pytest.raises(ConfigError, match="trained for horizon 7"):
        m.predict(10)
    lazy = create_model("lstm", season_length=7, **TINY).fit(train, "D")    # no horizon: trains at predict
    assert len(lazy.predict(10)) == 20 and lazy.fitted_settings()["horizon"] == 10


def test_covariates_needed_in_future_and_clear_setting_errors():
    train, test = split(weekly_panel(n_series=2, periods=70, promo=True), 7)
    m = create_model("gru", season_length=7, horizon=7, **TINY).fit(train, "D")
    with pytest.raises(DataError, match="trained with covariates"):
        m.predict(7)
    with pytest.raises(DataError, match="missing for 1 forecast period"):
        m.predict(7, test.drop(columns="y").iloc[1:])
    with pytest.raises(ConfigError, match="gru has no setting 'max_epoch'"):
        create_model("gru", max_epoch=3)
    with pytest.raises(ConfigError, match="learning_rate must be a finite positive"):
        create_model("gru", horizon=7, **{**TINY, "learning_rate": float("inf")}).fit(train, "D")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        import torch
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        create_model("gru", horizon=7, **{**TINY, "device": "cuda"}).fit(train, "D")


def test_local_fitting_one_network_per_series():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    m = create_model("gru", season_length=7, horizon=7, local=True, **TINY).fit(train, "D")
    out = m.predict(7)
    assert len(out) == 14 and set(m.local_) == {"s0", "s1"}
    assert m.fitted_settings()["local"] is True


def test_local_networks_report_how_they_trained_when_the_horizon_came_later():
    # no horizon at fit (as in a backtest): each network trains at the first forecast, and the settings
    # read afterwards say how (they were empty: read at fit time, before any network had trained)
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    m = create_model("gru", season_length=7, local=True, **TINY).fit(train, "D")
    m.predict(7)
    fs = m.fitted_settings()
    assert fs["local"] is True and fs["series"] == 2 and fs["device"] == "cpu" and fs["horizon"] == 7
    assert fs["epochs_run"] == {"s0": 2, "s1": 2}
    assert all(v is not None and v > 0 for v in fs["best_val_loss"].values())


def test_transformer_attention_weights():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    m = create_model("transformer", season_length=7, horizon=7, **TINY).fit(train, "D")
    att = m.attention()
    assert len(att) == 2 * 14 and set(att["lag"]) == set(range(1, 15))
    np.testing.assert_allclose(att.groupby("unique_id")["weight"].sum(), 1.0, rtol=1e-4)
    m.ATTENTION_CHUNK = 1                   # read a series at a time: the same weights
    pd.testing.assert_frame_equal(m.attention(), att, rtol=1e-5)


def test_untrained_levels_are_calibrated_from_validation_residuals():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    out = create_model("gru", season_length=7, horizon=7, **TINY).fit(train, "D").predict(7, levels=(50, 90))
    assert list(out.columns[2:]) == ["mean", "lo-50", "hi-50", "lo-90", "hi-90"]
    assert (out["lo-90"] <= out["lo-50"]).all() and (out["hi-50"] <= out["hi-90"]).all()
    assert (out["hi-90"] - out["lo-90"]).min() > 0


def test_backtest_engine_trains_the_network_once_per_cutoff():
    from forecasting.data.contract import Dataset, validate_long
    from forecasting.pipeline import BacktestConfig, run_backtest

    df = validate_long(weekly_panel(n_series=3, periods=90, promo=True))
    ds = Dataset(df=df, freq="D", covariates=["promo"])
    params = {k: v for k, v in TINY.items() if k != "random_seed"}
    cfg = BacktestConfig(horizon=7, models=["lstm"], windows=2, engine="serial", seed=3,
                         model_params={"lstm": params})
    res = run_backtest(ds, cfg)
    fc = res.forecasts
    assert len(fc) == 3 * 2 * 7 and fc["forecast"].notna().all()
    assert (res.metrics["fallback"] == "").all(), res.metrics["fallback"].tolist()
    assert "device=cpu" in res.metrics["settings"].iloc[0] and "seed=3" in res.metrics["settings"].iloc[0]


@pytest.mark.parametrize("name,bad,msg", [
    ("gru", {"holiday_country": "Atlantis"}, "unknown holiday_country"),
    ("lstm", {"patch_len": "many"}, "patch_len must be a whole number"),
    ("transformer", {"hidden_size": 30, "n_heads": 4}, "multiple of n_heads"),
    ("gru", {"dropout": 1.5}, "dropout must be in"),
    ("lstm", {"max_epochs": 0}, "max_epochs must be positive"),
])
def test_bad_values_are_refused_when_the_model_is_created(name, bad, msg):
    with pytest.raises(ConfigError, match=msg):
        create_model(name, season_length=7, **bad)
    create_model(name, season_length=7, **{"holiday_country": "de"} if name == "gru" else {})   # valid: no error
