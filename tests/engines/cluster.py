"""Start a real Dask scheduler and workers as separate processes on 127.0.0.1, and stop them for sure."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(with_salescast: bool = True) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    if not with_salescast:
        env.pop("PYTHONPATH")
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


@contextlib.contextmanager
def dask_cluster(n_workers: int = 2, log_dir: Path | None = None, workers_have_salescast: bool = True):
    """Yield ``(address, worker_processes)``: ``dask scheduler`` plus ``n_workers`` × ``dask worker``
    (one thread each, no nanny, so killing one really loses it). Everything is stopped on exit.
    ``workers_have_salescast=False`` starts the workers where ``forecasting`` cannot be imported."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    procs: list[subprocess.Popen] = []
    logs = []

    def start(args, name):
        log = open(log_dir / f"dask-{name}-{port}.log", "wb")
        logs.append(log)
        worker = args[0] == "worker"
        p = subprocess.Popen([DASK, *args], cwd=log_dir if worker and not workers_have_salescast else ROOT,
                             env=_env(workers_have_salescast or not worker), stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)  # own process group: stopped as a whole
        procs.append(p)
        return p

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler")
        workers = [start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--host", "127.0.0.1", "--name", f"w{i}"], f"worker{i}") for i in range(n_workers)]
        with Client(address, timeout="60s", set_as_default=False) as c:
            c.wait_for_workers(n_workers, timeout=120)
        yield address, workers
    finally:
        _stop(procs)
        for log in logs:
            log.close()
