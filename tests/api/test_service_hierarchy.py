"""Reconciliation over HTTP (issue 20's API part): series with ``keys``, ``reconcile`` and ``hierarchy`` give every
node of the hierarchy, equal to the CLI's ``--reconcile`` output for the same data and settings."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.api.data import monthly
from tests.api.server import ROOT


def _frame() -> pd.DataFrame:
    """Four stores in two regions, monthly, with different seasonality (base forecasts that do not add up)."""
    f = monthly(4, 48, seed=11)
    f["region"] = f["store"].map({"S0": "North", "S1": "North", "S2": "South", "S3": "South"})
    return f[["region", "store", "month", "units"]]


def _body(frame: pd.DataFrame, **extra) -> dict:
    series = [{"id": f"shop-{sid}", "keys": {"region": g["region"].iloc[0], "store": sid},
               "timestamps": g["month"].dt.strftime("%Y-%m-%d").tolist(), "values": g["units"].tolist()}
              for sid, g in frame.groupby("store", sort=False)]
    return {"series": series, **extra}


@pytest.mark.slow
def test_reconciled_forecast_equals_the_cli_and_adds_up(server, tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "sales.csv", index=False)
    p = subprocess.run([sys.executable, "-m", "forecasting", "forecast", str(tmp_path / "sales.csv"), "--date-col", "month",
                        "--target-col", "units", "--id-cols", "region,store", "--horizon", "6", "--model", "ets",
                        "--intervals", "model", "--reconcile", "mint_shrink", "--engine", "serial",
                        "--output", str(tmp_path / "out.csv")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    cli = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    with server.client() as c:
        r = c.post("/v1/forecast", json=_body(frame, horizon=6, model="ets", reconcile="mint_shrink", intervals="model"))
        assert r.status_code == 200, r.text
        doc = r.json()
        plain = c.post("/v1/forecast", json=_body(frame, horizon=6, model="ets", intervals="model")).json()
    assert doc["hierarchy"] == {"levels": ["total", "region", "region,store"], "n_nodes": 7, "reconcile": "mint_shrink"}
    assert [f["level"] for f in doc["forecasts"]] == ["total", "region", "region", *["region,store"] * 4]
    assert [f["id"] for f in doc["forecasts"][3:]] == ["shop-S0", "shop-S1", "shop-S2", "shop-S3"]   # request order
    assert doc["forecasts"][1]["keys"] == {"region": "North", "store": None}
    assert "level" not in plain["forecasts"][0] and "hierarchy" not in plain     # without reconcile: as before
    for f in doc["forecasts"]:
        region, store = f["keys"]["region"], f["keys"]["store"]
        g = cli[(cli["level"] == f["level"]) & (cli["region"].fillna("") == (region or ""))
                & (cli["store"].fillna("") == (store or ""))]
        assert len(g) == 6 and f["timestamps"] == g["date"].tolist(), f["id"]
        for col in ("mean", "lo_80", "hi_80", "lo_95", "hi_95"):
            np.testing.assert_allclose(f[col], g["forecast" if col == "mean" else col], rtol=1e-12, err_msg=col)
    fc = {f["id"]: np.array(f["mean"]) for f in doc["forecasts"]}
    bottom = sum(fc[f"shop-S{k}"] for k in range(4))
    np.testing.assert_allclose(fc["total"], bottom, rtol=1e-9)
    base_total = sum(np.array(f["mean"]) for f in plain["forecasts"])
    assert not np.allclose(fc["shop-S0"], plain["forecasts"][0]["mean"], rtol=1e-9) or \
        not np.allclose(fc["total"], base_total, rtol=1e-9)           # reconciliation changed something


def test_reconciled_backtest_and_errors(server):
    frame = _frame()
    with server.client() as c:
        r = c.post("/v1/backtest", json=_body(frame, horizon=3, windows=1, models=["naive", "seasonal_naive"],
                                              reconcile="bottom_up", hierarchy=[[], ["region"]]))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["hierarchy"]["levels"] == ["total", "region", "region,store"]
        rows = {(m["id"], m["model"]): m for m in doc["metrics"]}
        assert len(rows) == 2 * 7 and rows[("total", "naive")]["level"] == "total"
        assert rows[("shop-S2", "naive")]["keys"] == {"region": "South", "store": "S2"}
        assert {(s["level"], s["model"]) for s in doc["summary_by_level"]} == \
            {(lv, m) for lv in ("total", "region", "region,store") for m in ("naive", "seasonal_naive")}

        def err(**extra):
            return c.post("/v1/forecast", json=_body(frame, horizon=3, **extra))

        no_keys = _body(frame, horizon=3, reconcile="mint_ols")
        for s in no_keys["series"]:
            s.pop("keys")
        r = c.post("/v1/forecast", json=no_keys)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "series[0].keys"
        r = err(reconcile="mint_ols", hierarchy=[[], ["city"]])
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "hierarchy[1]"
        r = err(reconcile="sideways")
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "reconcile"
        r = err(reconcile="top_down", hierarchy=[["region"], ["store"]])       # grouped: no single parent
        assert r.status_code == 422 and "nested" in r.json()["error"]
        b = _body(frame, horizon=3, reconcile="bottom_up")
        b["series"][1]["keys"] = dict(b["series"][0]["keys"])
        r = c.post("/v1/forecast", json=b)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "series[1].keys"


@pytest.mark.slow
def test_a_reconciled_run_keeps_its_models_for_new_data(server, tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "sales.csv", index=False)
    cols = ["--date-col", "month", "--target-col", "units", "--id-cols", "region,store", "--workspace", str(server.workspace)]

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "forecasting", *map(str, args)], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)

    p = cli("forecast", tmp_path / "sales.csv", *cols, "--horizon", 6, "--model", "ets", "--intervals", "model",
            "--reconcile", "mint_shrink", "--engine", "serial", "--output", tmp_path / "out.csv")
    assert p.returncode == 0, p.stderr
    with server.client() as c:
        run = [r for r in c.get("/v1/runs", params={"kind": "forecast"}).json()["runs"] if r["n_series"] == 7][-1]
        assert c.get(f"/v1/runs/{run['id']}").json()["kept_models"] == {"ets": "refit"}
        later = _frame().assign(units=lambda f: f["units"] * 1.1)        # new data: every node forecast and reconciled
        r = c.post(f"/v1/runs/{run['id']}/forecast", json=_body(later, horizon=4))
        assert r.status_code == 200, r.text
        doc = r.json()
        direct = c.post("/v1/forecast", json=_body(later, horizon=4, model="ets", season_length=12,
                                                   reconcile="mint_shrink", intervals="model")).json()
    assert doc["hierarchy"]["reconcile"] == "mint_shrink" and len(doc["forecasts"]) == 7
    for a, b in zip(doc["forecasts"], direct["forecasts"]):      # refit with the run's settings = a fresh request
        assert (a["id"], a["level"], a["keys"]) == (b["id"], b["level"], b["keys"])
        np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
    later.to_csv(tmp_path / "later.csv", index=False)
    p = cli("runs", "forecast", run["id"], tmp_path / "later.csv", *cols, "--horizon", 4, "--output", tmp_path / "k.csv")
    assert p.returncode == 0, p.stderr
    out = pd.read_csv(tmp_path / "k.csv", keep_default_na=False, na_values=[""])
    total = out[out["level"] == "total"]["forecast"].to_numpy()
    np.testing.assert_allclose(total, doc["forecasts"][0]["mean"], rtol=1e-12)
    bottom = out[out["level"] == "region,store"].groupby("date")["forecast"].sum().to_numpy()
    np.testing.assert_allclose(total, bottom, rtol=1e-9)
