"""Conformal intervals: the split-conformal quantiles, and coverage on simulated data where a model's own
intervals are wrong (every model gets them: they are computed from its backtest errors)."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.pipeline.backtest import BacktestConfig, run_backtest
from forecasting.pipeline.forecast import ForecastConfig, run_forecast
from forecasting.models.conformal import conformal_bounds, scaled_quantiles


def test_split_conformal_quantile_is_the_finite_sample_rank():
    errs = [np.array([float(i), 10.0 * i]) for i in range(1, 20)]     # 19 windows, 2 steps
    q = scaled_quantiles(errs, (80, 95), min_errors=19)                # enough per step: no borrowing
    assert q[80][0] == 16.0 and q[95][0] == 19.0                        # ceil(20 * 0.8) = 16th, ceil(19) = 19th
    assert q[95][1] == 190.0 and q[80][1] == 160.0
    b = conformal_bounds(np.array([100.0, 5.0]), q, 2.0, (80, 95), non_negative=True)
    assert b["lo-80"][0] == 68.0 and b["hi-95"][0] == 138.0
    assert b["lo-95"][1] == 0.0 and b["lo-80"][1] == 0.0                  # clipped at zero, still nested
    assert (b["lo-95"] <= b["lo-80"]).all() and (b["hi-80"] <= b["hi-95"]).all()
    # no calibration for a step: the model's own bounds are kept
    fb = {"lo-80": np.array([1.0, 2.0]), "hi-80": np.array([3.0, 4.0]), "lo-95": np.array([0.5, 1.0]),
          "hi-95": np.array([4.0, 5.0])}
    b = conformal_bounds(np.array([2.0, 3.0]), {80: np.array([1.0]), 95: np.array([2.0])}, 1.0, (80, 95), fallback=fb)
    assert b["lo-80"][1] == 2.0 and b["hi-95"][1] == 5.0 and b["hi-80"][0] == 3.0


def test_steps_with_few_errors_borrow_from_their_neighbours():
    # 12 windows x 12 steps, errors |N(0, k)| growing with the step: each step's own quantile is one of 12
    # values (80%: the 11th, too wide; 95%: the largest, too narrow); pooled over steps, scaled by each
    # step's mean error, coverage of fresh errors is near nominal at both levels
    rng = np.random.default_rng(1)
    sd = np.sqrt(np.arange(1, 13))
    cover = {"borrow": {80: [], 95: []}, "per step": {80: [], 95: []}}
    for _ in range(200):
        errs = [np.abs(rng.normal(0, sd)) for _ in range(12)]
        test = np.abs(rng.normal(0, sd, (20, 12)))
        for name, min_errors in (("borrow", 100), ("per step", 1)):
            q = scaled_quantiles(errs, (80, 95), min_errors=min_errors)
            for lev in (80, 95):
                cover[name][lev].append((test <= q[lev]).mean())
    got = {name: {lev: float(np.mean(v)) for lev, v in c.items()} for name, c in cover.items()}
    assert abs(got["borrow"][80] - 0.80) < 0.015 and abs(got["borrow"][95] - 0.95) < 0.015
    assert got["per step"][80] > 0.83 and got["per step"][95] < 0.93     # the rule before
    # the width still grows with the step, and a large pool keeps each step's own quantile
    q = scaled_quantiles([np.abs(rng.normal(0, sd)) for _ in range(12)], (80,))[80]
    assert q[-1] > 2 * q[0]
    big = [np.abs(rng.normal(0, sd)) for _ in range(150)]
    np.testing.assert_array_equal(scaled_quantiles(big, (80,))[80], scaled_quantiles(big, (80,), min_errors=1)[80])


def _aged_windows(rng, n_series, sd, older):
    """Windows as a forecast's calibration makes them (h = 12, origins 4 periods apart: the most recent
    reaches steps 1-4, the next 1-8, the oldest 1-12), errors |N(0, sd_k)| times ``older[age]``."""
    errs, ages = [], []
    for _ in range(n_series):
        for age, steps in ((2, 12), (1, 8), (0, 4)):
            errs.append(np.abs(rng.normal(0, sd[:steps])) * older[age])
            ages.append(age)
    return errs, ages


def test_older_origins_errors_are_brought_to_the_most_recent_level():
    # the future errs like the most recent origin; older origins erred 1.3x and 1.6x more (a shorter history):
    # pooled as they are, the intervals over-cover; brought to the most recent level, near nominal. Where
    # every origin is alike, the adjustment stays near nominal too (it only ever shrinks: no inflation)
    rng = np.random.default_rng(5)
    sd = np.sqrt(np.arange(1, 13))
    for older, before_80 in (((1.0, 1.3, 1.6), 0.86), ((1.0, 1.0, 1.0), None)):
        cover = {"aged": {80: [], 95: []}, "pooled": {80: [], 95: []}}
        for _ in range(40):
            errs, ages = _aged_windows(rng, 100, sd, older)
            test = np.abs(rng.normal(0, sd, (100, 12)))
            for name, a in (("aged", ages), ("pooled", None)):
                q = scaled_quantiles(errs, (80, 95), ages=a)
                for lev in (80, 95):
                    cover[name][lev].append((test <= q[lev]).mean())
        got = {name: {lev: float(np.mean(v)) for lev, v in c.items()} for name, c in cover.items()}
        assert abs(got["aged"][80] - 0.80) < 0.015 and abs(got["aged"][95] - 0.95) < 0.01, got
        if before_80:
            assert got["pooled"][80] > before_80 and got["pooled"][95] > 0.97, got     # the rule before
        else:
            assert abs(got["pooled"][80] - got["aged"][80]) < 0.015, got
    # few errors at the most recent origin (a run of a few series): too noisy a reference, nothing changes
    errs, ages = _aged_windows(rng, 20, sd, (1.0, 1.3, 1.6))                    # 80 recent errors < 100
    for lev in (80, 95):
        np.testing.assert_array_equal(scaled_quantiles(errs, (lev,), ages=ages)[lev], scaled_quantiles(errs, (lev,))[lev])
    # and the result does not depend on the order of the windows (a resumed run)
    errs, ages = _aged_windows(rng, 60, sd, (1.0, 1.3, 1.6))
    base = scaled_quantiles(errs, (80, 95), ages=ages)
    order = np.random.default_rng(0).permutation(len(errs))
    again = scaled_quantiles([errs[i] for i in order], (80, 95), ages=[ages[i] for i in order])
    assert all(again[lev].tobytes() == base[lev].tobytes() for lev in (80, 95))
    assert not np.array_equal(base[80], scaled_quantiles(errs, (80,))[80])


def test_the_forecast_calibration_ranks_each_series_windows_by_their_own_cutoffs():
    # 150 series ending on different dates, each with windows at its 3 most recent origins (reaching 2, 4 and 6
    # steps; the older the origin, the larger the errors): the calibration's ages are each series' cutoff
    # ranks, so its quantiles are scaled_quantiles' with those ages, narrower than every window as it is
    from forecasting.pipeline.calibration import conformal_quantiles

    rng = np.random.default_rng(2)
    sd = np.sqrt(np.arange(1, 7))
    rows, errs, ages = [], [], []
    for i in range(150):
        end = pd.Timestamp("2020-01-01") + pd.DateOffset(months=int(i % 7))      # each series its own last date
        for age, steps in ((2, 6), (1, 4), (0, 2)):
            cutoff = end - pd.DateOffset(months=steps)
            e = np.abs(rng.normal(0, sd[:steps])) * (1.0, 1.4, 1.8)[age]
            rows.append(pd.DataFrame({"unique_id": f"s{i}", "model": "naive", "cutoff": cutoff,
                                      "ds": pd.date_range(cutoff + pd.DateOffset(months=1), periods=steps, freq="MS"),
                                      "actual": 10.0 + e, "forecast": 10.0, "scale": 1.0}))
            errs.append(e)
            ages.append(age)
    frame = pd.concat(rows[::-1], ignore_index=True)         # windows in another order than their ages
    got = conformal_quantiles(frame, pd.DataFrame(columns=["unique_id", "ds", "y"]), 1, (80, 95))["naive"]
    want, pooled = scaled_quantiles(errs, (80, 95), ages=ages), scaled_quantiles(errs, (80, 95))
    for lev in (80, 95):
        np.testing.assert_allclose(got[lev], want[lev])
        assert (got[lev][2:] < 0.85 * pooled[lev][2:]).all()      # steps only the older origins reach


def momentum_panel(n_series=60, n=100, seed=0) -> Dataset:
    """Random walks whose steps are strongly autocorrelated (AR(1), phi 0.8): naive's own intervals, which
    assume independent steps, are far too narrow beyond the first step."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        e = rng.normal(0, 1, n)
        d = np.zeros(n)
        for t in range(1, n):
            d[t] = 0.8 * d[t - 1] + e[t]
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2010-01-01", periods=n, freq="MS"),
                                    "y": 100 + np.cumsum(d) * (1 + i % 5)}))
    ids = [f"s{i}" for i in range(n_series)]
    return Dataset(validate_long(pd.concat(frames)), "MS", "month", "y", [], pd.DataFrame({"unique_id": ids}), [])


