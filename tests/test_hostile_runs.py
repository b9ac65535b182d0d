"""Hostile conditions around a run: a full disk, a killed CLI (its pool workers must not outlive it), and a
Dask address where another service answers. Each through the real CLI in a subprocess."""
from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.test_hostile_files import ROOT, run_cli


def _daily(path: Path, n_series: int, n_days: int = 200) -> Path:
    dates = pd.date_range("2023-01-01", periods=n_days, freq="D")
    frame = pd.DataFrame({"date": list(dates) * n_series,
                          "store": [f"S{i:04d}" for i in range(n_series) for _ in range(n_days)],
                          "units": [(i * 7 + k) % 13 + 1 for i in range(n_series) for k in range(n_days)]})
    frame.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------ full disk

def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && echo ok"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and "ok" in probe.stdout


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs here (needs unshare and a mount namespace)")
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_full_disk_exits_2_with_one_line_and_leaves_no_file(tmp_path, suffix):
    """A 64 KB tmpfs (in a private mount namespace) for the output of a forecast that needs more."""
    src = _daily(tmp_path / "sales.csv", 40)
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / f"forecast{suffix}"
    cli = (f"{sys.executable} -m forecasting forecast {src} --horizon 60 --model naive --engine serial "
           f"--output {out}")
    script = (f"mount -t tmpfs -o size=64k tmpfs {disk} && cd {ROOT} && {cli}; rc=$?; "
              f"echo LEFT: $(ls -A {disk}); exit $rc")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.returncode == 2, p.stderr[-2000:]
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the disk is full" in errors[0], p.stderr[-1000:]
    assert p.stdout.strip() == "LEFT:", f"files left on the full disk: {p.stdout}"


def test_output_is_replaced_whole(tmp_path):
    """An existing output is replaced only by a complete file (no partial write visible)."""
    src = _daily(tmp_path / "sales.csv", 3, 60)
    out = tmp_path / "f.csv"
    out.write_text("old\n")
    p = run_cli(["forecast", str(src), "--horizon", "5", "--model", "naive", "--engine", "serial", "--output", str(out)])
    assert p.returncode == 0, p.stderr[-1000:]
    assert len(pd.read_csv(out)) == 15
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []


# ------------------------------------------------------------------------------------ orphaned workers

def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(x) for x in out.split()}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_pool_workers_exit_when_the_cli_is_killed(tmp_path):
    src = _daily(tmp_path / "sales.csv", 300, 400)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "forecasting", "backtest", str(src), "--horizon", "14",
                             "--windows", "3", "--models", "sarima,ets", "--engine", "local",
                             "--output", str(tmp_path / "m.csv")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            kids = _children(proc.pid)
            # the pool's workers run run_pool_partition: wait until at least one of them is busy
            workers = {k for k in kids if "multiprocessing" in Path(f"/proc/{k}/cmdline").read_text(errors="ignore")
                       and "resource_tracker" not in Path(f"/proc/{k}/cmdline").read_text(errors="ignore")} \
                if kids else set()
            if workers:
                time.sleep(3)          # let them take partitions
                break
            time.sleep(0.5)
        assert workers and proc.poll() is None, "the run ended before its pool started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        gone_by = time.monotonic() + 20
        while time.monotonic() < gone_by and any(_alive(w) for w in workers):
            time.sleep(0.5)
        alive = [w for w in workers if _alive(w)]
        assert not alive, f"worker(s) {alive} outlived the killed CLI"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


# ------------------------------------------------------------------------------------ Dask address

class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


def _banner_server(banner: bytes):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (socket.timeout, OSError):
                continue
            try:
                conn.sendall(banner)
                time.sleep(0.5)
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv, stop


@pytest.mark.parametrize("service", ["http", "ssh_banner", "nothing"])
def test_dask_address_of_another_service_gets_one_line_quickly(tmp_path, service):
    src = _daily(tmp_path / "sales.csv", 2, 60)
    closers = []
    if service == "http":
        httpd = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = httpd.server_address[1]
        closers.append(httpd.shutdown)
    elif service == "ssh_banner":
        srv, stop = _banner_server(b"SSH-2.0-OpenSSH_9.6\r\n" + b"\xff" * 64)
        port = srv.getsockname()[1]
        closers += [stop.set, srv.close]
    else:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()                                  # nothing listens there
    try:
        t0 = time.monotonic()
        p = run_cli(["forecast", str(src), "--horizon", "3", "--model", "naive", "--engine", "dask",
                     "--address", f"tcp://127.0.0.1:{port}", "--output", str(tmp_path / "f.csv")], timeout=120)
        took = time.monotonic() - t0
    finally:
        for c in closers:
            c()
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.returncode == 2, p.stderr[-1000:]
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, p.stderr[-1000:]
    assert f"127.0.0.1:{port}" in errors[0]
    if service != "nothing":
        assert "not a Dask scheduler" in errors[0], errors[0]
    assert took < 60, f"took {took:.0f}s"
    assert not (tmp_path / "f.csv").exists()
