"""serial, local and dask give identical results; errors, progress, cancel and lost workers."""
import os
import signal

import pandas as pd
import pytest

from forecasting.engines import EngineError, map_partitions
from forecasting.engines.partition import partition_frame
from forecasting.errors import ConfigError
from forecasting.progress import Cancelled
from tests.engines.helpers import (ets_partition, failing_partition, make_frame, scaled_partition,
                                   slow_partition, worker_pids)


@pytest.fixture(scope="module")
def parts():
    df = make_frame(24, 120)
    df.loc[df.index[5], "y"] = float("nan")   # one failing series: recorded by fn, the run goes on
    return partition_frame(df, 6)


@pytest.fixture(scope="module")
def reference(parts):
    return pd.concat(map_partitions(ets_partition, parts, engine="serial"), ignore_index=True)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_engines_give_identical_results(engine, parts, reference):
    events = []
    got = pd.concat(map_partitions(ets_partition, parts, engine=engine, n_workers=2, progress=events.append),
                    ignore_index=True)
    pd.testing.assert_frame_equal(got, reference, check_exact=True)
    assert (reference["error"] != "").sum() == 14     # the series with a NaN failed alone, with its error
    assert reference.loc[reference["error"] != "", "error"].str.contains("missing values").all()
    # progress counts series, ends at the total, never goes back
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == 24 and events[-1].total == 24
    assert not worker_pids(), "workers left behind"


def test_serial_progress_is_series_by_series(parts):
    events = []
    map_partitions(slow_partition, parts[:2], engine="serial", progress=events.append)
    assert [e.done for e in events][-1] == 8 and len(events) >= 3


def test_shared_object_reaches_every_partition(parts):
    for engine in ("serial", "local"):
        out = pd.concat(map_partitions(scaled_partition, parts, engine=engine, n_workers=2,
                                       shared={"factor": 2.0}), ignore_index=True)
        expected = pd.concat(parts, ignore_index=True)
        pd.testing.assert_series_equal(out["y"], expected["y"] * 2.0)


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_a_bug_in_fn_is_raised_not_swallowed(engine, parts):
    with pytest.raises(ZeroDivisionError, match="bug in partition function"):
        map_partitions(failing_partition, parts, engine=engine, n_workers=2)
    assert not worker_pids()


def test_bad_settings_have_clear_messages(parts):
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        map_partitions(ets_partition, parts, engine="spark")
    with pytest.raises(ConfigError, match="needs the dask engine"):
        map_partitions(ets_partition, parts, engine="local", address="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        map_partitions(ets_partition, parts, engine="dask", address="tcp://127.0.0.1:1")
    assert map_partitions(ets_partition, [], engine="local") == []


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_cancel_returns_results_so_far(engine, parts):
    def stop_after_two(ev):
        if ev.extra.get("partitions_done", 0) >= 2:
            raise Cancelled()

    with pytest.raises(Cancelled) as info:
        map_partitions(slow_partition, parts, engine=engine, n_workers=2, progress=stop_after_two)
    partial = info.value.partial
    assert len(partial) == len(parts)
    finished = [i for i, r in enumerate(partial) if r is not None]
    assert 2 <= len(finished) < len(parts)
    for i in finished:
        assert list(partial[i]["unique_id"]) == list(parts[i]["unique_id"].unique())
    assert not worker_pids()


def _killer(state):
    """A progress callback that SIGKILLs one worker process once two partitions are done."""
    def progress(ev):
        if not state["killed"] and ev.extra.get("partitions_done", 0) >= 2:
            pids = worker_pids()
            assert pids, "no worker process to kill"
            os.kill(pids[-1], signal.SIGKILL)
            state["killed"] = pids[-1]
    return progress


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_killed_worker_does_not_lose_the_run(engine):
    parts = partition_frame(make_frame(32, 30), 8)
    expected = map_partitions(slow_partition, parts, engine="serial")
    state = {"killed": None}
    got = map_partitions(slow_partition, parts, engine=engine, n_workers=2, progress=_killer(state))
    assert state["killed"], "the test did not kill a worker"
    for g, e in zip(got, expected):
        pd.testing.assert_frame_equal(g, e)
    assert not worker_pids()


def test_workers_dying_every_time_give_a_clear_error(parts):
    with pytest.raises(EngineError, match="worker process died"):
        map_partitions(_suicide, parts[:2], engine="local", n_workers=2, max_retries=1)
    assert not worker_pids()


def _suicide(part):
    os.kill(os.getpid(), signal.SIGKILL)


def test_dask_gives_the_next_partition_to_the_worker_that_is_free():
    """One slow partition and six quick ones on two single-thread workers: the worker busy with the slow
    one must not have quick ones queued behind it while the other worker idles (as with a pool)."""
    from tests.engines.helpers import sleepy_partition

    import numpy as np

    # each partition carries 16 MB, as real partitions carry rows: moving one costs, so Dask's work
    # stealing does not rescue a poor placement
    parts = [{"i": i, "seconds": 4.0 if i == 0 else 0.1, "rows": np.zeros(2_000_000)} for i in range(7)]
    out = map_partitions(sleepy_partition, parts, engine="dask", n_workers=2)
    assert [o["i"] for o in out] == list(range(7))
    slow_pid = out[0]["pid"]
    assert [o["i"] for o in out if o["pid"] == slow_pid] == [0]


def test_scattering_to_a_worker_the_scheduler_just_dropped_reads_as_a_lost_worker():
    """The worker list can be a moment old: the scheduler then answers a scatter to that address with a
    KeyError, which must count as 'worker gone' (pick another), not end the run."""
    from forecasting.engines.dask_engine import _scatter

    class Client:
        def scatter(self, *a, **k):
            raise KeyError("tcp://127.0.0.1:1")

    with pytest.raises(OSError, match="is gone"):
        _scatter(Client(), {"i": 0}, "tcp://127.0.0.1:1")


def test_partitions_run_with_one_blas_thread_and_the_setting_comes_back():
    """In a fresh interpreter where scipy is not loaded yet (the models load it lazily), as in the app."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = """
import json, sys
sys.path.insert(0, '.')
import numpy
from forecasting.engines import map_partitions
from tests.engines.helpers import blas_threads_partition, make_frame
from forecasting.engines.partition import partition_frame
assert 'scipy' not in sys.modules
parts = partition_frame(make_frame(6, 30), 3)
out = {}
for engine in ('serial', 'local'):
    seen = map_partitions(blas_threads_partition, parts, engine=engine, n_workers=2)
    out[engine] = {'seen': seen, 'after': blas_threads_partition(None)}
print(json.dumps(out))
"""
    # every BLAS starts at 2 threads (read at load, by numpy's and by scipy's), whatever the machine's cores
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")} | {"OPENBLAS_NUM_THREADS": "2"}
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for engine in ("serial", "local"):
        assert out[engine]["seen"] == [[1]] * 3, engine           # numpy's and scipy's BLAS: one thread
    assert out["serial"]["after"] == [2], "the caller's BLAS setting was not restored"
