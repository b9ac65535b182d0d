"""The shipped pretrained network (``pretrained``, zero-shot) and its fine-tuned variant (``finetuned``)."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.models.base import GlobalModel
from forecasting.models.registry import MODELS, create_model, get_model_class

WEIGHTS = None


def _weights_dir():
    from forecasting.models.pretrained.model import WEIGHTS_DIR

    return WEIGHTS_DIR


def monthly_sample(root) -> pd.DataFrame:
    raw = pd.read_csv(root / "sample_data" / "monthly_sales.csv")
    return pd.DataFrame({"unique_id": "shop", "ds": pd.to_datetime(raw["month"]), "y": raw["sales"].astype(float)})


def panel(n_series=6, periods=96, seed=0, freq="MS", season=12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_series):
        t = np.arange(periods)
        y = 100 + 20 * s + 0.4 * t + 15 * np.sin(2 * np.pi * t / season + s) + rng.normal(0, 3, periods)
        frames.append(pd.DataFrame({"unique_id": f"s{s}", "ds": pd.date_range("2015-01-01", periods=periods, freq=freq), "y": y}))
    return pd.concat(frames, ignore_index=True)


def split(df, h):
    cut = df.groupby("unique_id")["ds"].transform(lambda s: s.iloc[-h])
    return df[df["ds"] < cut].reset_index(drop=True), df[df["ds"] >= cut].reset_index(drop=True)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_weights_load_offline_in_a_safe_format_and_small(monkeypatch):
    import socket

    from safetensors.torch import load_file

    def no_network(*a, **k):
        raise AssertionError("the pretrained model tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    w = _weights_dir()
    assert (w / "model.safetensors").stat().st_size <= 30 * 2**20
    tensors = load_file(str(w / "model.safetensors"))
    assert tensors and all(np.isfinite(t.numpy()).all() for t in tensors.values())
    from forecasting.models.pretrained.model import load_network

    net = load_network(w, "cpu")
    assert sum(p.numel() for p in net.parameters()) == sum(t.numel() for t in tensors.values())


def test_zero_shot_on_bundled_series_is_finite_non_negative_and_reproducible(root):
    from forecasting.pipeline.across_series import tidy_rows as global_forecast

    df = monthly_sample(root)
    train, test = split(df, 12)
    m = create_model("pretrained", season_length=12, device="cpu", num_threads=1).fit(train, "MS")
    a = m.predict(12, levels=(80, 95))
    b = create_model("pretrained", season_length=12, device="cpu", num_threads=1).fit(train, "MS").predict(12)
    pd.testing.assert_frame_equal(a, b)                  # no randomness at inference
    assert list(a.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert np.isfinite(a[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]].to_numpy()).all()
    pd.testing.assert_series_equal(a["ds"], test["ds"], check_names=False)
    fc = global_forecast(a, 12, (80, 95), train["y"].to_numpy(), non_negative=True)
    assert all((fc[k] >= 0).all() for k in fc)          # the history is non-negative: so is the forecast
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()
    # in the range of the data, not garbage: within 3x the history's range
    lo, hi = train["y"].min(), train["y"].max()
    assert (a["mean"] > lo - (hi - lo)).all() and (a["mean"] < hi + (hi - lo)).all()
    fs = m.fitted_settings()
    assert fs["trained_on_your_data"] is False and fs["feedback_rounds"] == 0


def test_protocol_and_registry():
    for name in ("pretrained", "finetuned"):
        cls = get_model_class(name)
        assert issubclass(cls, GlobalModel) and cls.name == name
        assert cls.capabilities == MODELS[name].capabilities and cls.capabilities.global_model
        m = cls(season_length=12, **cls.test_params())
        train, _ = split(panel(3, 60), 6)
        assert m.fit(train, "MS") is m
        out = m.predict(6, levels=(50, 80, 95))
        assert len(out) == 18 and out.notna().all().all()
        assert (out["lo-95"] <= out["lo-80"] + 1e-6).all() and (out["lo-80"] <= out["lo-50"] + 1e-6).all()
        assert (out["lo-50"] <= out["mean"] + 1e-6).all() and (out["hi-50"] <= out["hi-95"] + 1e-6).all()
        assert isinstance(m.fitted_settings(), dict) and m.fitted_settings()["device"] == "cpu"
    with pytest.raises(ConfigError, match="pretrained has no setting 'hidden_size'"):
        create_model("pretrained", hidden_size=3)
    with pytest.raises(ConfigError, match="trainable must be one of"):
        create_model("finetuned", trainable="some")
    with pytest.raises(ConfigError, match="learning_rate must be a positive"):
        create_model("finetuned", learning_rate=-1)


def test_long_horizon_feeds_the_median_back():
    train, _ = split(panel(2, 120), 6)
    m = create_model("pretrained", season_length=12, device="cpu", num_threads=1).fit(train, "MS")
    out = m.predict(150)
    assert len(out) == 300 and np.isfinite(out["mean"]).all()
    assert m.fitted_settings()["feedback_rounds"] == 2 and "feeding" in m.fitted_settings()["note"]
    short = m.predict(64)
    np.testing.assert_allclose(out.groupby("unique_id")["mean"].head(64).to_numpy(), short["mean"].to_numpy(), rtol=1e-6)


def test_very_short_series_and_context_longer_than_512():
    rng = np.random.default_rng(3)
    df = pd.concat([pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2000", periods=9, freq="YS"),
                                  "y": 10 + np.arange(9.0)}),
                    pd.DataFrame({"unique_id": "long", "ds": pd.date_range("2000", periods=800, freq="D"),
                                  "y": 50 + rng.normal(0, 1, 800)})])
    m = create_model("pretrained", device="cpu", num_threads=1).fit(df, "D")
    out = m.predict(6)
    assert np.isfinite(out["mean"]).all() and len(out) == 12


def test_finetuning_lowers_training_loss_and_never_touches_shipped_weights(tmp_path):
    w = _weights_dir() / "model.safetensors"
    before = sha(w)
    train, test = split(panel(8, 120, seed=2), 12)
    m = create_model("finetuned", season_length=12, device="cpu", num_threads=1, steps=30, eval_every=10,
                     patience=5, train_batch_size=32, train_context=64, learning_rate=5e-4, random_seed=1)
    m.fit(train, "MS")
    out = m.predict(12)
    fs = m.fitted_settings()
    hist = fs["history"]
    assert fs["steps"] >= 10 and fs["trained_on_your_data"] is True
    assert hist[-1]["train_loss"] < hist[1]["train_loss"], hist
    assert fs["best_val_loss"] <= hist[0]["val_loss"]
    assert np.isfinite(out["mean"]).all()
    assert sha(w) == before
    # the zero-shot model in the same process is unchanged by fine-tuning (cached network not trained)
    z1 = create_model("pretrained", device="cpu", num_threads=1).fit(train, "MS").predict(12)
    from forecasting.models.pretrained import model as pm

    pm._NET_CACHE.clear()
    z2 = create_model("pretrained", device="cpu", num_threads=1).fit(train, "MS").predict(12)
    pd.testing.assert_frame_equal(z1, z2)
    # saved with the run, loaded back: same forecasts; the shipped folder is refused
    m.save(tmp_path / "ft")
    back = get_model_class("finetuned").load(tmp_path / "ft", device="cpu", num_threads=1).fit(train, "MS")
    np.testing.assert_allclose(back.predict(12)["mean"], out["mean"], rtol=1e-5)
    with pytest.raises(Exception, match="shipped"):
        m.save(_weights_dir())
    assert sha(w) == before


def test_finetuned_same_seed_same_forecast():
    train, _ = split(panel(4, 80, seed=5), 6)
    kw = dict(device="cpu", num_threads=1, steps=6, eval_every=3, train_batch_size=16, train_context=32)
    a = create_model("finetuned", random_seed=4, **kw).fit(train, "MS").predict(6)
    b = create_model("finetuned", random_seed=4, **kw).fit(train, "MS").predict(6)
    pd.testing.assert_frame_equal(a, b)


def test_ensemble_accepts_pretrained_as_member():
    from forecasting.models.fitting import fit_predict

    y = panel(1, 72)["y"].to_numpy()
    res = fit_predict("ensemble", y, 6, season_length=12, params={"models": "ets,theta,pretrained"})
    assert res.model_used == "ensemble" and not res.fallback, res.fallback
    assert "pretrained" in res.settings["members"] and "fallback" not in res.settings["members"]
    direct = fit_predict("pretrained", y, 6, season_length=12)
    assert direct.model_used == "pretrained" and np.isfinite(direct.forecast["mean"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_backtest_and_forecast_identical_on_every_engine(engine):
    from forecasting.data.contract import Dataset, validate_long
    from forecasting.pipeline import BacktestConfig, run_backtest
    from forecasting.pipeline import ForecastConfig, run_forecast

    ds = Dataset(validate_long(panel(5, 60, freq="D", season=7)), freq="D")
    models = ["pretrained", "ensemble"]
    params = {"ensemble": {"models": "theta,pretrained"}, "pretrained": {"device": "cpu"}}
    runs = {e: run_backtest(ds, BacktestConfig(horizon=7, models=models, windows=2, engine=e, n_workers=2,
                                               model_params=params)) for e in ("serial", engine)}
    pd.testing.assert_frame_equal(runs[engine].forecasts, runs["serial"].forecasts, check_exact=True)
    pd.testing.assert_frame_equal(runs[engine].metrics, runs["serial"].metrics, check_exact=True)
    assert (runs["serial"].metrics["fallback"] == "").all()
    fcs = {e: run_forecast(ds, ForecastConfig(horizon=10, model=["pretrained"], engine=e, n_workers=2,
                                                  intervals="model"))
           for e in ("serial", engine)}
    pd.testing.assert_frame_equal(fcs[engine].forecasts, fcs["serial"].forecasts, check_exact=True)
    assert fcs["serial"].forecasts["forecast"].notna().all()


def test_progress_says_zero_shot_for_pretrained_and_training_for_finetuned():
    """The progress line of a zero-shot run does not claim to train; a fine-tuning run says it trains."""
    from forecasting.data.contract import Dataset, validate_long
    from forecasting.pipeline import ForecastConfig, run_forecast

    ds = Dataset(validate_long(panel(3, 60, freq="D", season=7)), freq="D")
    for name, params, said in [("pretrained", {"device": "cpu", "num_threads": 1}, "zero-shot"),
                               ("finetuned", {"device": "cpu", "num_threads": 1, "steps": 2, "eval_every": 1},
                                "training finetuned")]:
        events = []
        run_forecast(ds, ForecastConfig(horizon=7, model=[name], model_params={name: params}, intervals="model"),
                     events.append)
        texts = [e.message for e in events]
        assert any(said in t for t in texts), texts
        if name == "pretrained":
            assert not any("training pretrained" in t for t in texts), texts


def test_seasonal_indices_come_out_and_go_back_in_phase():
    from forecasting.models.pretrained.model import adjust, season_of

    idx = np.array([0.6, 0.7, 0.9, 1.0, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.8, 1.3])
    for n in (60, 67):                                    # whole seasons and a part season: phase kept
        t = np.arange(n)
        y = (100 + 2 * t) * np.resize(idx / idx.mean(), n)
        sz = season_of(y, 12)
        assert sz is not None and sz[1]                   # positive data: multiplicative
        flat = adjust(y, sz)
        assert np.abs(np.diff(flat, 2)).max() < 0.1 * np.abs(np.diff(y, 2)).max()   # the season is gone
        nxt = (100 + 2 * np.arange(n, n + 12)) * np.resize(np.roll(idx / idx.mean(), -(n % 12)), 12)
        np.testing.assert_allclose(np.resize(sz[0], 12), nxt / (100 + 2 * np.arange(n, n + 12)), rtol=0.05)
    rng = np.random.default_rng(0)
    assert season_of(np.cumsum(rng.normal(size=80)), 12) is None              # a random walk has none
    assert season_of(np.resize(idx, 20), 12) is None                          # under two seasons: not tested


def test_deseasonalize_auto_forecasts_a_growing_season_better_than_off():
    rng = np.random.default_rng(5)
    frames = []
    for s in range(4):
        t = np.arange(84)
        peak = np.where(t % 12 == 11, 2.2, 1.0) * np.where(t % 12 == 6, 1.5, 1.0)   # Decembers, a summer peak
        y = (50 + 10 * s + 1.5 * t) * peak * rng.lognormal(0, 0.03, t.size)
        frames.append(pd.DataFrame({"unique_id": f"s{s}", "ds": pd.date_range("2015-01-01", periods=84, freq="MS"), "y": y}))
    train, test = split(pd.concat(frames, ignore_index=True), 12)
    err = {}
    for mode in ("auto", "off"):
        m = create_model("pretrained", season_length=12, device="cpu", num_threads=1, deseasonalize=mode).fit(train, "MS")
        out = m.predict(12)
        assert np.isfinite(out[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]]).all().all()
        assert (out["lo-95"] <= out["lo-80"]).all() and (out["lo-80"] <= out["mean"]).all() and (out["mean"] <= out["hi-80"]).all()
        err[mode] = float(np.abs(out["mean"].to_numpy() - test["y"].to_numpy()).mean())
        seen = m.fitted_settings()["deseasonalized"]
        assert seen == ({"multiplicative": 4, "additive": 0, "none": 0} if mode == "auto"
                        else {"multiplicative": 0, "additive": 0, "none": 4})
    assert err["auto"] < 0.7 * err["off"], err
    with pytest.raises(ConfigError, match="deseasonalize"):
        create_model("pretrained", deseasonalize="sometimes")


def _reference_quantiles(model, series: list[np.ndarray], h: int) -> np.ndarray:
    """The straightforward computation: one series at a time through the network's training ``forward``
    (full horizon, attention mask always on, every token through every block), the season taken out and put
    back as in ``season_of`` / ``adjust`` / ``ahead``, the median fed back past the network's horizon."""
    import torch

    from forecasting.models.pretrained.model import adjust, ahead, season_of

    net = model.net_
    H, C = net.cfg.horizon, min(model.cfg["context_length"], net.cfg.max_context)
    out = []
    for y in series:
        y = np.asarray(y, dtype=float)
        sz = season_of(y, model.season_length)
        ctx = adjust(y, sz).astype(np.float32)[-C:]
        parts = []
        while sum(len(p) for p in parts) < h:
            with torch.no_grad():
                q = net(torch.from_numpy(np.nan_to_num(ctx))[None], torch.from_numpy(np.isfinite(ctx).astype(np.float32))[None])[0].numpy()
            parts.append(q)
            ctx = np.concatenate([ctx, q[:, q.shape[1] // 2]])[-C:]
        q = np.concatenate(parts)[:h]
        if sz:
            idx = ahead(sz, h)[:, None]
            q = q * idx if sz[1] else q + idx
        out.append(q)
    return np.stack(out)


@pytest.mark.parametrize("h", [7, 70])
def test_batched_threaded_inference_equals_the_one_by_one_reference(h):
    """The inference path (sorted batches, several batches at once on threads, no attention mask where no
    patch is padding, the last block only on the forecast tokens it needs) gives the reference's quantiles
    up to float rounding: short and padded, seasonal, longer than the context, with gaps."""
    rng = np.random.default_rng(11)
    t = np.arange(150)
    series = [10 + np.arange(9.0),                                             # 2 patches, one part padding
              50 + np.cumsum(rng.normal(0, 1, 40)),                            # 5 patches
              (80 + 0.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 1, 150),   # multiplicative season
              20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 150),         # zero crossings: additive season
              100 + np.cumsum(rng.normal(0, 2, 700)),                          # longer than the 512 context
              np.where(rng.random(120) < 0.1, np.nan, 30 + rng.normal(0, 3, 120)),   # missing values
              np.full(64, 5.0)]                                                # flat, whole patches
    fast = create_model("pretrained", season_length=12, device="cpu", num_threads=2, batch_size=2)
    fast.net_ = fast._network()
    got = fast.quantiles_for(series, h)
    # the long random walk passes the ACF test at 12 too (a trend does): two multiplicative seasons
    assert fast.fitted_["deseasonalized"] == {"multiplicative": 2, "additive": 1, "none": 4}
    ref = _reference_quantiles(fast, series, h)
    assert got.shape == ref.shape == (len(series), h, len(fast.net_.cfg.quantiles))
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    # one batch on one thread gives the same numbers as small batches on two
    one = create_model("pretrained", season_length=12, device="cpu", num_threads=1, batch_size=1000)
    one.net_ = one._network()
    whole = one.quantiles_for(series, h)
    for g, r in zip(got, whole):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


def test_network_predict_equals_forward_on_the_steps_asked():
    import torch

    from forecasting.models.pretrained.model import load_network

    net = load_network()
    rng = np.random.default_rng(2)
    y = torch.from_numpy((100 + np.cumsum(rng.normal(0, 1, (6, 200)), axis=1)).astype(np.float32))
    m = torch.ones_like(y)
    m[:2, :50] = 0                                        # two series start later: padding patches masked
    with torch.no_grad():
        ref = net(y, m)
    for steps in (1, 7, 8, 9, 64):
        got = net.predict(y, m, steps)
        assert got.shape == (6, steps, ref.shape[2])
        np.testing.assert_allclose(got.numpy(), ref[:, :steps].numpy(), rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    np.testing.assert_allclose(net.predict(y[2:], m[2:]).numpy(), ref[2:].numpy(), rtol=1e-5, atol=1e-3)


def test_bf16_precision_is_opt_in_and_close_to_fp32():
    train, _ = split(panel(6, 120, seed=8), 12)
    kw = dict(season_length=12, device="cpu", num_threads=1)
    fp32 = create_model("pretrained", **kw).fit(train, "MS")
    a = fp32.predict(12)
    assert fp32.fitted_settings()["precision"] == "fp32"           # the default keeps the trained precision
    bf = create_model("pretrained", precision="BF16", **kw).fit(train, "MS")
    b = bf.predict(12)
    assert bf.fitted_settings()["precision"] == "bf16"
    width = (a["hi-95"] - a["lo-95"]).to_numpy()
    for col in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
        d = np.abs(a[col].to_numpy() - b[col].to_numpy())
        assert (d <= 0.05 * width).all(), (col, float((d / width).max()))
    assert not np.array_equal(a["mean"].to_numpy(), b["mean"].to_numpy())   # it did run in bf16
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16"):
        create_model("pretrained", precision="fp16")