def _coverage(fc: pd.DataFrame, level: int) -> float:
    return float(((fc["actual"] >= fc[f"lo_{level}"]) & (fc["actual"] <= fc[f"hi_{level}"])).mean())


def test_quantiles_do_not_depend_on_the_order_of_the_windows():
    # a resumed run pools the same errors in the order its series finished: the bounds must be the same bits
    rng = np.random.default_rng(11)
    errs = [np.abs(rng.standard_t(3, 7)) * np.linspace(0.3, 3.1, 7) * 10 ** rng.uniform(-3, 3) for _ in range(23)]
    base = scaled_quantiles(errs, [80, 95])
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(errs))
        again = scaled_quantiles([errs[i] for i in order], [80, 95])
        for lvl in (80, 95):
            assert again[lvl].tobytes() == base[lvl].tobytes()


def test_conformal_backtest_covers_near_nominal_where_the_model_does_not():
    ds = momentum_panel()
    cfg = dict(horizon=6, models=["naive"], windows=5, season_length=1, engine="serial", non_negative=False)
    model = run_backtest(ds, BacktestConfig(**cfg, intervals="model"))
    conf = run_backtest(ds, BacktestConfig(**cfg, intervals="conformal"))
    later = lambda r: r.forecasts[r.forecasts["cutoff"] > r.forecasts["cutoff"].min()]   # noqa: E731
    m80, m95 = _coverage(later(model), 80), _coverage(later(model), 95)
    c80, c95 = _coverage(later(conf), 80), _coverage(later(conf), 95)
    assert m80 < 0.70 and m95 < 0.85                                    # the model's own: far too narrow
    assert abs(c80 - 0.80) < 0.06 and abs(c95 - 0.95) < 0.04           # conformal: near nominal
    # the first window has nothing before it: the model's own intervals, unchanged
    first = lambda r: r.forecasts[r.forecasts["cutoff"] == r.forecasts["cutoff"].min()]  # noqa: E731
    pd.testing.assert_frame_equal(first(model).reset_index(drop=True), first(conf).reset_index(drop=True))
    # point forecasts and point metrics are the same; interval metrics follow the new bounds
    assert np.allclose(model.metrics["mase"], conf.metrics["mase"])
    assert conf.metrics["coverage_95"].mean() > model.metrics["coverage_95"].mean()
    # coverage per horizon step: the model's falls with the step, the conformal stays near nominal
    steps = conf.coverage_steps.set_index("step")
    assert list(steps.index) == [1, 2, 3, 4, 5, 6] and (steps["n"] == 60 * 5).all()
    ms = model.coverage_steps.set_index("step")["coverage_95"]
    assert ms.iloc[-1] < ms.iloc[0] - 0.1 and steps["coverage_95"].iloc[-1] > ms.iloc[-1] + 0.1


