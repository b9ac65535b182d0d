"""Jobs: a forecast or backtest run in the background (``POST /v1/jobs`` -> 202 and an id), polled with
``GET /v1/jobs/{id}`` (status, progress, and the result once done), cancelled with ``DELETE``.

Jobs run on the same worker pool as direct requests and are kept in this process's memory: the
``max_jobs`` most recent finished jobs stay readable; a restart forgets them.
"""
from __future__ import annotations

import json
import secrets
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
    def __init__(self, pool: WorkerPool, max_jobs: int):
        self.pool, self.max_jobs = pool, int(max_jobs)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, kind: str, body: dict[str, Any]) -> Job:
        slot = self.pool.acquire()        # Busy when every slot is taken
        job = Job(id=secrets.token_hex(8), kind=kind, slot=slot)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        job.future = self.pool.submit(kind, body, slot, on_done=lambda f: self._finish(job, f))
        return job

    def _finish(self, job: Job, future) -> None:
        """Runs in the pool's thread when the task ends (the slot still holds its progress)."""
        job.last_progress = self.pool.progress(job.slot)
        job.finished = _now()
        if future.cancelled():
            job.status = "cancelled"
            return
        exc = future.exception()
        if exc is not None:
            job.status, job.error = "failed", {"error": f"the worker failed ({type(exc).__name__})", "detail": []}
            return
        out = future.result()
        if out[0] == "ok":
            elapsed = round((time.perf_counter() - job.t0) * 1000, 1)
            job.result = json.loads(out[1] + b',"elapsed_ms":' + str(elapsed).encode() + b"}")
            job.status = "done"
        elif out[0] == "cancelled":
            job.status = "cancelled"
        else:
            job.status, job.error = "failed", {"status": out[1], **out[2]}

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished is not None]
        for k in finished[:max(0, len(finished) - self.max_jobs)]:
            del self._jobs[k]

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

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
