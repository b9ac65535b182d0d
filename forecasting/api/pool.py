"""The worker pool: requests run in ``workers`` processes, one request per process on one core, so work
beyond the pool waits in the queue instead of oversubscribing the CPU; the event loop only parses and
answers.

Each task holds a *slot* (at most ``max_queue`` running or waiting, else :class:`Busy`): a byte the service
sets to cancel it (the worker's progress callback then raises :class:`~forecasting.progress.Cancelled`,
which the library honours between series and between a network's epochs) and three doubles the worker
writes progress into (done, total, stage), read by ``GET /v1/jobs/{id}``. A task not yet started is simply
dropped. Workers are spawned (never forked: CUDA and threads), import the models once, and exit when the
service's process goes away.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

STAGES = ["", "ingest", "forecast", "backtest", "train"]
_W: dict[str, Any] = {}   # in a worker: the shared arrays


class Busy(Exception):
    """Every slot is taken: the service answers 503 with Retry-After."""


def _watch_parent(pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != pid:
            os._exit(0)


def _init_worker(cancel, progress, parent: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    _W.update(cancel=cancel, progress=progress)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # the statistical models' imports once per worker, not on a request's clock
    import scipy.optimize  # noqa: F401
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401

    from forecasting.api.work import run_task

    # one small forecast: the first fit in a process pays for lazy imports and caches (about a second)
    stamps = [f"{2018 + i // 12}-{i % 12 + 1:02d}-01" for i in range(36)]
    run_task("forecast", {"series": [{"id": "warm-up", "timestamps": stamps, "values": [10.0 + i % 12 for i in range(36)]}],
                          "horizon": 3, "model": "ets", "levels": [80, 95]})


def _warm() -> int:
    time.sleep(0.2)     # hold this worker so the next warm-up goes to another one
    return os.getpid()


def _execute(kind: str, body: dict, slot: int):
    from forecasting.api.work import run_task
    from forecasting.progress import Cancelled

    cancel, prog = _W["cancel"], _W["progress"]

    def progress(ev) -> None:
        if ev.total:
            prog[3 * slot], prog[3 * slot + 1] = float(ev.done), float(ev.total)
            prog[3 * slot + 2] = float(STAGES.index(ev.stage)) if ev.stage in STAGES else 0.0
        if cancel[slot]:
            raise Cancelled("cancelled by the client")

    out = run_task(kind, body, progress)
    return ("cancelled", None) if cancel[slot] else out


class WorkerPool:
    def __init__(self, workers: int, max_queue: int):
        self.workers, self.max_queue = int(workers), int(max_queue)
        self._ctx = mp.get_context("spawn")
        self._cancel = self._ctx.RawArray("b", self.max_queue)
        self._progress = self._ctx.RawArray("d", 3 * self.max_queue)
        self._free = list(range(self.max_queue - 1, -1, -1))
        self._lock = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker,
                                   initargs=(self._cancel, self._progress, os.getpid()))

    def warm_up(self) -> None:
        """Start every worker now (imports take seconds) rather than on the first requests."""
        for f in [self._executor.submit(_warm) for _ in range(self.workers)]:
            f.result()

    # -- slots

    def acquire(self) -> int:
        with self._lock:
            if not self._free:
                raise Busy()
            slot = self._free.pop()
        self._cancel[slot] = 0
        self._progress[3 * slot:3 * slot + 3] = [0.0, 0.0, 0.0]
        return slot

    def release(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)

    @property
    def in_use(self) -> int:
        return self.max_queue - len(self._free)

    def progress(self, slot: int) -> dict[str, Any]:
        done, total, stage = self._progress[3 * slot:3 * slot + 3]
        return {"done": done, "total": total or None, "fraction": (min(1.0, done / total) if total else None),
                "stage": STAGES[int(stage)] if 0 <= int(stage) < len(STAGES) else ""}

    # -- tasks

    def submit(self, kind: str, body: dict, slot: int, on_done=None) -> Future:
        """Queue a task on ``slot`` (from :meth:`acquire`); the slot is released when the task is over,
        not before: a cancelled task may still be finishing its current series with it. ``on_done(future)``
        runs first, while the slot's progress is still the task's."""
        try:
            future = self._executor.submit(_execute, kind, body, slot)
        except BrokenProcessPool:
            self._restart()
            try:
                future = self._executor.submit(_execute, kind, body, slot)
            except BaseException:
                self.release(slot)
                raise
        except BaseException:
            self.release(slot)
            raise
        if on_done is not None:
            future.add_done_callback(on_done)   # before the release: it may still read the slot's progress
        future.add_done_callback(lambda _f: self.release(slot))
        return future

    def _restart(self) -> None:
        with self._lock:
            if getattr(self._executor, "_broken", False):
                self._executor = self._new_executor()

    def cancel(self, slot: int, future: Future | None) -> None:
        self._cancel[slot] = 1
        if future is not None:
            future.cancel()          # not started yet: never runs

    async def run(self, kind: str, body: dict, slot: int, disconnected=None, poll_s: float = 0.05):
        """Run one task and wait for it; ``disconnected`` (an async callable) is polled, and when it says
        the client went away the task is cancelled and ``("cancelled", None)`` returned at once."""
        future = self.submit(kind, body, slot)
        wrapped = asyncio.wrap_future(future)
        try:
            while True:
                done, _ = await asyncio.wait({wrapped}, timeout=poll_s)
                if done:
                    return self._outcome(wrapped)
                if disconnected is not None and await disconnected():
                    self.cancel(slot, future)
                    return "cancelled", None
        except asyncio.CancelledError:
            self.cancel(slot, future)
            raise

    def _outcome(self, wrapped: asyncio.Future):
        if wrapped.cancelled():
            return "cancelled", None
        exc = wrapped.exception()
        if isinstance(exc, BrokenProcessPool):
            self._restart()
            return "error", 503, {"error": "a worker process died (out of memory?); the pool was restarted, "
                                           "try again with a smaller request", "detail": []}
        if exc is not None:
            return "error", 500, {"error": f"internal error ({type(exc).__name__})", "detail": []}
        return wrapped.result()

    def shutdown(self) -> None:
        for slot in range(self.max_queue):
            self._cancel[slot] = 1
        self._executor.shutdown(wait=False, cancel_futures=True)