def test_conformal_forecast_widens_with_the_errors_and_keeps_the_mean():
    ds = momentum_panel(n_series=30)
    base = dict(horizon=6, model="naive", season_length=1, engine="serial", non_negative=False)
    model = run_forecast(ds, ForecastConfig(**base, intervals="model"))
    conf = run_forecast(ds, ForecastConfig(**base))                    # conformal: the default
    assert np.allclose(model.forecasts["forecast"], conf.forecasts["forecast"])
    wm = (model.forecasts["hi_95"] - model.forecasts["lo_95"]).to_numpy().reshape(30, 6)
    wc = (conf.forecasts["hi_95"] - conf.forecasts["lo_95"]).to_numpy().reshape(30, 6)
    assert (wc[:, -1] / wm[:, -1]).mean() > 1.3                        # the momentum the model ignores
    assert any("conformal intervals" in n for n in conf.info["notes"]) and conf.info["intervals"] == "conformal"
    with pytest.raises(Exception, match="intervals"):
        ForecastConfig(**base, intervals="bootstrap").validate()


def test_forecast_command_defaults_to_conformal_intervals(tmp_path):
    """`forecast` without --intervals gives the conformal intervals (the better calibrated, issue 19); the
    model's own stay one flag away."""
    from forecasting.cli import main

    ds = momentum_panel(n_series=12)
    src = tmp_path / "momentum.csv"
    ds.df.rename(columns={"unique_id": "series", "ds": "month"}).to_csv(src, index=False)
    base = [src, "--date-col", "month", "--target-col", "y", "--id-cols", "series", "--horizon", "6", "--model",
            "naive", "--season-length", "1", "--allow-negative", "--engine", "serial"]
    out = {}
    for name, extra in (("default", []), ("conformal", ["--intervals", "conformal"]), ("model", ["--intervals", "model"])):
        path = tmp_path / f"{name}.csv"
        assert main(["forecast", *map(str, base), *extra, "--output", str(path)]) == 0
        out[name] = pd.read_csv(path)
    pd.testing.assert_frame_equal(out["default"], out["conformal"])
    assert np.allclose(out["default"]["forecast"], out["model"]["forecast"])
    width = lambda f: (f["hi_95"] - f["lo_95"]).to_numpy().reshape(12, 6)[:, -1]   # noqa: E731
    assert (width(out["default"]) / width(out["model"])).mean() > 1.3


