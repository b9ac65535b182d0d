"""The local engine: a process pool on this machine (the default).

Workers are started with ``spawn`` (safe under the Streamlit server's threads), each limited to one
BLAS / torch thread. A worker that dies (killed, out of memory) breaks a ``ProcessPoolExecutor``; the
partitions not finished yet are then run again on a fresh pool, up to ``max_restarts`` times.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from forecasting.engines.partition import default_workers
from forecasting.engines.tracker import Tracker, cancelled_with
from forecasting.engines.worker import init_pool_worker, run_pool_partition

POLL_SECONDS = 0.25


def run(fn: Callable, partitions: Sequence[Any], *, tracker: Tracker, n_workers: int | None = None,
        shared: Any = None, has_shared: bool = False, max_restarts: int = 2, **_: Any) -> list[Any]:
    from forecasting.errors import EngineError

    ctx = mp.get_context("spawn")
    results: list[Any] = [None] * len(partitions)
    pending = set(range(len(partitions)))
    restarts = 0
    while pending:
        broken = _run_pool(ctx, fn, partitions, sorted(pending), results, pending, tracker,
                           default_workers("local", n_workers), shared, has_shared)
        if broken:
            restarts += 1
            if restarts > max_restarts:
                raise EngineError(
                    f"a worker process died {restarts} times ({len(pending)} of {len(partitions)} partitions "
                    "unfinished); the machine may be out of memory: try fewer workers or the serial engine")
            for i in pending:
                tracker.lost(i)
    return results


def _run_pool(ctx, fn, partitions, todo, results, pending, tracker, n_workers, shared, has_shared) -> bool:
    """Run ``todo`` on one pool. Returns True when the pool broke (a worker died) before the end."""
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=max(1, min(n_workers, len(todo))), mp_context=ctx,
                               initializer=init_pool_worker, initargs=(q, shared, has_shared))
    clean = False
    try:
        futures = {pool.submit(run_pool_partition, fn, i, partitions[i]): i for i in todo}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            _drain(q, tracker)
            for fut in done:
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except BrokenProcessPool:
                    return True
                pending.discard(i)
                tracker.done(i, results[i])
            tracker.emit()
            if tracker.cancelled:
                raise cancelled_with(results)
        clean = True
        return False
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            _terminate(pool)
        q.close()
        q.cancel_join_thread()


def _drain(q, tracker: Tracker) -> None:
    while True:
        try:
            index, n, message = q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError, ValueError):
            return
        tracker.tick(index, n, message)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now (error, cancel or broken pool): cancel queued work and end its processes."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
