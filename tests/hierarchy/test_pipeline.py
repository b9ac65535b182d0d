"""Every node through the real backtest/forecast and the CLI: late starters, base vs reconciled, contracts."""
import json

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.data.contract import Dataset, make_unique_id, validate_long
from forecasting.pipeline import BacktestConfig, run_backtest
from forecasting.pipeline import ForecastConfig, run_forecast
from forecasting.hierarchy.data import hierarchical_dataset, with_level
from forecasting.hierarchy.reconcile import METHODS
from forecasting.hierarchy.run import HierarchyConfig, hierarchical_backtest, hierarchical_forecast

RTOL = 1e-9


def sales(late=True):
    rng = np.random.default_rng(1)
    months = pd.date_range("2016-01-01", periods=48, freq="MS")
    rows = []
    shock = rng.normal(0, 8, 48)                                   # shared by every series
    for store in ["North", "South"]:
        for sku in ["A", "B", "C"]:
            t = np.arange(48)
            y = 60 + 30 * (store == "North") + 10 * (sku == "B") + t + 12 * np.sin(2 * np.pi * t / 12)
            y = np.maximum(y + shock + rng.normal(0, 4, 48), 0).round(1)
            start = 20 if (late and store == "South" and sku == "C") else 0      # launched in month 21
            rows += [(m, store, sku, v) for m, v in zip(months[start:], y[start:])]
    return pd.DataFrame(rows, columns=["month", "store", "sku", "units"])


def dataset(frame):
    df = frame.rename(columns={"month": "ds", "units": "y"})
    df["unique_id"] = make_unique_id(df, ["store", "sku"])
    id_map = df[["unique_id", "store", "sku"]].drop_duplicates().reset_index(drop=True)
    return Dataset(validate_long(df[["unique_id", "ds", "y"]]), "MS", "month", "units", ["store", "sku"], id_map)


def coherent(frame, value_cols, keys):
    """For each key group (model, cutoff, date): total == sum of stores == sum of bottom series."""
    for col in value_cols:
        by = frame.pivot_table(index=keys, columns="level", values=col, aggfunc="sum")
        tot = by["total"]
        for lv in ("store", "store,sku"):
            assert np.all(np.abs(by[lv] - tot) <= RTOL * np.maximum(tot.abs(), 1)), (col, lv)


def test_late_starting_series_count_as_zero_before_launch():
    ds = dataset(sales())
    hds, hier = hierarchical_dataset(ds, None)
    assert hier.level_names == ["total", "store", "store,sku"] and hier.n_nodes == 1 + 2 + 6
    late = hds.series("South / C")
    assert len(late) == 48 and (late["y"].iloc[:20] == 0).all() and late["y"].iloc[20] > 0
    wide = hds.df.pivot(index="ds", columns="unique_id", values="y")
    bottom = [u for u in wide.columns if " / " in u and "=" not in u]
    np.testing.assert_allclose(wide["total"], wide[bottom].sum(axis=1))
    np.testing.assert_allclose(wide["store=South"], wide[["South / A", "South / B", "South / C"]].sum(axis=1))
    assert any("start late" in n for n in hds.notes)


