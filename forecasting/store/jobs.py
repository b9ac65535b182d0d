"""Background runs: a worker process per run, at most one per core at a time, the rest queued.

The app (or anything else) creates a run with status ``queued`` and calls :func:`dispatch`; it starts a
detached worker process (``python -m forecasting.store.jobs DIR RUN_ID``, its own session, so a page
reload, a closed tab or a restarted server does not stop it) for each queued run while fewer workers
than cores are alive on this machine. A worker runs :func:`~forecasting.store.execute.execute_run`, then
dispatches the next queued run of its workspace. Only the run's Stop flag stops it (finished series
kept). Live workers are counted by their pid files under ``SALESCAST_HOME/jobs``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from forecasting.store.workspace import Workspace, home, open_workspace


def slots() -> int:
    """How many runs may compute at once on this machine (``SALESCAST_MAX_RUNS``, default: cores)."""
    v = os.environ.get("SALESCAST_MAX_RUNS", "").strip()
    return max(1, int(v)) if v.isdigit() else max(1, os.cpu_count() or 1)


def _jobs_dir() -> Path:
    d = home() / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not reaped yet is a zombie: not alive
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return True


_started: list[subprocess.Popen] = []   # workers this process started, reaped once they end


def _reap() -> None:
    """Collect the exit status of workers this process started, so none lingers as a zombie."""
    _started[:] = [p for p in _started if p.poll() is None]


def live_jobs() -> list[str]:
    """Run ids of the workers alive on this machine (stale pid files are removed)."""
    _reap()
    out = []
    for f in _jobs_dir().glob("*.pid"):
        try:
            pid = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _alive(pid):
            out.append(f.stem)
        else:
            f.unlink(missing_ok=True)
    return out


def dispatch(ws: Workspace) -> list[str]:
    """Start workers for this workspace's queued runs (oldest first) while slots are free; return their ids."""
    started = []
    running = set(live_jobs())
    free = slots() - len(running)
    for rec in ws.list_runs():
        if free <= 0:
            break
        if rec.status != "queued" or rec.id in running:
            continue
        start_worker(ws, rec.id)
        started.append(rec.id)
        free -= 1
    return started


def start_worker(ws: Workspace, run_id: str) -> int:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    (ws.path / "runs").mkdir(parents=True, exist_ok=True)
    log = open(ws.path / "runs" / f"{run_id}.log", "ab")        # the worker's own output (tracebacks)
    proc = subprocess.Popen([sys.executable, "-m", "forecasting.store.jobs", str(ws.path), run_id],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=root,
                            start_new_session=True)
    log.close()
    _started.append(proc)
    (_jobs_dir() / f"{run_id}.pid").write_text(str(proc.pid))
    return proc.pid


def queue_run(ws: Workspace, run_id: str) -> None:
    """Put a stopped, interrupted or failed run back in the queue (to resume it) and dispatch."""
    rec = ws.get_run(run_id)
    if rec.status in ("finished", "running", "queued"):
        return
    ws._set(run_id, status="queued", error=None, stop_requested=False)
    dispatch(ws)


def stop_run(ws: Workspace, run_id: str) -> None:
    """Stop a run: a queued one at once; a running one at its next progress report (finished series kept)."""
    rec = ws.get_run(run_id)
    if rec.status == "queued":
        ws._set(run_id, status="stopped")
    elif rec.status == "running":
        ws.request_stop(run_id)


def main(argv: list[str]) -> int:
    folder, run_id = argv[0], argv[1]
    pid_file = _jobs_dir() / f"{run_id}.pid"
    pid_file.write_text(str(os.getpid()))
    ws = open_workspace(folder, create=False)
    try:
        from forecasting.store.execute import execute_run
        from forecasting.progress import Cancelled

        try:
            execute_run(ws, run_id)
        except Cancelled:
            pass
        except Exception as exc:  # recorded as failed by execute_run; the log keeps the traceback
            print(f"run {run_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            import traceback

            traceback.print_exc()
    finally:
        pid_file.unlink(missing_ok=True)
        try:
            dispatch(ws)
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
