"""The HTTP API over real HTTP: the service started as ``python -m forecasting serve`` on a free port."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.api.conftest import TOKENS
from tests.api.data import body, monthly
from tests.api.server import ROOT


def test_health_docs_and_models(server):
    with server.client() as c:
        r = c.get("/health")
        assert r.status_code == 200
        from forecasting import __version__
        assert r.json() == {"status": "ok", "version": __version__}
        spec = c.get("/openapi.json").json()
        for path in ("/v1/status", "/v1/forecast", "/v1/backtest", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/models", "/health"):
            assert path in spec["paths"], path
        assert "ForecastRequest" in spec["components"]["schemas"]
        docs = c.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        # served by the service itself, not a CDN: /docs works on a machine without internet
        import re

        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text) + re.findall(r"url: '([^']+)'", docs.text)
        assert assets and not [a for a in assets if a.startswith("http")], assets
        js = [a for a in assets if a.endswith(".js")]
        assert js and all(c.get(a).status_code == 200 for a in js)
        models = c.get("/v1/models").json()
    from forecasting.models.registry import MODELS

    assert [m["name"] for m in models["models"]] == list(MODELS)
    ets = next(m for m in models["models"] if m["name"] == "ets")
    assert ets["capabilities"]["intervals"] is True and ets["capabilities"]["needs_torch"] is False
    assert next(m for m in models["models"] if m["name"] == "lstm")["capabilities"]["global_model"] is True
    assert models["default"] in MODELS


def test_without_tokens_it_listens_on_loopback_only_and_says_so(server):
    log = server.log()
    assert "--host 0.0.0.0 ignored" in log and "127.0.0.1 only" in log
    import psutil

    listening = {c.laddr.ip for c in psutil.Process(server.proc.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


def test_forecast_shape(server):
    frame = monthly(2, 60)
    with server.client() as c:
        r = c.post("/v1/forecast", json=body(frame, horizon=6, model="ets", levels=[80, 95]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"model", "forecasts", "fallbacks", "elapsed_ms"}
    assert out["model"] == "ets" and out["fallbacks"] == [] and out["elapsed_ms"] > 0
    assert [f["id"] for f in out["forecasts"]] == ["S0", "S1"]
    for f in out["forecasts"]:
        assert set(f) == {"id", "timestamps", "mean", "lo_80", "hi_80", "lo_95", "hi_95"}
        assert f["timestamps"] == [f"2020-{m:02d}-01" for m in range(1, 7)]
        lo95, lo80, mean, hi80, hi95 = (np.array(f[k]) for k in ("lo_95", "lo_80", "mean", "hi_80", "hi_95"))
        assert np.all(lo95 <= lo80) and np.all(lo80 < mean) and np.all(mean < hi80) and np.all(hi80 <= hi95)
    # the series' level and season carry over: S1 sits 20 above S0
    assert np.mean(out["forecasts"][1]["mean"]) - np.mean(out["forecasts"][0]["mean"]) == pytest.approx(20, abs=6)


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecasting", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("model, extra, flags", [
    ("ets", {}, []),     # both defaults: conformal intervals
    ("theta", {"season_length": 12, "levels": [90], "intervals": "model"},
     ["--season-length", "12", "--levels", "90", "--engine", "serial", "--intervals", "model"]),
])
def test_forecast_equals_the_cli(server, tmp_path, model, extra, flags):
    frame = monthly(3, 54, seed=1)
    frame.to_csv(tmp_path / "sales.csv", index=False)
    p = _cli("forecast", tmp_path / "sales.csv", "--date-col", "month", "--target-col", "units", "--id-cols", "store",
             "--horizon", 8, "--model", model, *flags, "--output", tmp_path / "out.csv")
    assert p.returncode == 0, p.stderr
    cli = pd.read_csv(tmp_path / "out.csv")
    req = body(frame, horizon=8, model=model, **extra)
    with server.client() as c:
        r = c.post("/v1/forecast", json=req)
    assert r.status_code == 200, r.text
    levels = extra.get("levels", [80, 95])
    for f in r.json()["forecasts"]:
        g = cli[cli["store"] == f["id"]]
        assert f["timestamps"] == g["date"].tolist()
        np.testing.assert_allclose(f["mean"], g["forecast"], rtol=1e-12)
        for lv in levels:
            np.testing.assert_allclose(f[f"lo_{lv}"], g[f"lo_{lv}"], rtol=1e-12)
            np.testing.assert_allclose(f[f"hi_{lv}"], g[f"hi_{lv}"], rtol=1e-12)


@pytest.mark.slow
def test_backtest_metrics_equal_the_cli(server, tmp_path):
    frame = monthly(2, 60, seed=2)
    frame.to_csv(tmp_path / "sales.csv", index=False)
    p = _cli("backtest", tmp_path / "sales.csv", "--date-col", "month", "--target-col", "units", "--id-cols", "store",
             "--horizon", 6, "--windows", 2, "--models", "naive,ets", "--engine", "serial", "--output", tmp_path / "m.csv")
    assert p.returncode == 0, p.stderr
    cli = pd.read_csv(tmp_path / "m.csv")
    with server.client() as c:
        r = c.post("/v1/backtest", json=body(frame, horizon=6, windows=2, models=["naive", "ets"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["models"] == ["naive", "ets"] and out["elapsed_ms"] > 0
    got = pd.DataFrame(out["metrics"])
    assert len(got) == 4 and set(got["model"]) == {"naive", "ets"}
    merged = got.merge(cli, left_on=["id", "model"], right_on=["store", "model"], suffixes=("", "_cli"))
    assert len(merged) == 4
    for col in ("mae", "rmse", "mase", "smape", "coverage_80", "coverage_95"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_cli"], rtol=1e-9)
    assert {s["model"] for s in out["summary"]} == {"naive", "ets"}


def test_covariates_and_their_future(server):
    frame = monthly(1, 60, seed=3)
    promo = (np.arange(60) % 6 == 0).astype(float)
    frame["units"] = frame["units"] + 30 * promo
    req = body(frame, horizon=6, model="arima", levels=[80, 95])
    req["series"][0]["covariates"] = {"promo": promo.tolist()}
    fut = [1.0, 0, 0, 0, 0, 0]
    req["series"][0]["future_covariates"] = {"promo": fut}
    with server.client() as c:
        with_promo = c.post("/v1/forecast", json=req)
        req["series"][0]["future_covariates"] = {"promo": [0.0] * 6}
        without = c.post("/v1/forecast", json=req)
    assert with_promo.status_code == 200 and without.status_code == 200, with_promo.text
    lift = with_promo.json()["forecasts"][0]["mean"][0] - without.json()["forecasts"][0]["mean"][0]
    assert lift == pytest.approx(30, abs=8)      # the promotion's effect, learnt from the history


def _bad(series_patch=None, **top):
    frame = monthly(1, 36)
    req = body(frame, horizon=6, model="naive")
    if series_patch:
        req["series"][0].update(series_patch)
    req.update(top)
    return req


TS = body(monthly(1, 36))["series"][0]["timestamps"]
BAD = [
    ("values holds a string", _bad({"values": ["12"] + [1.0] * 35}), 422, "series[0].values[0]"),
    ("horizon is a float", _bad(horizon=2.5), 422, "horizon"),
    ("horizon is missing", {k: v for k, v in _bad().items() if k != "horizon"}, 422, "horizon"),
    ("an unknown field", _bad(horizn=3), 422, "horizn"),
    ("series is not a list", _bad(series={"id": "A"}), 422, "series"),
    ("unequal lengths", _bad({"values": [1.0] * 35}), 422, "series[0].values"),
    ("an unreadable date", _bad({"timestamps": TS[:5] + ["2020-02-30"] + TS[6:]}), 422, "series[0].timestamps[5]"),
    ("not a date at all", _bad({"timestamps": ["soon"] + TS[1:]}), 422, "series[0].timestamps[0]"),
    ("a repeated date", _bad({"timestamps": TS[:1] + TS[:35]}), 422, "series[0].timestamps[1]"),
    ("horizon 0", _bad(horizon=0), 422, "horizon"),
    ("horizon over the limit", _bad(horizon=61), 422, "horizon"),
    ("an unknown model", _bad(model="prophet"), 422, "model"),
    ("an unknown setting", _bad(model="ets", settings={"ets": {"smoothing": 1}}), 422, "settings"),
    ("a setting for another model", _bad(settings={"ets": {"damped": True}}), 422, "settings"),
    ("a negative seed", _bad(seed=-1), 422, "seed"),
    ("a season longer than the history", _bad(season_length=10**9), 422, "season_length"),
    ("a level of 100", _bad(levels=[80, 100]), 422, "levels[1]"),
    ("all values null", _bad({"values": [None] * 36}), 422, "series[0].values"),
    ("a covariate of another length", _bad({"covariates": {"price": [1.0] * 30}}), 422, "series[0].covariates.price"),
    ("a future covariate without history", _bad({"future_covariates": {"price": [1.0] * 6}}), 422,
     "series[0].future_covariates.price"),
    ("a frequency finer than the data", _bad(freq="D"), 422, ""),
    ("too many points", _bad({"timestamps": pd.date_range("1990-01-01", periods=20001, freq="D").strftime("%Y-%m-%d").tolist(),
                              "values": [1.0] * 20001}), 413, "series"),
    ("too many series", {**_bad(), "series": [dict(_bad()["series"][0], id=f"s{i}") for i in range(41)]}, 413, "series"),
]


@pytest.mark.parametrize("what, req, status, field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_json_error(server, what, req, status, field):
    with server.client() as c:
        r = c.post("/v1/forecast", json=req)
    assert r.status_code == status, r.text
    err = r.json()
    assert isinstance(err["error"], str) and err["error"]
    if field:
        assert field in err["error"] and any(d["field"] == field for d in err["detail"]), err
    assert "Traceback" not in r.text


@pytest.mark.parametrize("raw, field", [
    (b'{"series": [{"id": "A", "timestamps": ["2020-01-01"], "values": [NaN]}], "horizon": 2}', "series[0].values[0]"),
    (b'{"series": [{"id": "A", "timestamps": ["2020-01-01"], "values": [Infinity]}], "horizon": 2}', "series[0].values[0]"),
    (b'{"series": [{"id": "A", "timestamps": ["2020-01', "body"),
    (b"", "body"),
    (b"[1, 2]", "body"),
])
def test_malformed_and_non_finite_json(server, raw, field):
    with server.client() as c:
        r = c.post("/v1/forecast", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(d["field"] == field for d in r.json()["detail"]), r.json()


def test_body_over_the_limit_is_413(server):
    big = b'{"series": [' + b" " * (1024 * 1024 + 10) + b"]}"
    with server.client() as c:
        r = c.post("/v1/forecast", content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "limit" in r.json()["error"]

        def chunks():                     # no Content-Length: the limit still holds while reading
            yield b'{"series": ['
            for _ in range(20):
                yield b" " * 65536

        r = c.post("/v1/forecast", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert c.get("/health").status_code == 200


def test_backtest_errors(server):
    frame = monthly(1, 36)
    with server.client() as c:
        r = c.post("/v1/backtest", json=body(frame, horizon=6, windows=13, model="naive"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "windows"
        r = c.post("/v1/backtest", json=body(frame, horizon=6, models=["naive", "nope"]))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "models[1]"
        r = c.get("/v1/nothing-here")
        assert r.status_code == 404 and "error" in r.json()


def test_tokens(auth_server):
    req = body(monthly(1, 36), horizon=3, model="naive")
    with auth_server.client() as c:
        assert c.get("/health").status_code == 200             # liveness stays open
        r = c.post("/v1/forecast", json=req)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/models").status_code == 401
    with auth_server.client(token="wrong") as c:
        assert c.post("/v1/forecast", json=req).status_code == 401
    for token in TOKENS:
        with auth_server.client(token=token) as c:
            r = c.post("/v1/forecast", json=req)
            assert r.status_code == 200 and len(r.json()["forecasts"][0]["mean"]) == 3
    assert "authentication on (2 token(s)" in auth_server.log()


def test_job_from_submit_to_result(server):
    req = body(monthly(3, 48), horizon=4, model="ets")
    with server.client() as c:
        direct = c.post("/v1/forecast", json=req).json()
        r = c.post("/v1/jobs", json={"kind": "forecast", "request": req})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("queued", "running") and r.headers["location"] == f"/v1/jobs/{job['id']}"
        import time

        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = c.get(f"/v1/jobs/{job['id']}").json()
        assert job["status"] == "done", job
        assert job["progress"]["fraction"] == 1.0 and job["finished"]
        assert job["result"]["forecasts"] == direct["forecasts"]
        bad = c.post("/v1/jobs", json={"kind": "forecast", "request": {**req, "horizon": "4"}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "request.horizon"
        bad = c.post("/v1/jobs", json={"kind": "forecast", "request": {**req, "model": "nope"}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "request.model"
        assert c.post("/v1/jobs", json={"kind": "train", "request": req}).status_code == 422
        assert c.get("/v1/jobs/does-not-exist").status_code == 404


def _slow_request() -> dict:
    """A backtest that takes minutes on one core: 40 series × 12 windows of ets (15 forms each)."""
    return body(monthly(40, 100, seed=5), horizon=6, windows=12, model="ets")


def _pool_goes_idle(c, within: float = 30) -> bool:
    """Nothing runs or waits in the pool within ``within`` seconds (a task's slot is freed only when its
    worker has returned, so this is the worker stopping, not the request being forgotten)."""
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if c.get("/v1/status").json()["busy"] == 0:
            return True
        time.sleep(0.2)
    return False


def _quick(c) -> float:
    import time

    t = time.monotonic()
    r = c.post("/v1/forecast", json=body(monthly(1, 36), horizon=3, model="naive"))
    assert r.status_code == 200
    return time.monotonic() - t


@pytest.mark.slow
def test_cancelling_a_job_stops_its_work(server):
    import time

    with server.client() as c:
        job = c.post("/v1/jobs", json={"kind": "backtest", "request": _slow_request()}).json()
        for _ in range(200):       # wait until it has done some series
            time.sleep(0.2)
            view = c.get(f"/v1/jobs/{job['id']}").json()
            if view["progress"]["stage"] == "backtest" and view["progress"]["done"] >= 1:
                break
        assert view["status"] == "running", view
        assert c.delete(f"/v1/jobs/{job['id']}").status_code == 200
        # the only worker stops, long before the 40 series × 12 windows would be done (minutes)
        assert _pool_goes_idle(c)
        assert _quick(c) < 30
        view = c.get(f"/v1/jobs/{job['id']}").json()
        assert view["status"] == "cancelled" and view["progress"]["done"] < view["progress"]["total"]


@pytest.mark.slow
def test_a_client_that_hangs_up_stops_its_work(server):
    import socket
    import time

    payload = json.dumps(_slow_request()).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/backtest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    with server.client() as c:
        time.sleep(3)                 # it is running on the only worker now
        assert c.get("/v1/status").json() == {"workers": 1, "busy": 1, "max_queue": 256}
        s.close()
        assert _pool_goes_idle(c)
        assert _quick(c) < 30


@pytest.mark.slow
def test_requests_beyond_the_pool_queue(server):
    """Six concurrent forecasts on a one-worker service: all answered, by that one worker process."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    req = body(monthly(2, 48), horizon=3, model="ets")

    def one(_):
        return httpx.post(server.url + "/v1/forecast", json=req, timeout=300)

    with ThreadPoolExecutor(6) as ex:
        rs = list(ex.map(one, range(6)))
    assert [r.status_code for r in rs] == [200] * 6
    assert all(r.json()["forecasts"] == rs[0].json()["forecasts"] for r in rs)
    assert len(server.workers()) == 1


