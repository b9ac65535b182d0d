"""A throwaway PostgreSQL cluster for the store tests (Debian's postgresql binaries: initdb, pg_ctl).

``SALESCAST_TEST_DATABASE_URL`` (set by .ci/run, which starts its own cluster) wins; otherwise a cluster
is created in a temporary folder, as the ``postgres`` user when running as root (initdb refuses root),
on a free loopback port, and stopped at the end of the session."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return cands[-1] if cands else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_database(url: str) -> str:
    """Under pytest-xdist, each worker gets its own database on the shared server (created if missing), so
    two workers never migrate or fill the same one at once; without xdist the URL is returned as it is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url
    import sqlalchemy as sa

    name = f"salescast_test_{worker}"
    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        eng.dispose()
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


class Cluster:
    def __init__(self):
        self.url: str | None = None
        self.reason = ""
        self.base: Path | None = None
        self._prefix: list[str] = []

    def start(self) -> "Cluster":
        url = os.environ.get("SALESCAST_TEST_DATABASE_URL", "").strip()
        if url:
            self.url = _worker_database(url)
            return self
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            self.reason = "PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql)"
            return self
        self.base = Path(tempfile.mkdtemp(prefix="salescast-pg-"))
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                self.reason = "running as root and there is no 'postgres' user to run initdb as"
                return self
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._prefix = ["runuser", "-u", "postgres", "--"]
        data, port = self.base / "data", _free_port()
        try:
            subprocess.run(self._prefix + [initdb, "-D", str(data), "-A", "trust", "-U", "salescast", "--no-sync",
                                           "-E", "UTF8"], check=True, capture_output=True, timeout=120)
            subprocess.run(self._prefix + [pg_ctl, "-D", str(data), "-l", str(self.base / "log"), "-w", "-t", "60",
                                           "-o", f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 "
                                                 "-c fsync=off -c synchronous_commit=off", "start"],
                           check=True, capture_output=True, timeout=90)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            self.reason = f"could not start PostgreSQL: {exc} {err.decode(errors='replace')[-300:]}"
            return self
        self.url = _worker_database(f"postgresql+psycopg://salescast@127.0.0.1:{port}/postgres")
        return self

    def stop(self) -> None:
        if self.base is None:
            return
        pg_ctl = _bin("pg_ctl")
        if self.url and pg_ctl:
            subprocess.run(self._prefix + [pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)
