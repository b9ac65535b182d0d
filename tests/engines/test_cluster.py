"""Against a real cluster: `dask scheduler` + two `dask worker` processes on 127.0.0.1."""
import importlib.util
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from forecasting.engines import map_partitions
from forecasting.engines.partition import partition_frame
from tests.engines.cluster import ROOT, dask_cluster
from tests.engines.helpers import (ets_partition, failing_partition, make_frame, scaled_partition,
                                   slow_partition)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with dask_cluster(2, tmp_path_factory.mktemp("dask")) as c:
        yield c


def test_map_partitions_on_a_real_scheduler(cluster):
    address, _ = cluster
    parts = partition_frame(make_frame(12, 100), 4)
    expected = map_partitions(ets_partition, parts, engine="serial")
    events = []
    got = map_partitions(ets_partition, parts, engine="dask", address=address, progress=events.append)
    for g, e in zip(got, expected):
        pd.testing.assert_frame_equal(g, e, check_exact=True)
    assert events[-1].done == events[-1].total == 12
    # a bug in fn surfaces with its own type and message (not retried, not wrapped)
    with pytest.raises(ZeroDivisionError, match="bug in partition function"):
        map_partitions(failing_partition, parts, engine="dask", address=address)
    # the shared object is broadcast once and reaches every partition
    out = map_partitions(scaled_partition, parts, engine="dask", address=address, shared={"factor": 3.0})
    np.testing.assert_array_equal(pd.concat(out)["y"].to_numpy(), pd.concat(parts)["y"].to_numpy() * 3.0)


def test_connection_check_describes_the_cluster(cluster):
    from forecasting.engines.dask_engine import describe_cluster
    from forecasting.errors import ConfigError

    address, _ = cluster
    assert describe_cluster(address).startswith("2 worker(s), 2 thread(s)")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        describe_cluster("tcp://127.0.0.1:9")


def test_workers_without_salescast_get_a_clear_error(tmp_path):
    from forecasting.errors import ConfigError

    parts = partition_frame(make_frame(4, 20), 2)
    with dask_cluster(1, tmp_path, workers_have_salescast=False) as (address, _):
        with pytest.raises(ConfigError, match=r"1 Dask worker\(s\) cannot run SalesCast .*cannot import forecasting"):
            map_partitions(ets_partition, parts, engine="dask", address=address)


def test_run_backtest_through_address_matches_serial(cluster):
    from forecasting.pipeline import BacktestConfig, run_backtest
    from tests.engines.test_backtest_engines import make_dataset

    address, _ = cluster
    cfg = dict(horizon=7, models=["seasonal_naive", "ets"], windows=2)
    serial = run_backtest(make_dataset(8), BacktestConfig(**cfg, engine="serial"))
    remote = run_backtest(make_dataset(8), BacktestConfig(**cfg, engine="dask", address=address))
    pd.testing.assert_frame_equal(remote.forecasts, serial.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(remote.metrics, serial.metrics, check_exact=True)


def _write_sales_csv(path):
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    rows = []
    for store in ("North", "South", "East"):
        for sku in ("A-1", "B-2"):
            y = 40 + 10 * (store == "North") + 6 * np.sin(2 * np.pi * np.arange(140) / 7) + rng.normal(0, 3, 140)
            rows.append(pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "store": store, "sku": sku,
                                      "units": np.round(np.maximum(y, 0), 1)}))
    pd.concat(rows).to_csv(path, index=False)


@pytest.mark.skipif(importlib.util.find_spec("forecasting.commands.backtest") is None,
                    reason="the backtest command is not built yet")
def test_cli_backtest_through_address_matches_serial(cluster, tmp_path):
    address, _ = cluster
    data = tmp_path / "sales.csv"
    _write_sales_csv(data)
    outputs = {}
    for engine, extra in (("serial", []), ("dask", ["--address", address])):
        m, f = tmp_path / f"metrics_{engine}.csv", tmp_path / f"forecasts_{engine}.csv"
        p = subprocess.run([sys.executable, "-m", "forecasting", "backtest", str(data), "--date-col", "date",
                            "--target-col", "units", "--id-cols", "store,sku", "--horizon", "14", "--windows", "2",
                            "--models", "seasonal_naive,ets", "--engine", engine, *extra,
                            "--output", str(m), "--save-forecasts", str(f)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        outputs[engine] = (pd.read_csv(m), pd.read_csv(f))
    pd.testing.assert_frame_equal(outputs["dask"][0], outputs["serial"][0])
    pd.testing.assert_frame_equal(outputs["dask"][1], outputs["serial"][1])
    assert len(outputs["serial"][0]) == 6 * 2 and len(outputs["serial"][1]) == 6 * 2 * 2 * 14


def test_cli_bad_address_is_one_clear_error(tmp_path):
    if importlib.util.find_spec("forecasting.commands.backtest") is None:
        pytest.skip("the backtest command is not built yet")
    data = tmp_path / "sales.csv"
    _write_sales_csv(data)
    p = subprocess.run([sys.executable, "-m", "forecasting", "backtest", str(data), "--date-col", "date",
                        "--target-col", "units", "--id-cols", "store,sku", "--horizon", "7", "--models", "naive",
                        "--engine", "dask", "--address", "tcp://127.0.0.1:9", "--output", str(tmp_path / "m.csv")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")


def test_killing_a_worker_mid_run_still_completes(tmp_path):
    parts = partition_frame(make_frame(32, 30), 8)
    expected = map_partitions(slow_partition, parts, engine="serial")
    with dask_cluster(2, tmp_path) as (address, workers):
        killed = []

        def kill_one(ev):
            if not killed and ev.extra.get("partitions_done", 0) >= 2:
                os.killpg(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)

        got = map_partitions(slow_partition, parts, engine="dask", address=address, progress=kill_one)
        assert killed and workers[0].wait(timeout=10) == -signal.SIGKILL
        assert workers[1].poll() is None       # the other worker finished the lost partitions
    for g, e in zip(got, expected):
        pd.testing.assert_frame_equal(g, e)
