"""The forecast cycle end to end through the real CLI: forecast at cutoff T into a workspace, override two
values with reasons, add three months of actuals, and check the accuracy by lag and the forecast value
added against values computed here by hand from the raw numbers."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.store.cycle_data import COLS, SERIES, archived_forecast, sales


def cli(*args, check=True, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("SALESCAST_WORKSPACE", "SALESCAST_USER")}
    e.update({"PYTHONPATH": str(ROOT), **(env or {})})
    p = subprocess.run([sys.executable, "-m", "forecasting", *map(str, args)], capture_output=True, text=True,
                       env=e, cwd=str(ROOT), timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr[-2000:]}")
    return p


def one_error_line(p) -> str:
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.mark.slow
def test_forecast_override_actuals_accuracy_by_lag_and_fva(tmp_path):
    full = sales(39)                                   # 2021-01 .. 2024-03
    old = full[full["month"] <= "2023-12"]             # what the planner had at cutoff T = 2023-12
    old.to_csv(tmp_path / "sales_2023.csv", index=False)
    full.to_csv(tmp_path / "sales_2024_03.csv", index=False)
    ws = tmp_path / "ws"
    cli("forecast", tmp_path / "sales_2023.csv", *COLS, "--horizon", 3, "--model", "naive", "--season-length", 12,
        "--engine", "serial", "--workspace", ws, "--output", tmp_path / "fc.csv")
    [run] = json.loads(cli("runs", "list", "--workspace", ws, "--json").stdout)
    rid = run["id"]
    cli("override", rid, "--workspace", ws, "--series", "North / A-1", "--date", "2024-01-01", "--value", 90,
        "--reason", "promotion in January")
    cli("override", rid, "--workspace", ws, "--series", "South / B-2", "--date", "2024-02-01", "--percent", 15,
        "--reason", "new shelf space", env={"SALESCAST_USER": "bob"})
    p = cli("accuracy", tmp_path / "sales_2024_03.csv", *COLS, "--workspace", ws, "--output", tmp_path / "acc.xlsx",
            "--json")
    doc = json.loads(p.stdout)

    # ---- by hand, from the raw numbers
    y = {(s, k, m): float(v) for s, k, m, v in full[["store", "sku", "month", "units"]].itertuples(index=False)}
    stat = {(s, k): y[(s, k, "2023-12")] for s, k in SERIES}                  # naive model: the last value
    rows = []
    for lag in (1, 2, 3):
        for s, k in SERIES:
            actual = y[(s, k, f"2024-{lag:02d}")]
            naive = y[(s, k, f"2023-{lag:02d}")]                             # one season (12 months) before
            final = stat[(s, k)]
            if (s, k, lag) == ("North", "A-1", 1):
                final = 90.0
            if (s, k, lag) == ("South", "B-2", 2):
                final = stat[(s, k)] * 1.15
            rows.append((lag, s, k, actual, stat[(s, k)], final, naive))
    expected = {}
    for lag in (1, 2, 3):
        r = [x for x in rows if x[0] == lag]
        den = sum(abs(x[3]) for x in r)
        w_naive = sum(abs(x[6] - x[3]) for x in r) / den
        w_stat = sum(abs(x[4] - x[3]) for x in r) / den
        w_final = sum(abs(x[5] - x[3]) for x in r) / den
        expected[lag] = {"wape": w_final, "bias": sum(x[5] - x[3] for x in r) / den, "wape_naive": w_naive,
                         "wape_statistical": w_stat, "wape_final": w_final, "fva_statistical": w_naive - w_stat,
                         "fva_final": w_stat - w_final, "mae": sum(abs(x[5] - x[3]) for x in r) / 4,
                         "helped_final": sum(abs(x[5] - x[3]) < abs(x[4] - x[3]) for x in r) / 4}

    summary = {row["lag"]: row for row in doc["summary"]}
    assert set(summary) == {1, 2, 3} and doc["n_rows"] == 12
    for lag, exp in expected.items():
        got = summary[lag]
        assert got["run"] == rid and got["cutoff"] == "2023-12-01" and got["n"] == 4
        for key, v in exp.items():
            assert got[key] == pytest.approx(v, rel=1e-9, abs=1e-12), (lag, key)
    # the two overrides move the final forecast at lags 1 and 2 only
    assert summary[3]["fva_final"] == 0 and summary[1]["fva_final"] != 0 and summary[2]["fva_final"] != 0
    assert summary[1]["series_overridden"] == summary[2]["series_overridden"] == 1

    acc = pd.read_excel(tmp_path / "acc.xlsx", sheet_name=None)
    assert list(acc) == ["accuracy", "summary"]
    a = acc["accuracy"]
    assert {"store", "sku", "run", "cutoff", "lag", "actual", "forecast", "final", "naive", "abs_error"} <= set(a)
    assert len(a) == 12
    for lag, s, k, actual, st, final, naive in rows:
        r = a[(a["store"] == s) & (a["sku"] == k) & (a["lag"] == lag)].iloc[0]
        assert (r["actual"], r["forecast"], r["naive"]) == (actual, st, naive)
        assert r["final"] == pytest.approx(final) and r["abs_error"] == pytest.approx(abs(final - actual))
    assert acc["summary"]["fva_final"].tolist() == pytest.approx([expected[l]["fva_final"] for l in (1, 2, 3)])

    # the export carries the statistical forecast, the override and the final forecast
    cli("runs", "export", rid, "--workspace", ws, "--output", tmp_path / "export.csv")
    e = pd.read_csv(tmp_path / "export.csv")
    assert {"store", "sku", "date", "model", "forecast", "override", "final"} <= set(e.columns)
    x = e.set_index(["store", "sku", "date"])
    assert x.loc[("North", "A-1", "2024-01-01"), "final"] == 90
    assert x.loc[("North", "A-1", "2024-01-01"), "override"] == pytest.approx(90 - stat[("North", "A-1")])
    assert x.loc[("South", "B-2", "2024-02-01"), "final"] == pytest.approx(stat[("South", "B-2")] * 1.15)
    assert (e["final"] - e["forecast"] - e["override"]).abs().max() < 1e-9
    assert int((e["override"] != 0).sum()) == 2
    shown = json.loads(cli("runs", "show", rid, "--workspace", ws, "--json").stdout)
    assert shown["overrides"] == 2 and shown["cutoff"].startswith("2023-12-01")
    # the audit trail names who did what
    from forecasting.store import open_workspace
    from forecasting.store.overrides import audit_trail

    trail = audit_trail(open_workspace(ws, create=False), rid)
    assert list(trail["user"]) == ["local", "bob"]
    assert list(trail["reason"]) == ["promotion in January", "new shelf space"]


@pytest.mark.slow
def test_cli_refusals_exit_2_with_one_line(tmp_path):
    ws, rid, _ = archived_forecast(tmp_path / "ws", sales(36), tmp_path / "s.csv")
    base = ["override", rid, "--workspace", ws.path, "--reason", "r"]
    line = one_error_line(cli(*base, "--series", "Nowhere / Z", "--date", "2024-01-01", "--value", 1, check=False))
    assert "unknown series 'Nowhere / Z'" in line
    line = one_error_line(cli(*base, "--series", "North / A-1", "--date", "2025-01-01", "--value", 1, check=False))
    assert "no forecast of 'North / A-1' on 2025-01-01" in line
    line = one_error_line(cli("override", "nope", "--workspace", ws.path, "--series", "North / A-1", "--date",
                              "2024-01-01", "--value", 1, "--reason", "r", check=False))
    assert "no run 'nope'" in line
    # an aggregate through the CLI: the store's total set to 200 in February, spread by the forecasts
    cli(*base, "--aggregate", "store=North", "--date", "2024-02-01", "--value", 200, "--model", "naive")
    from forecasting.store.overrides import final_forecasts

    f = final_forecasts(ws, rid)
    feb = f[(f["ds"] == "2024-02-01") & f["unique_id"].str.startswith("North")]
    assert feb["final"].sum() == pytest.approx(200)
    assert (feb["final"] / feb["forecast"]).nunique() == 1              # in proportion to the forecasts
    # accuracy: bad inputs, and actuals that cover no archived forecast yet
    one_error_line(cli("accuracy", tmp_path / "s.csv", *COLS, check=False))                 # no workspace
    one_error_line(cli("accuracy", tmp_path / "s.csv", *COLS, "--workspace", ws.path, "--output",
                       tmp_path / "a.json", check=False))
    p = cli("accuracy", tmp_path / "s.csv", *COLS, "--workspace", ws.path, "--output", tmp_path / "a.csv", "--json")
    doc = json.loads(p.stdout)
    assert doc["summary"] == [] and doc["skipped"] == [rid] and "no actuals" in p.stderr
    assert len(pd.read_csv(tmp_path / "a.csv")) == 0
