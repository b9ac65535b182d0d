"""Background runs: a worker process per run, at most ``slots()`` at once, the rest queued; Stop keeps the
finished series; a SIGKILLed worker leaves an interrupted run that resumes to the uninterrupted result."""
from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

from forecasting.pipeline import BacktestConfig
from forecasting.store import jobs, open_workspace
from forecasting.store.execute import config_of, execute_run
from tests.waiting import wait_until as wait

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path, monkeypatch, store_sales):
    monkeypatch.setenv("SALESCAST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SALESCAST_DATABASE_URL", raising=False)
    w = open_workspace(tmp_path / "ws")
    path, dataset = store_sales
    w.ds_id = w.add_dataset(dataset, raw=path, name=path.name, mapping={}, treatments=[]).id
    return w


# sarima (~1 s a series here) keeps a run busy long enough for a Stop or a kill to land mid-run: with ets the
# 12 series finish in about a second, before the Stop, and the run ends "finished"
SLOW = ("seasonal_naive", "sarima")


def new_run(ws, models=SLOW):
    cfg = BacktestConfig(horizon=7, models=list(models), windows=2, engine="serial")
    return ws.create_run("backtest", ws.ds_id, config_of("backtest", cfg))


def test_queue_one_run_per_slot_and_stop(ws, monkeypatch):
    monkeypatch.setenv("SALESCAST_MAX_RUNS", "1")
    a, b = new_run(ws), new_run(ws, ("naive",))
    assert jobs.dispatch(ws) == [a]                      # one slot: the second waits in the queue
    assert ws.get_run(b).status == "queued"
    wait(lambda: ws.get_run(a).series_done >= 2)
    jobs.stop_run(ws, a)                                 # the Stop button
    wait(lambda: ws.get_run(a).status == "stopped")
    stopped = ws.get_run(a)
    assert 2 <= stopped.series_done < 12
    assert set(ws.run_frames(a)["metrics"]["unique_id"]) == ws.prior_results(a).series
    wait(lambda: ws.get_run(b).status == "finished")     # the worker that ended started the next one
    assert ws.get_run(b).series_done == 12
    wait(lambda: not jobs.live_jobs(), timeout=30)


def test_sigkilled_worker_is_interrupted_and_resumes(ws):
    run = new_run(ws)
    jobs.dispatch(ws)
    # kill once a first series is kept (the serial engine keeps each series as it finishes)
    wait(lambda: ws.series_stored(run) >= 1, every=0.05)
    assert ws.get_run(run).status == "running"
    pid = int((jobs._jobs_dir() / f"{run}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    rec = wait(lambda: (r := ws.get_run(run)).status == "interrupted" and r)
    kept = ws.prior_results(run).series
    # the store says what it kept, and the run says no more
    assert 1 <= rec.series_done == len(kept) < 12
    jobs.queue_run(ws, run)                              # the Resume button
    wait(lambda: ws.get_run(run).status == "finished")
    full = new_run(ws)
    execute_run(ws, full)
    a, b = ws.run_frames(run), ws.run_frames(full)
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)
