"""Jobs kept in the workspace survive a restart of the service: the real service on a local port, killed
(SIGKILL: a crash) and stopped (SIGTERM), then started again on the same workspace."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.api.data import body, monthly
from tests.api.server import Server


def _wait(c, job_id: str, until, within: float = 120) -> dict:
    deadline = time.monotonic() + within
    while True:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def _slow(c) -> str:
    """A job that runs for minutes on one worker (40 series × 12 windows of ets), seen running."""
    req = body(monthly(40, 100, seed=5), horizon=6, windows=12, model="ets")
    job = c.post("/v1/jobs", json={"kind": "backtest", "request": req}).json()
    assert _wait(c, job["id"], lambda j: j["status"] == "running")["status"] == "running"
    return job["id"]


@pytest.mark.slow
def test_jobs_survive_a_restart_and_cut_off_ones_say_interrupted(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    srv = Server(args=("--workspace", str(ws)), workers=1)
    try:
        with srv.client() as c:
            done = c.post("/v1/jobs", json={"kind": "forecast", "request": body(monthly(2, 48), horizon=3,
                                                                               model="naive")}).json()
            done = _wait(c, done["id"], lambda j: j["status"] not in ("queued", "running"))
            assert done["status"] == "done", done
            crashed = _slow(c)
        workers = srv.workers()
        os.kill(srv.proc.pid, signal.SIGKILL)          # a crash: nothing is written on the way out
        srv.proc.wait(10)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        srv.stop()

    srv = Server(args=("--workspace", str(ws)), workers=1)
    try:
        with srv.client() as c:
            again = c.get(f"/v1/jobs/{done['id']}")
            assert again.status_code == 200 and again.json() == done        # result, progress and times kept
            cut = c.get(f"/v1/jobs/{crashed}").json()
            assert cut["status"] == "failed" and cut["error"]["interrupted"] is True, cut
            assert "interrupted" in cut["error"]["error"] and cut["finished"] and cut["result"] is None
            assert c.delete(f"/v1/jobs/{crashed}").json()["status"] == "failed"    # nothing left to cancel
            assert c.get("/v1/jobs/not-a-job").status_code == 404
            stopped = _slow(c)
    finally:
        srv.stop()                                     # SIGTERM: the service records its open jobs itself
    from forecasting.store import open_workspace
    from forecasting.store.db import api_jobs

    import sqlalchemy as sa

    eng = open_workspace(ws, create=False).engine
    with eng.connect() as conn:
        row = conn.execute(sa.select(api_jobs.c.status, api_jobs.c.error).where(api_jobs.c.id == stopped)).first()
    assert row.status == "failed" and '"interrupted":true' in row.error