@pytest.mark.parametrize("method", ["mint_shrink", "bottom_up", "top_down"])
def test_backtest_of_every_node_is_coherent_and_scored(method):
    ds = dataset(sales())
    cfg = BacktestConfig(horizon=6, models=["seasonal_naive", "ets"], windows=2, engine="serial")
    res, hds, hier = hierarchical_backtest(ds, cfg, HierarchyConfig(None, method))
    fc = with_level(hds, res.forecasts)
    assert set(fc["level"]) == {"total", "store", "store,sku"}
    assert len(fc) == hier.n_nodes * 2 * 2 * 6
    coherent(fc, ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"], ["model", "cutoff", "ds"])
    assert (fc["lo_95"] <= fc["forecast"] + 1e-9).all() and (fc["forecast"] <= fc["hi_95"] + 1e-9).all()
    assert (fc["lo_95"] >= 0).all()                                   # non-negative data: never negative
    # actuals are the node's own sums; metrics agree with the saved forecasts
    t = fc[(fc["level"] == "total") & (fc["model"] == "ets")]
    m = with_level(hds, res.metrics)
    assert len(m) == hier.n_nodes * 2 and m["mase"].notna().all()
    row = m[(m["level"] == "total") & (m["model"] == "ets")]
    assert row["mae"].iloc[0] == pytest.approx((t["forecast"] - t["actual"]).abs().mean(), rel=1e-9)
    lv = {r["level"] for r in res.info["summary_by_level"]}
    assert lv == {"total", "store", "store,sku"}
    # every method scored on the same base forecasts; this method's rows are this run's own scores
    comp = pd.DataFrame(res.info["methods_by_level"])
    assert set(comp["method"]) == {"none", *METHODS}
    mine = comp[comp["method"] == method].merge(pd.DataFrame(res.info["summary_by_level"]), on=["level", "model"])
    assert len(mine) == 3 * 2
    np.testing.assert_allclose(mine["mase_x"], mine["mase_y"], rtol=1e-9)
    np.testing.assert_allclose(mine["rmsse_x"], mine["rmsse_y"], rtol=1e-9)
    if method == "mint_shrink":      # backtest errors of the first window; the first has none (in-sample)
        assert any("backtest errors; in-sample seasonal naive errors for 2 of 4" in n for n in res.info["notes"])


def test_levels_without_reconciliation_are_base_forecasts_of_each_level():
    frame = sales(late=False)
    ds = dataset(frame)
    cfg = ForecastConfig(horizon=4, model="ets", engine="serial")
    res, hds, hier = hierarchical_forecast(ds, cfg, HierarchyConfig([[], ["store"]], "none"))
    fc = with_level(hds, res.forecasts)
    # the bottom rows are the plain run's rows
    plain = run_forecast(ds, ForecastConfig(horizon=4, model="ets", engine="serial", season_length=12))
    b = fc[fc["level"] == "store,sku"].set_index(["store", "sku", "ds"])["forecast"].sort_index()
    p = ds.restore_ids(plain.forecasts).set_index(["store", "sku", "ds"])["forecast"].sort_index()
    np.testing.assert_allclose(b.to_numpy(), p.to_numpy(), rtol=1e-12)
    # the total is ets on the summed series, which need not equal the sum of the bottom forecasts
    tot_ds = dataset(frame.assign(store="all", sku="all").groupby(["month", "store", "sku"], as_index=False)["units"].sum())
    alone = run_forecast(tot_ds, ForecastConfig(horizon=4, model="ets", engine="serial", season_length=12))
    np.testing.assert_allclose(fc[fc["level"] == "total"]["forecast"].to_numpy(), alone.forecasts["forecast"], rtol=1e-9)


# ---- the command line
@pytest.fixture
def sales_csv(tmp_path):
    p = tmp_path / "sales.csv"
    sales().assign(month=lambda d: d["month"].dt.strftime("%Y-%m")).to_csv(p, index=False)
    return p


COLS = ["--date-col", "month", "--target-col", "units", "--id-cols", "store,sku", "--engine", "serial"]


def test_cli_forecast_reconciled_every_level(sales_csv, tmp_path):
    out = tmp_path / "fc.csv"
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "3", "--model", "seasonal_naive",
                 "--reconcile", "mint_wls", "--levels", "80", "--output", str(out)]) == 0
    f = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(f.columns) == ["store", "sku", "level", "date", "model", "forecast", "lo_80", "hi_80"]
    assert len(f) == 9 * 3
    tot = f[f["level"] == "total"]
    assert tot["store"].isna().all() and tot["sku"].isna().all()
    st = f[f["level"] == "store"]
    assert st["sku"].isna().all() and set(st["store"]) == {"North", "South"}
    coherent(f, ["forecast", "lo_80", "hi_80"], ["model", "date"])


@pytest.mark.parametrize("intervals", ["conformal", "model"])
def test_forecast_mint_shrink_uses_the_calibration_backtests_errors(intervals):
    ds = dataset(sales())
    cfg = ForecastConfig(horizon=3, model="theta", engine="serial", intervals=intervals)
    res, hds, hier = hierarchical_forecast(ds, cfg, HierarchyConfig(None, "mint_shrink"))
    assert any(n == "mint_shrink: covariance of the base model's backtest errors" for n in res.info["notes"])
    coherent(with_level(hds, res.forecasts), ["forecast", "lo_80", "hi_95"], ["model", "ds"])
    # the same reconciliation by hand from the calibration backtests' errors: the conformal run's own, or (model
    # intervals) backtests at the same most recent origins
    from forecasting.hierarchy.reconcile import ReconcileSettings, reconcile
    from forecasting.hierarchy.run import backtest_errors
    from forecasting.pipeline.forecast import calibration_origins, history_backtest_config

    base, _, _ = hierarchical_forecast(ds, cfg, HierarchyConfig(None, "none"))
    if intervals == "conformal":
        calib = base.calibration
    else:
        assert base.calibration is None
        m, lv = int(base.info["config"]["season_length"]), base.info["config"]["levels"]
        calib = pd.concat([run_backtest(hds, history_backtest_config(cfg, m, lv, hh, ww, st)).forecasts
                           for hh, ww, st in calibration_origins(3, cfg.calibration_windows, hds.n_series)])
        assert calib["cutoff"].nunique() > cfg.calibration_windows     # small pool: older origins one period apart
    pos = pd.Index(hier.node_ids)
    b = base.forecasts.assign(r=pos.get_indexer(base.forecasts["unique_id"])).sort_values(["r", "ds"])
    got = res.forecasts.assign(r=pos.get_indexer(res.forecasts["unique_id"])).sort_values(["r", "ds"])
    want = reconcile(hier, b["forecast"].to_numpy().reshape(hier.n_nodes, 3), ReconcileSettings("mint_shrink"),
                     residuals=backtest_errors(calib, hier))
    np.testing.assert_allclose(got["forecast"].to_numpy(), want.ravel(), rtol=1e-9)


