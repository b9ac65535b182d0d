"""Reconciled runs (every node of a hierarchy) are kept in the workspace like any run: results per partition as
they finish, stopped and resumed to exactly the uninterrupted result, equal to the in-memory run; the CLI records
them with --workspace and `runs export` gives every node."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.hierarchy.run import HierarchyConfig, hierarchical_backtest, hierarchical_forecast
from forecasting.pipeline import BacktestConfig, ForecastConfig
from forecasting.store import open_workspace
from forecasting.store.execute import config_of, execute_run
from tests.hierarchy.test_pipeline import coherent, dataset, sales
from tests.store.test_store import StopAfter

HCFG = HierarchyConfig(None, "mint_shrink")


def _run(ws, ds_id, kind, cfg, hcfg=HCFG):
    config = config_of(kind, cfg)
    config["hierarchy"] = asdict(hcfg)
    return ws.create_run(kind, ds_id, config)


@pytest.fixture
def hier_ws(tmp_path, backend):
    ws = open_workspace(tmp_path / "ws")
    data = dataset(sales())
    ws.ds_id = ws.add_dataset(data, raw=None, raw_hash="sales-6", name="sales", mapping={}, treatments=[]).id
    ws.data = data
    return ws


@pytest.mark.slow
def test_a_stopped_reconciled_backtest_resumes_to_the_uninterrupted_result(hier_ws):
    ws = hier_ws
    cfg = BacktestConfig(horizon=3, models=["seasonal_naive", "theta"], windows=2, engine="serial")
    stopped = _run(ws, ws.ds_id, "backtest", cfg)
    execute_run(ws, stopped, progress=StopAfter(3))
    rec = ws.get_run(stopped)
    assert rec.status == "stopped" and rec.n_series == 9 and 1 <= rec.series_done < 9   # 1 total + 2 stores + 6
    execute_run(ws, stopped)                                  # Resume: only the nodes not stored yet
    full = _run(ws, ws.ds_id, "backtest", cfg)
    execute_run(ws, full)
    a, b = ws.run_frames(stopped), ws.run_frames(full)
    assert ws.get_run(stopped).status == "finished" and ws.get_run(stopped).series_done == 9
    for key in ("metrics", "forecasts", "summary", "total"):
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)
    mem, hds, _ = hierarchical_backtest(ws.data, BacktestConfig(horizon=3, models=["seasonal_naive", "theta"],
                                                               windows=2, engine="serial"), HCFG)
    keys = ["unique_id", "model", "cutoff", "ds"]
    got = a["forecasts"].sort_values(keys).reset_index(drop=True)
    want = mem.forecasts.sort_values(keys).reset_index(drop=True)[list(got.columns)]
    pd.testing.assert_frame_equal(got, want, rtol=1e-12)
    assert set(a["summary"]["model"]) == {"seasonal_naive", "theta"}
    pd.testing.assert_frame_equal(a["summary"].sort_values("model").reset_index(drop=True),
                                  mem.summary.sort_values("model").reset_index(drop=True)[list(a["summary"].columns)],
                                  rtol=1e-12)
    assert ws.get_run(stopped).info["hierarchy"]["reconcile"] == "mint_shrink"


def test_a_reconciled_forecast_run_is_coherent_and_equals_the_in_memory_run(hier_ws):
    ws = hier_ws
    cfg = ForecastConfig(horizon=4, model=["theta"], engine="serial")
    run = _run(ws, ws.ds_id, "forecast", cfg)
    execute_run(ws, run)
    fc = ws.run_forecasts(run)
    mem, hds, _ = hierarchical_forecast(ws.data, ForecastConfig(horizon=4, model=["theta"], engine="serial"), HCFG)
    keys = ["unique_id", "model", "ds"]
    pd.testing.assert_frame_equal(fc.sort_values(keys).reset_index(drop=True),
                                  mem.forecasts.sort_values(keys).reset_index(drop=True)[list(fc.columns)], rtol=1e-12)
    from forecasting.hierarchy.data import with_level

    coherent(with_level(hds, fc), ["forecast", "lo_95"], ["model", "ds"])


def test_cli_records_a_reconciled_run_in_the_workspace(tmp_path, capsys):
    from tests.hierarchy.test_pipeline import COLS

    csv = tmp_path / "sales.csv"
    sales().to_csv(csv, index=False)
    out, plain = tmp_path / "fc.csv", tmp_path / "plain.csv"
    args = ["forecast", str(csv), *COLS, "--horizon", "3", "--model", "seasonal_naive", "--reconcile", "mint_ols",
            "--levels", "80"]
    assert main([*args, "--workspace", str(tmp_path / "ws"), "--output", str(out)]) == 0
    assert "not recorded" not in capsys.readouterr().err
    assert main([*args, "--output", str(plain)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(plain))           # the same rows, every level
    ws = open_workspace(tmp_path / "ws", create=False)
    runs = ws.list_runs()
    assert len(runs) == 1 and runs[0].status == "finished" and runs[0].n_series == runs[0].series_done == 9
    assert runs[0].config["hierarchy"]["reconcile"] == "mint_ols"
    assert ws.run_forecasts(runs[0].id)["unique_id"].nunique() == 9
    assert main(["runs", "export", runs[0].id, "--workspace", str(tmp_path / "ws"), "--output",
                 str(tmp_path / "ex.csv")]) == 0                               # every level, with its name
    keys = ["level", "store", "sku", "date", "model"]
    ex = pd.read_csv(tmp_path / "ex.csv").sort_values(keys).reset_index(drop=True)
    ran = pd.read_csv(out).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(ex[list(ran.columns)], ran)        # (beside the planners' override columns)
    assert set(ex["level"]) == {"total", "store", "store,sku"}
