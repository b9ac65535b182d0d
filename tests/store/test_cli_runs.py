"""``backtest/forecast --workspace`` and ``runs list|show|resume|export|delete``, through the real CLI in
subprocesses; a run killed with SIGKILL shows ``interrupted``, resumes, and exports what an
uninterrupted run exports."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import ROOT

SALES = str(ROOT / "sample_data" / "store_sales_daily.csv")


def cli(*args, env=None, check=True, timeout=600):
    e = {k: v for k, v in os.environ.items() if k != "SALESCAST_WORKSPACE"}
    e.update({"PYTHONPATH": str(ROOT), **(env or {})})
    p = subprocess.run([sys.executable, "-m", "forecasting", *args], capture_output=True, text=True, env=e,
                       cwd=str(ROOT), timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr[-2000:]}")
    return p


def runs_json(ws, **kw):
    return json.loads(cli("runs", "list", "--workspace", str(ws), "--json", **kw).stdout)


BT = ["backtest", SALES, "--horizon", "7", "--windows", "2", "--models", "seasonal_naive,ets"]


def test_unknown_id_and_missing_workspace(tmp_path):
    ws = tmp_path / "ws"
    cli(*BT, "--engine", "serial", "--models", "naive", "--output", str(tmp_path / "m.csv"), "--workspace", str(ws))
    for action in (["show", "nope"], ["resume", "nope"], ["delete", "nope"],
                   ["export", "nope", "--output", str(tmp_path / "x.csv")]):
        p = cli("runs", *action, "--workspace", str(ws), check=False)
        assert p.returncode == 2, action
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "nope" in lines[0], p.stderr
    p = cli("runs", "list", check=False)
    assert p.returncode == 2 and p.stderr.strip().startswith("error: no workspace")
    p = cli("runs", "list", "--workspace", str(tmp_path / "none"), check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1


@pytest.mark.slow
def test_workspace_run_list_show_export_delete(tmp_path):
    ws = tmp_path / "ws"
    out = tmp_path / "plain.csv"
    quick = [*BT, "--models", "naive,seasonal_naive"]
    cli(*quick, "--engine", "serial", "--output", str(out))          # no workspace: nothing recorded
    assert not ws.exists()
    cli(*quick, "--engine", "local", "--output", str(tmp_path / "m.csv"), "--save-forecasts", str(tmp_path / "f.csv"),
        env={"SALESCAST_WORKSPACE": str(ws)})                       # SALESCAST_WORKSPACE is the default
    cli("forecast", SALES, "--horizon", "7", "--model", "seasonal_naive", "--output", str(tmp_path / "fc.csv"),
        "--workspace", str(ws), "--engine", "serial")
    runs = runs_json(ws)
    assert [r["kind"] for r in runs] == ["backtest", "forecast"]
    for r in runs:
        assert {"id", "kind", "status", "created", "finished", "dataset", "n_series", "series_done",
                "models"} <= set(r)
        assert r["status"] == "finished" and r["n_series"] == r["series_done"] == 12
        assert r["dataset"] == "store_sales_daily.csv" and r["finished"] >= r["created"]
    bt, fc = runs
    assert bt["models"] == ["naive", "seasonal_naive"] and fc["models"] == ["seasonal_naive"]
    shown = json.loads(cli("runs", "show", bt["id"], "--workspace", str(ws), "--json").stdout)
    assert shown["config"]["horizon"] == 7 and shown["versions"]["pandas"] == pd.__version__
    assert "total_s" in shown["timings"]
    table = cli("runs", "list", "--workspace", str(ws)).stdout
    assert bt["id"] in table and "12/12" in table
    # export equals what the backtest command wrote (same rows; the store keeps one canonical order)
    cli("runs", "export", bt["id"], "--workspace", str(ws), "--output", str(tmp_path / "e.csv"),
        "--forecasts", str(tmp_path / "ef.csv"))
    keys = ["store", "product", "model"]
    a = pd.read_csv(tmp_path / "m.csv").sort_values(keys).reset_index(drop=True)
    b = pd.read_csv(tmp_path / "e.csv").sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(pd.read_csv(tmp_path / "ef.csv")) == len(pd.read_csv(tmp_path / "f.csv"))
    cli("runs", "export", fc["id"], "--workspace", str(ws), "--output", str(tmp_path / "efc.xlsx"))
    xl = pd.read_excel(tmp_path / "efc.xlsx", sheet_name=None)
    assert set(xl) == {"forecast", "settings"} and len(xl["forecast"]) == 12 * 7
    p = cli("runs", "export", fc["id"], "--workspace", str(ws), "--forecasts", str(tmp_path / "z.csv"), check=False)
    assert p.returncode == 2
    cli("runs", "delete", fc["id"], "--workspace", str(ws))
    assert [r["id"] for r in runs_json(ws)] == [bt["id"]]


def _runs(folder):
    from forecasting.store import open_workspace

    return open_workspace(folder, create=False).list_runs()


def _stored(folder, run_id) -> int:
    from forecasting.store import open_workspace

    return open_workspace(folder, create=False).series_stored(run_id)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local"])   # the serial engine: tests/store/test_jobs.py
def test_sigkill_interrupted_resume_equals_uninterrupted(tmp_path, engine):
    ws = tmp_path / "ws"
    args = [*BT, "--engine", engine, "--workspace", str(ws)]
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    e.pop("SALESCAST_WORKSPACE", None)
    proc = subprocess.Popen([sys.executable, "-m", "forecasting", *args, "--output", str(tmp_path / "k.csv")],
                            cwd=str(ROOT), env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    seen, deadline = [], time.monotonic() + 300
    try:
        while time.monotonic() < deadline:           # series_done follows the run live
            # read in this process (a `runs list` subprocess takes seconds under load: the run could finish
            # between seeing its progress and the kill)
            runs = _runs(ws) if (ws / "workspace.json").exists() else []
            if runs:
                seen.append(runs[0].series_done)
                # progress is reported as the engine finishes series; kill once a first part is also stored
                if runs[0].series_done >= 3 and _stored(ws, runs[0].id) >= 1:
                    break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)          # the CLI and its worker processes
        proc.wait()
    assert seen and seen[-1] >= 3
    run = runs_json(ws)[0]
    assert run["status"] == "interrupted" and 0 < run["series_done"] < 12
    p = cli("runs", "export", run["id"], "--workspace", str(ws), "--output", str(tmp_path / "x.csv"), check=False)
    assert p.returncode == 2 and "resume" in p.stderr
    cli("runs", "resume", run["id"], "--workspace", str(ws))
    resumed = runs_json(ws)[0]
    assert resumed["status"] == "finished" and resumed["series_done"] == 12
    # an uninterrupted run of the same command in the same workspace
    cli(*args, "--output", str(tmp_path / "u.csv"))
    full = runs_json(ws)[1]
    for flag, name in (("--output", "metrics"), ("--forecasts", "forecasts")):
        cli("runs", "export", run["id"], "--workspace", str(ws), flag, str(tmp_path / f"r_{name}.csv"))
        cli("runs", "export", full["id"], "--workspace", str(ws), flag, str(tmp_path / f"u_{name}.csv"))
        assert (tmp_path / f"r_{name}.csv").read_bytes() == (tmp_path / f"u_{name}.csv").read_bytes()