def test_serve_refuses_a_port_in_use_and_bad_settings(server):
    p = _cli("serve", "--port", server.port)
    assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith("error: cannot listen")
    env_bad = subprocess.run([sys.executable, "-m", "forecasting", "serve", "--port", "1"], cwd=ROOT, text=True,
                             capture_output=True, env={**__import__("os").environ, "SALESCAST_API_MAX_BODY_MB": "lots"})
    assert env_bad.returncode == 2 and "SALESCAST_API_MAX_BODY_MB" in env_bad.stderr and "Traceback" not in env_bad.stderr


@pytest.mark.slow
def test_runs_read_the_workspace(server, auth_server, tmp_path):
    frame = monthly(2, 48, seed=7)
    frame.to_csv(tmp_path / "sales.csv", index=False)
    with server.client() as c:
        empty = c.get("/v1/runs")      # no run recorded yet: no workspace.json, or only the jobs' (jobs test first)
        assert (empty.status_code == 404) is not (server.workspace / "workspace.json").exists()
        assert empty.status_code == 404 or empty.json()["runs"] == []
        p = _cli("forecast", tmp_path / "sales.csv", "--date-col", "month", "--target-col", "units", "--id-cols",
                 "store", "--horizon", 4, "--model", "naive", "--engine", "serial", "--workspace", server.workspace,
                 "--output", tmp_path / "out.csv")
        assert p.returncode == 0, p.stderr
        runs = c.get("/v1/runs").json()["runs"]
        assert len(runs) == 1 and runs[0]["kind"] == "forecast" and runs[0]["status"] == "finished"
        run_id = runs[0]["id"]
        show = c.get(f"/v1/runs/{run_id}").json()
        assert show["id"] == run_id and show["models"] == ["naive"] and show["n_series"] == 2
        assert show["config"]["horizon"] == 4
        fc = c.get(f"/v1/runs/{run_id}/forecasts").json()
        assert c.get("/v1/runs/not-a-run").status_code == 404
        assert c.get("/v1/runs/not-a-run/forecasts").status_code == 404
        assert c.get("/v1/runs", params={"kind": "backtest"}).json()["runs"] == []
    cli = pd.read_csv(tmp_path / "out.csv")
    assert [f["id"] for f in fc["forecasts"]] == ["S0", "S1"]
    for f in fc["forecasts"]:
        g = cli[cli["store"] == f["id"]]
        assert f["model"] == "naive" and f["timestamps"] == g["date"].tolist()
        np.testing.assert_allclose(f["mean"], g["forecast"], rtol=1e-12)
        np.testing.assert_allclose(f["hi_95"], g["hi_95"], rtol=1e-12)
        np.testing.assert_allclose(f["final"], g["forecast"], rtol=1e-12)      # no override: final = statistical
        assert f["override"] == [0.0] * len(g)
    with auth_server.client(token=TOKENS[0]) as c:          # started without a workspace
        r = c.get("/v1/runs")
        assert r.status_code == 404 and "--workspace" in r.json()["error"]
