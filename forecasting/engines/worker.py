"""What runs inside a worker: the partition wrapper and the per-series progress hook.

A partition function may call :func:`tick` after each series it finishes. The tick travels back to
the driver by whatever channel the engine set up (a direct call in the serial engine, a
multiprocessing queue in the local pool, a Dask event topic on a cluster), so the driver's one
progress callback moves series by series instead of partition by partition. With no listener,
:func:`tick` does nothing, so partition functions can call it unconditionally.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

_local = threading.local()
FLUSH_SECONDS = 0.3  # batch ticks: at most a few messages per second per worker thread

Sink = Callable[[int, int, str], None]  # (partition index, series done since last flush, message)


def tick(n: int = 1, message: str = "") -> None:
    """Report ``n`` more units (series) done in the current partition. Cheap; safe to call anywhere."""
    sink: Sink | None = getattr(_local, "sink", None)
    if sink is None:
        return
    _local.pending = getattr(_local, "pending", 0) + n
    _local.message = message
    now = time.monotonic()
    if now - getattr(_local, "last", 0.0) >= FLUSH_SECONDS:
        _flush(now)


def _flush(now: float | None = None) -> None:
    sink = getattr(_local, "sink", None)
    pending = getattr(_local, "pending", 0)
    if sink is not None and pending:
        try:
            sink(_local.index, pending, getattr(_local, "message", ""))
        except Exception:  # progress must never break the work
            pass
    _local.pending = 0
    _local.last = now if now is not None else time.monotonic()


def run_partition(fn: Callable, index: int, part: Any, shared: Any, sink: Sink | None,
                  has_shared: bool) -> Any:
    """Call ``fn`` on one partition with the progress hook pointing at ``sink``."""
    _local.sink, _local.index, _local.pending, _local.last = sink, index, 0, time.monotonic()
    try:
        return fn(part, shared) if has_shared else fn(part)
    finally:
        _local.sink = None
        _local.pending = 0


def limit_threads() -> None:
    """One BLAS / OpenMP / torch thread per worker process: the workers already use every core."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = "1"
    try:  # BLAS libraries already loaded read the variables only at start: set them at run time too
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:
        pass
    import sys

    if "torch" in sys.modules:  # don't import torch just for this
        try:
            sys.modules["torch"].set_num_threads(1)
        except Exception:
            pass


# ---- the Dask channel: ticks become events on a per-run topic, read by the driver ----------------

def dask_sink(topic: str) -> Sink:
    def sink(index: int, n: int, message: str) -> None:
        from distributed import get_worker

        get_worker().log_event(topic, {"index": index, "n": n, "message": message})
    return sink


# ---- the local-pool channel: a multiprocessing queue (and the shared object) given to each worker once

_pool: dict[str, Any] = {}


PARENT_POLL_SECONDS = 1.0


def exit_with_parent(poll: float = PARENT_POLL_SECONDS) -> None:
    """End this worker process when the process that started it is gone (killed with ``kill -9``, crashed):
    a daemon thread checks the parent's pid once a second; orphans are re-parented, so a new parent pid
    means the old one died. (``PR_SET_PDEATHSIG`` would fire when the parent *thread* that made the pool
    ends, which in the app is any finished script run.)"""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="salescast-parent-watch", daemon=True).start()


def init_pool_worker(queue, shared: Any, has_shared: bool) -> None:
    exit_with_parent()
    _pool.update(queue=queue, shared=shared, has_shared=has_shared)
    limit_threads()


def _queue_sink(index: int, n: int, message: str) -> None:
    _pool["queue"].put((index, n, message))


def run_pool_partition(fn: Callable, index: int, part: Any) -> Any:
    sink = _queue_sink if _pool.get("queue") is not None else None
    return run_partition(fn, index, part, _pool.get("shared"), sink, _pool.get("has_shared", False))
