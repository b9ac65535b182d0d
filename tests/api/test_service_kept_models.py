"""``POST /v1/runs/{id}/forecast`` over real HTTP: a forecast run recorded by the CLI in the service's workspace
keeps its fitted models (the network's weights as safetensors, the statistical model's settings), and the
service forecasts new data with them: the network without training, the statistical model refit with the run's
settings. (File name sorts after test_service.py, whose runs test expects the shared workspace empty.)"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.api.data import body, monthly
from tests.api.server import ROOT

LSTM = ["--set", "lstm.max_epochs=2", "--set", "lstm.hidden_size=8", "--set", "lstm.batch_size=64",
        "--set", "lstm.context_size=4", "--set", "lstm.decoder_hidden=8", "--set", "lstm.num_threads=1"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "forecasting", *map(str, args)], cwd=ROOT, text=True,
                          capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def kept_run(server, tmp_path_factory):
    """A forecast run of lstm and ets (6 months ahead, 3 series) recorded by the CLI in the service's workspace."""
    tmp = tmp_path_factory.mktemp("kept")
    frame = monthly(3, 60, seed=11)
    frame.to_csv(tmp / "sales.csv", index=False)
    p = _cli("forecast", tmp / "sales.csv", "--date-col", "month", "--target-col", "units", "--id-cols", "store",
             "--horizon", 6, "--model", "lstm,ets", *LSTM, "--intervals", "model", "--engine", "serial", "--workspace", server.workspace,
             "--output", tmp / "out.csv")
    assert p.returncode == 0, p.stderr
    with server.client() as c:
        runs = [r for r in c.get("/v1/runs", params={"kind": "forecast"}).json()["runs"] if r["models"] == ["lstm", "ets"]]
    assert len(runs) == 1 and runs[0]["status"] == "finished"
    return {"id": runs[0]["id"], "frame": frame, "cli": pd.read_csv(tmp / "out.csv"), "tmp": tmp}


@pytest.mark.slow
def test_a_forecast_run_keeps_its_models_as_safetensors_and_json(server, kept_run):
    folder = server.workspace / "runs" / kept_run["id"] / "models"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["ets/kept.json", "lstm/kept.json", "lstm/model.json", "lstm/model.safetensors"]
    assert json.loads((folder / "lstm" / "kept.json").read_text())["kind"] == "network"
    ets = json.loads((folder / "ets" / "kept.json").read_text())
    assert ets["kind"] == "refit" and ets["season_length"] == 12 and ets["dataset_id"]
    from safetensors import safe_open

    with safe_open(str(folder / "lstm" / "model.safetensors"), framework="pt") as f:
        names = list(f.keys())
    assert any(n.startswith("net.") for n in names) and "arr.tail_y" in names
    with server.client() as c:
        assert c.get(f"/v1/runs/{kept_run['id']}").json()["kept_models"] == {"lstm": "network", "ets": "refit"}


@pytest.mark.slow
def test_the_kept_network_forecasts_without_training(server, kept_run):
    run_id, frame, cli = kept_run["id"], kept_run["frame"], kept_run["cli"]
    with server.client() as c:
        # the run's own data: the kept network gives exactly the run's forecasts
        r = c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon=6))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert set(doc) == {"model", "forecasts", "fallbacks", "elapsed_ms"} and doc["model"] == "lstm"
        assert doc["fallbacks"] == [] and [f["id"] for f in doc["forecasts"]] == ["S0", "S1", "S2"]
        for f in doc["forecasts"]:
            g = cli[(cli["store"] == f["id"]) & (cli["model"] == "lstm")]
            assert set(f) == {"id", "timestamps", "mean", "lo_80", "hi_80", "lo_95", "hi_95"}
            assert f["timestamps"] == g["date"].tolist()
            np.testing.assert_allclose(f["mean"], g["forecast"], rtol=1e-5)
            np.testing.assert_allclose(f["lo_95"], g["lo_95"], rtol=1e-5)

        # three more months of two of the series: forecasts start after them and follow the new history
        later = monthly(3, 63, seed=11)
        later = later[later["store"] != "S2"].copy()
        later.loc[later.groupby("store").tail(3).index, "units"] *= 1.5
        new = c.post(f"/v1/runs/{run_id}/forecast", json=body(later, horizon=4, levels=[90])).json()
        assert [f["id"] for f in new["forecasts"]] == ["S0", "S1"]
        old = {f["id"]: f for f in doc["forecasts"]}
        for f in new["forecasts"]:
            assert f["timestamps"] == ["2020-04-01", "2020-05-01", "2020-06-01", "2020-07-01"]
            assert set(f) == {"id", "timestamps", "mean", "lo_90", "hi_90"}
            assert f["timestamps"][0] == old[f["id"]]["timestamps"][3]
            assert not np.allclose(f["mean"][:3], old[f["id"]]["mean"][3:6], rtol=1e-3)
            assert all(lo <= m <= hi for lo, m, hi in zip(f["lo_90"], f["mean"], f["hi_90"]))

        # a series the network never saw: refused (a retrained model would have taken it)
        stranger = body(frame, horizon=6)
        stranger["series"][1]["id"] = "S9"
        r = c.post(f"/v1/runs/{run_id}/forecast", json=stranger)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "series[1].id"
        assert "trained on" in r.json()["error"]
        r = c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon=7))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "horizon" and "6" in r.json()["error"]
        weekly = body(frame.assign(month=pd.date_range("2015-01-04", periods=60, freq="W-SUN").tolist() * 3), horizon=2)
        r = c.post(f"/v1/runs/{run_id}/forecast", json=weekly)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "freq"


