"""The HTTP API's jobs in the workspace database (table ``api_jobs``), so ``GET /v1/jobs/{id}`` still answers
after the service restarts: a finished job keeps its status and result; a job that was queued or running when
its service stopped (a restart, a crash, a killed process) is reported ``failed`` with an ``interrupted`` error.

The service process that runs a job is recorded (host, pid, process start time): a stored job still marked
queued or running whose process is gone on this host is interrupted. A job of another host's service is
reported as that service last stored it.
"""
from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import sqlalchemy as sa

from forecasting.store import db
from forecasting.store.workspace import Workspace, _proc_started

ACTIVE = ("queued", "running")
INTERRUPTED = ("interrupted: the service stopped (a restart, a crash or a killed process) before this job "
               "finished; its work is lost, submit it again")


def _dump(v: Any) -> str | None:
    return None if v is None else json.dumps(v, allow_nan=False, separators=(",", ":"))


def _load(v: str | None) -> Any:
    return None if v is None else json.loads(v)


def record(ws: Workspace, job_id: str, kind: str, created: str) -> None:
    """A job accepted by this service process (status ``queued``)."""
    pid = os.getpid()
    with ws.engine.begin() as conn:
        conn.execute(db.api_jobs.insert().values(
            id=job_id, workspace_id=ws.id, kind=kind, status="queued", created=created, host=socket.gethostname(),
            pid=pid, pid_started=_proc_started(pid), updated=time.time()))


def finish(ws: Workspace, job_id: str, *, status: str, finished: str | None, progress: dict | None,
           result: dict | None = None, error: dict | None = None, keep: int | None = None) -> None:
    """Store a job's end; with ``keep``, only the ``keep`` most recently finished jobs of the workspace stay."""
    with ws.engine.begin() as conn:
        conn.execute(db.api_jobs.update().where(db.api_jobs.c.id == job_id).values(
            status=status, finished=finished, progress=_dump(progress), result=_dump(result), error=_dump(error),
            updated=time.time()))
        if keep is not None:
            t = db.api_jobs
            done = sa.and_(t.c.workspace_id == ws.id, t.c.status.notin_(ACTIVE))
            cut = conn.execute(sa.select(t.c.updated).where(done).order_by(t.c.updated.desc())
                               .offset(keep).limit(1)).scalar()
            if cut is not None:
                conn.execute(t.delete().where(done, t.c.updated <= cut))


def _gone(row) -> bool:
    if row.host != socket.gethostname() or not row.pid:
        return False             # another machine's service: reported as stored
    started = _proc_started(int(row.pid))
    return started is None or (row.pid_started is not None and abs(started - row.pid_started) > 1.0)


def interrupted_error() -> dict[str, Any]:
    return {"error": INTERRUPTED, "detail": [], "interrupted": True}


def load(ws: Workspace, job_id: str) -> dict[str, Any] | None:
    """The job as ``GET /v1/jobs/{id}`` shows it, or None when the workspace has no such job."""
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(db.api_jobs).where(db.api_jobs.c.id == str(job_id),
                                                        db.api_jobs.c.workspace_id == ws.id)).first()
    if row is None:
        return None
    status, finished, error = row.status, row.finished, _load(row.error)
    progress = _load(row.progress) or {"done": 0.0, "total": None, "fraction": None, "stage": ""}
    if status in ACTIVE and _gone(row):
        from datetime import datetime, timezone

        error = interrupted_error()
        status, finished = "failed", datetime.now(timezone.utc).isoformat(timespec="seconds")
        finish(ws, row.id, status=status, finished=finished, progress=progress, error=error)
    return {"id": row.id, "kind": row.kind, "status": status, "progress": progress, "created": row.created,
            "finished": finished, "result": _load(row.result), "error": error}
