"""Every hostile file of the catalog (tests/hostile.py) through the real CLI, in a subprocess whose memory
is capped with ``resource.setrlimit``: each must end with its expected exit code and one clean line,
never a traceback, a hang or the machine's memory."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile import catalog

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 3 << 30          # address space of the CLI process: the 600 MB sheet took 4.6 GB before
TIMEOUT = 300


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(args: list[str], env: dict | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([sys.executable, "-m", "forecasting", *args], cwd=ROOT, env=full_env, text=True,
                          capture_output=True, timeout=timeout, preexec_fn=_limit_memory)


CASES = catalog()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_hostile_file_through_the_cli(case, tmp_path):
    src = case.make(tmp_path)
    out = tmp_path / case.out
    args = [a.replace("{out}", str(out)) for a in case.command]
    p = run_cli([args[0], str(src), *args[1:]], case.env)
    err = p.stderr
    assert "Traceback" not in err, err[-3000:]
    assert p.returncode == case.rc, f"exit {p.returncode}, stderr: {err[-1500:]}"
    if case.rc == 2:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, err[-1500:]
    for want in case.stderr:
        assert want.lower() in err.lower(), f"{want!r} not in stderr: {err[-1500:]}"
    if case.check is not None:
        case.check(out, p.stdout)
    if case.rc == 2:
        assert not out.exists(), "a failed run left an output file"