def test_forecast_calibrates_on_the_most_recent_origins_and_covers_held_out_random_walks():
    """The forecast's calibration windows start at the most recent origins (a window fit on a much shorter
    history errs more than the forecast will); on random walks, where naive is right and every window is
    exchangeable with the future, the held-out 80/95% coverage is near nominal."""
    from forecasting.pipeline.forecast import calibration_origins

    assert calibration_origins(18, 3) == [(18, 1, 6), (12, 1, 6), (6, 1, 6)]   # origins n-18, n-12, n-6
    assert calibration_origins(1, 3) == [(1, 3, 1)]                            # n-1, n-2, n-3
    # a run of few series adds older full windows, so the last steps have more than one error per series
    assert calibration_origins(18, 3, n_series=5) == [(18, 3, 1), (12, 1, 6), (6, 1, 6)]
    rng = np.random.default_rng(3)
    n, h, frames, future = 24, 6, [], {}
    for i in range(120):
        y = 100 + np.cumsum(rng.normal(0, 1 + i % 5, n + h))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2000-01-01", periods=n, freq="YS"),
                                    "y": y[:n]}))
        future[f"s{i}"] = y[n:]
    ds = Dataset(validate_long(pd.concat(frames)), "YS", "year", "y", [], pd.DataFrame({"unique_id": list(future)}), [])
    fc = run_forecast(ds, ForecastConfig(horizon=h, model="naive", season_length=1, engine="serial",
                                         non_negative=False)).forecasts
    fc["actual"] = np.concatenate([future[u] for u in fc["unique_id"].unique()])
    assert abs(_coverage(fc, 80) - 0.80) < 0.04 and abs(_coverage(fc, 95) - 0.95) < 0.03