@pytest.mark.slow
def test_the_kept_statistical_model_is_refit_with_the_runs_settings(server, kept_run):
    run_id = kept_run["id"]
    later = monthly(3, 66, seed=11)
    with server.client() as c:
        kept = c.post(f"/v1/runs/{run_id}/forecast", json=body(later, horizon=5, model="ets"))
        plain = c.post("/v1/forecast", json=body(later, horizon=5, model="ets", season_length=12,
                                                 intervals="model"))          # the run's intervals
    assert kept.status_code == 200 and plain.status_code == 200, kept.text
    assert kept.json()["model"] == "ets"
    assert [f["timestamps"][0] for f in kept.json()["forecasts"]] == ["2020-07-01"] * 3
    for a, b in zip(kept.json()["forecasts"], plain.json()["forecasts"]):
        np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
        np.testing.assert_allclose(a["hi_80"], b["hi_80"], rtol=1e-12)


@pytest.mark.slow
def test_run_forecast_errors(server, kept_run, auth_server):
    run_id, frame = kept_run["id"], kept_run["frame"]
    tmp = kept_run["tmp"]
    p = _cli("backtest", tmp / "sales.csv", "--date-col", "month", "--target-col", "units", "--id-cols", "store",
             "--horizon", 3, "--windows", 1, "--model", "naive", "--engine", "serial", "--workspace", server.workspace,
             "--output", tmp / "bt.csv")
    assert p.returncode == 0, p.stderr
    with server.client() as c:
        bt = [r for r in c.get("/v1/runs", params={"kind": "backtest"}).json()["runs"]][-1]["id"]
        r = c.post(f"/v1/runs/{bt}/forecast", json=body(frame, horizon=3))
        assert r.status_code == 409 and "backtest" in r.json()["error"]
        r = c.post("/v1/runs/no-such-run/forecast", json=body(frame, horizon=3))
        assert r.status_code == 404 and r.json()["error"]
        r = c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon=3, model="theta"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model"
        r = c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon="3"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "horizon"
        r = c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon=0))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "horizon"
        spec = c.get("/openapi.json").json()["paths"]["/v1/runs/{run_id}/forecast"]["post"]
        assert {"200", "404", "409", "422"} <= set(spec["responses"])
    with auth_server.client() as c:                     # tokens on: no token, no forecast
        assert c.post(f"/v1/runs/{run_id}/forecast", json=body(frame, horizon=3)).status_code == 401


@pytest.mark.slow
def test_the_cli_forecasts_with_a_kept_model_as_the_service_does(server, kept_run):
    run_id, tmp = kept_run["id"], kept_run["tmp"]
    later = monthly(3, 63, seed=11)
    later = later[later["store"] != "S2"].copy()
    later.loc[later.groupby("store").tail(3).index, "units"] *= 1.5
    later.to_csv(tmp / "later.csv", index=False)
    cols = ("--date-col", "month", "--target-col", "units", "--id-cols", "store", "--workspace", server.workspace)
    with server.client() as c:
        api = {m: c.post(f"/v1/runs/{run_id}/forecast", json=body(later, horizon=4, model=m)).json()
               for m in ("lstm", "ets")}
    for m in ("lstm", "ets"):
        out = tmp / f"kept_{m}.csv"
        p = _cli("runs", "forecast", run_id, tmp / "later.csv", *cols, "--horizon", 4, "--model", m, "--output", out)
        assert p.returncode == 0, p.stderr
        cli = pd.read_csv(out)
        assert set(cli["model"]) == {m} and len(cli) == 8
        for f in api[m]["forecasts"]:
            g = cli[cli["store"] == f["id"]]
            assert f["timestamps"] == g["date"].tolist()
            for col in ("mean", "lo_80", "hi_95"):
                np.testing.assert_allclose(f[col], g["forecast" if col == "mean" else col], rtol=1e-9, err_msg=m)
    p = _cli("runs", "forecast", run_id, tmp / "later.csv", *cols, "--horizon", 7, "--output", tmp / "x.csv")
    assert p.returncode == 2 and p.stderr.count("error:") == 1 and "trained for 6" in p.stderr, p.stderr