def test_backtest_errors_pool_every_step_scaled_per_step():
    """Errors of 2 windows x 2 steps of a 3-node hierarchy, by hand: step k's rows divided by c_k with c_k^2 the
    mean over nodes of MSE at step k / MSE over all rows; nodes keep their relative size."""
    from forecasting.hierarchy.structure import build_hierarchy
    from forecasting.hierarchy.run import backtest_errors

    hier = build_hierarchy(pd.DataFrame({"unique_id": ["a", "b"], "k": ["a", "b"]}), ["k"])
    ids = list(hier.node_ids)
    d = pd.date_range("2020-01-01", periods=4, freq="MS")
    rows = []
    E = {0: np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), 1: np.array([[2.0, 4.0, 6.0], [6.0, 4.0, 2.0]])}
    for w, (cut, dates) in enumerate([(d[0], d[1:3]), (d[1], d[2:4])]):
        for k, ds in enumerate(dates):
            for j, u in enumerate(ids):
                rows.append({"unique_id": u, "ds": ds, "cutoff": cut, "actual": 10.0 + E[k][w, j], "forecast": 10.0})
    frame = pd.DataFrame(rows)
    raw = backtest_errors(frame, hier, scale_steps=False)
    np.testing.assert_allclose(raw, [E[0][0], E[1][0], E[0][1], E[1][1]])
    mse = (raw ** 2).mean(axis=0)
    c0 = np.sqrt(np.mean((E[0] ** 2).mean(axis=0) / mse))
    c1 = np.sqrt(np.mean((E[1] ** 2).mean(axis=0) / mse))
    got = backtest_errors(frame, hier)
    np.testing.assert_allclose(got, [E[0][0] / c0, E[1][0] / c1, E[0][1] / c0, E[1][1] / c1], rtol=1e-12)
    # step 1's errors are step 0's doubled: after scaling both steps have the same size
    np.testing.assert_allclose((got[[0, 2]] ** 2).mean(axis=0), (got[[1, 3]] ** 2).mean(axis=0), rtol=1e-12)


def test_cli_backtest_grouped_levels_json(sales_csv, tmp_path):
    out = tmp_path / "m.json"
    assert main(["backtest", str(sales_csv), *COLS, "--horizon", "3", "--windows", "1", "--models", "naive",
                 "--levels", ";store;sku", "--levels", "90", "--reconcile", "mint_ols", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    levels = {r["level"] for r in doc["metrics"]}
    assert levels == {"total", "store", "sku", "store,sku"} and len(doc["metrics"]) == 1 + 2 + 3 + 6
    assert {r["level"] for r in doc["summary_by_level"]} == levels
    assert "coverage_90" in doc["metrics"][0]


def test_cli_bottom_rows_are_todays_rows(sales_csv, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    # model intervals: conformal ones pool the scaled errors of every node of the run (aggregates too), so a
    # series' conformal bounds depend on what else is in the run
    args = [str(sales_csv), *COLS, "--horizon", "3", "--windows", "2", "--models", "naive", "--intervals", "model"]
    assert main(["backtest", *args, "--output", str(a)]) == 0
    assert main(["backtest", *args, "--levels", ";store", "--output", str(b)]) == 0
    plain, lv = pd.read_csv(a), pd.read_csv(b)
    bottom = lv[lv["level"] == "store,sku"].drop(columns="level").reset_index(drop=True)
    # the late starter is zero-filled in a hierarchy (more history), every other series is unchanged
    keep = ~((plain["store"] == "South") & (plain["sku"] == "C"))
    pd.testing.assert_frame_equal(bottom[keep.to_numpy()].reset_index(drop=True), plain[keep].reset_index(drop=True))


def test_cli_reconcile_errors(sales_csv, tmp_path, capsys):
    out = tmp_path / "x.csv"
    one = ["--date-col", "month", "--target-col", "units", "--id-cols", ""]
    assert main(["backtest", str(sales_csv), *one, "--horizon", "3", "--models", "naive", "--reconcile", "bottom_up",
                 "--output", str(out)]) == 2
    assert "id columns" in capsys.readouterr().err
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "3", "--model", "naive", "--levels", ";region",
                 "--output", str(out)]) == 2
    assert "not id columns" in capsys.readouterr().err
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "3", "--model", "naive", "--levels", ";store;sku",
                 "--reconcile", "top_down", "--output", str(out)]) == 2
    assert "nested" in capsys.readouterr().err
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "3", "--model", "naive", "--reconcile", "middle_out",
                 "--middle-level", "store,sku", "--output", str(out)]) == 2
    assert "above the bottom level" in capsys.readouterr().err


@pytest.mark.slow
def test_every_engine_gives_the_same_reconciled_forecasts():
    ds = dataset(sales())
    out = {}
    for engine in ("serial", "local"):
        cfg = ForecastConfig(horizon=3, model="seasonal_naive", engine=engine, n_workers=2)
        res, hds, _ = hierarchical_forecast(ds, cfg, HierarchyConfig(None, "mint_shrink"))
        out[engine] = res.forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(out["serial"], out["local"])
