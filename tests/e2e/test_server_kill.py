"""The app server killed (SIGKILL) in the middle of a backtest started in a real browser: the run goes on in its
own worker process; killed too, the run is shown as interrupted when a new server opens the link, keeps every
series it finished, and the Resume button completes it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

pytest.importorskip("playwright.sync_api")

from forecasting.store import open_workspace
from tests.e2e.conftest import ARTIFACTS, ROOT, _free_port
from tests.e2e.test_browser_journey import TIMEOUT, settle
from tests.e2e.test_workspace_browser import _wait_http, start_backtest
from tests.waiting import wait_until as _wait

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _serve(home, log_name: str):
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT), "SALESCAST_HOME": str(home)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_http(url, proc, "streamlit")
    return proc, url, log




def _stop(proc, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    log.close()


def test_killing_the_server_mid_run_keeps_the_run_and_resume_completes_it(browser, tmp_path):
    home = tmp_path / "home"
    proc, url, log = _serve(home, "streamlit-kill-1.log")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    proc2 = log2 = None
    try:
        wid = start_backtest(page, url)
        ws = open_workspace(home / "workspaces" / wid, create=False)
        run = ws.list_runs("backtest")[0].id
        _wait(lambda: ws.series_stored(run) >= 1, every=0.05)

        os.kill(proc.pid, signal.SIGKILL)                      # the server dies mid-run
        proc.wait(10)
        at_kill = ws.series_stored(run)
        assert ws.get_run(run).status == "running" and at_kill < 12
        # the run's worker is its own process session: it goes on without the server
        _wait(lambda: ws.series_stored(run) > at_kill or ws.get_run(run).status == "finished")
        rec = ws.get_run(run)
        if rec.status == "running":                            # then the worker dies too (a machine restart)
            pid = int((home / "jobs" / f"{run}.pid").read_text())
            os.kill(pid, signal.SIGKILL)
            rec = _wait(lambda: (r := ws.get_run(run)).status == "interrupted" and r)
            kept = ws.prior_results(run)
            assert rec.series_done == len(kept.series) < 12
            before = pd.concat([p["forecasts"] for p in kept.results if p.get("forecasts") is not None],
                               ignore_index=True)
            assert before["unique_id"].nunique() == len(kept.series)

            proc2, url2, log2 = _serve(home, "streamlit-kill-2.log")   # a new server opens the link
            page.goto(f"{url2}/Runs?ws={wid}")
            page.wait_for_selector("text=1 run(s) in this workspace", timeout=TIMEOUT)
            settle(page)
            resume = page.get_by_role("button", name="Resume").first   # offered for a stopped or interrupted run
            try:
                resume.wait_for(timeout=TIMEOUT)
            finally:
                page.screenshot(path=str(ARTIFACTS / "ws_kill_runs_page.png"))
            assert ws.get_run(run).status == "interrupted"
            resume.click()
            _wait(lambda: ws.get_run(run).status == "finished", timeout=900)
            final_fc = ws.run_frames(run)["forecasts"]
            # nothing finished was lost: the kept series' forecasts are in the result unchanged, none run twice
            keys = ["unique_id", "model", "cutoff", "ds"]
            merged = before[keys + ["forecast"]].merge(final_fc[keys + ["forecast"]], on=keys, suffixes=("", "_final"))
            assert len(merged) == len(before)
            pd.testing.assert_series_equal(merged["forecast"], merged["forecast_final"], check_names=False)
        else:
            assert rec.series_done == 12                       # finished without the server
        final = ws.get_run(run)
        assert final.status == "finished" and final.series_done == 12
        metrics = ws.run_frames(run)["metrics"]
        assert metrics["unique_id"].nunique() == 12 and not metrics.duplicated(["unique_id", "model"]).any()
        page.screenshot(path=str(ARTIFACTS / "ws_kill_resumed.png"))
    finally:
        ctx.close()
        _stop(proc, log)
        if proc2 is not None:
            _stop(proc2, log2)
