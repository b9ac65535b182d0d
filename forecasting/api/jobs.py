"""Jobs: a forecast or backtest run in the background (``POST /v1/jobs`` -> 202 and an id), polled with
``GET /v1/jobs/{id}`` (status, progress, and the result once done), cancelled with ``DELETE``.

Jobs run on the same worker pool as direct requests. A job of this process is followed in memory (live
progress); with a workspace (``serve --workspace DIR`` or ``SALESCAST_WORKSPACE``) every job is also kept in
the workspace database (:mod:`forecasting.store.api_jobs`), so after a restart ``GET /v1/jobs/{id}`` still
answers: finished jobs with their result, jobs cut off by the restart as ``failed`` with an ``interrupted``
error. Without a workspace a restart forgets them. Either way the ``max_jobs`` most recent finished jobs
stay readable.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from forecasting.api.pool import WorkerPool


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    kind: str
    slot: int
    created: str = field(default_factory=_now)
    t0: float = field(default_factory=time.perf_counter)
    status: str = "queued"
    finished: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    last_progress: dict[str, Any] | None = None
    future: Any = None
    cancel_asked: bool = False


class JobStore:
    def __init__(self, pool: WorkerPool, max_jobs: int, workspace: str | None = None):
        self.pool, self.max_jobs = pool, int(max_jobs)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._folder = workspace
        self._ws = None
        self._closing = False

    # -- the workspace database (None: jobs live in memory only)

    def workspace(self):
        """The workspace that keeps the jobs, opened (and created in an existing folder) on first use."""
        if self._ws is None and self._folder and os.path.isdir(os.path.expanduser(self._folder)):
            from forecasting.store import open_workspace

            self._ws = open_workspace(self._folder, create=True)
        return self._ws

    def _store(self, what: str, fn, *args, **kwargs) -> None:
        """A write to the workspace; a failing database costs the job its persistence, never its answer."""
        try:
            ws = self.workspace()
            if ws is not None:
                fn(ws, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - logged; the in-memory job stays right
            print(f"warning: could not {what} in the workspace: {type(exc).__name__}: {exc}", file=sys.stderr)

    # -- jobs

    def submit(self, kind: str, body: dict[str, Any]) -> Job:
        """Accept a job (blocking: it writes to the workspace database; call it off the event loop)."""
        from forecasting.store import api_jobs

        slot = self.pool.acquire()        # Busy when every slot is taken
        job = Job(id=secrets.token_hex(8), kind=kind, slot=slot)
        try:
            self._store("record the job", api_jobs.record, job.id, kind, job.created)
            with self._lock:
                self._jobs[job.id] = job
                self._forget_old()
            job.future = self.pool.submit(kind, body, slot, on_done=lambda f: self._finish(job, f))
        except BaseException:
            if job.future is None:
                self.pool.release(slot)
            raise
        return job

    def _finish(self, job: Job, future) -> None:
        """Runs in the pool's thread when the task ends (the slot still holds its progress)."""
        job.last_progress = self.pool.progress(job.slot)
        if self._closing:        # the service is stopping: recorded as interrupted by close()
            return
        job.finished = _now()
        if future.cancelled():
            job.status = "cancelled"
        elif future.exception() is not None:
            exc = future.exception()
            job.status, job.error = "failed", {"error": f"the worker failed ({type(exc).__name__})", "detail": []}
        else:
            out = future.result()
            if out[0] == "ok":
                elapsed = round((time.perf_counter() - job.t0) * 1000, 1)
                job.result = json.loads(out[1] + b',"elapsed_ms":' + str(elapsed).encode() + b"}")
                job.status = "done"
            elif out[0] == "cancelled":
                job.status = "cancelled"
            else:
                job.status, job.error = "failed", {"status": out[1], **out[2]}
        self._persist(job)

    def _persist(self, job: Job) -> None:
        from forecasting.store import api_jobs

        view = self.view(job)
        self._store("keep the job's result", api_jobs.finish, job.id, status=view["status"],
                    finished=view["finished"], progress=view["progress"], result=view["result"],
                    error=view["error"], keep=self.max_jobs)

    def close(self) -> None:
        """The service is stopping: jobs not finished are recorded as interrupted (their work is lost)."""
        from forecasting.store import api_jobs

        self._closing = True
        with self._lock:
            open_jobs = [j for j in self._jobs.values() if j.finished is None]
        for job in open_jobs:
            job.status, job.finished, job.error = "failed", _now(), api_jobs.interrupted_error()
            job.last_progress = job.last_progress or self.pool.progress(job.slot)
            self._persist(job)

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished is not None]
        for k in finished[:max(0, len(finished) - self.max_jobs)]:
            del self._jobs[k]

    def get(self, job_id: str) -> Job | None:
        """A job of this service process (None: ask :meth:`stored`)."""
        return self._jobs.get(job_id)

    def stored(self, job_id: str) -> dict[str, Any] | None:
        """A job kept in the workspace (an earlier run of the service), as :meth:`view` shows it (blocking)."""
        from forecasting.store import api_jobs

        ws = self.workspace()
        return None if ws is None else api_jobs.load(ws, job_id)

    def cancel(self, job: Job) -> None:
        if job.finished is None:
            job.cancel_asked = True
            self.pool.cancel(job.slot, job.future)

    def view(self, job: Job) -> dict[str, Any]:
        if job.finished is None:
            prog = self.pool.progress(job.slot)
            running = (job.future is not None and job.future.running()) or prog["total"] is not None
            status = "running" if running else "queued"
        else:
            prog, status = job.last_progress or {"done": 0.0, "total": None, "fraction": None, "stage": ""}, job.status
            if status == "done":
                prog = {**prog, "fraction": 1.0}
        return {"id": job.id, "kind": job.kind, "status": status, "progress": prog, "created": job.created,
                "finished": job.finished, "result": job.result, "error": job.error}
