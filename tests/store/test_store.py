"""The workspace store on SQLite and on a real PostgreSQL server: datasets by hash, runs, results kept per
partition as they finish, and a resumed run equal to an uninterrupted one."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.pipeline import BacktestConfig, ForecastConfig
from forecasting.progress import Cancelled
from forecasting.store import StoreError, UnknownRun, open_workspace
from forecasting.store import db
from forecasting.store.execute import config_of, execute_run

MODELS = ["seasonal_naive", "ets"]


def _bt_cfg(engine="serial"):
    return BacktestConfig(horizon=7, models=MODELS, windows=2, engine=engine, n_workers=2)


def _new_run(ws, dataset, path, kind="backtest", engine="serial"):
    rec = ws.add_dataset(dataset, raw=path, name=path.name, mapping={"file": path.name}, treatments=[])
    # model intervals: a conformal forecast backtests every series again to calibrate, which resuming cannot skip
    cfg = _bt_cfg(engine) if kind == "backtest" else ForecastConfig(horizon=7, model=MODELS, engine=engine,
                                                                    intervals="model")
    return ws.create_run(kind, rec.id, config_of(kind, cfg))


class StopAfter:
    """A progress callback that stops the run once ``k`` series are done (the app's Stop button)."""

    def __init__(self, k):
        self.k = k

    def __call__(self, ev):
        if "partitions" in ev.extra and ev.done >= self.k:
            raise Cancelled("stop")


def test_schema_version_and_dataset_by_hash(backend, tmp_path, store_sales):
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.max(db.schema_version.c.version))).scalar() == db.SCHEMA_VERSION
    a = ws.add_dataset(dataset, raw=path, name="sales.csv", mapping={"date_col": "date"}, treatments=[])
    b = ws.add_dataset(dataset, raw=path.read_bytes(), name="again.csv", mapping={"date_col": "date"}, treatments=[])
    assert a.id == b.id and len(ws.list_datasets()) == 1          # the same upload is recognised
    c = ws.add_dataset(dataset, raw=path, name="sales.csv", mapping={"date_col": "date"},
                       treatments=[{"clip": "outliers"}])
    assert c.id != a.id and len(ws.list_datasets()) == 2          # other treatments: another dataset
    assert len(list((ws.path / "files").iterdir())) == 1          # one copy of the raw file
    back = ws.load_dataset(a.id)
    pd.testing.assert_frame_equal(back.df, dataset.df)
    assert back.freq == dataset.freq and back.id_cols == dataset.id_cols
    pd.testing.assert_frame_equal(back.id_map, dataset.id_map)
    assert a.n_series == dataset.n_series == 12 and a.n_rows == len(dataset.df)
    assert not list(ws.path.rglob(".*.tmp-*"))                    # no temporary file left behind
    # reopening the folder finds the same workspace and its data
    again = open_workspace(tmp_path / "ws", create=False)
    assert again.id == ws.id and [d.id for d in again.list_datasets()] == [d.id for d in ws.list_datasets()]


def test_workspaces_are_separate(backend, tmp_path, store_sales):
    path, dataset = store_sales
    a, b = open_workspace(tmp_path / "a"), open_workspace(tmp_path / "b")
    run = _new_run(a, dataset, path)
    assert a.id != b.id and len(a.id) == 32
    assert b.list_runs() == [] and b.list_datasets() == []
    with pytest.raises(UnknownRun):
        b.get_run(run)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["backtest", "forecast"])
def test_stopped_run_keeps_series_and_resume_equals_uninterrupted(backend, tmp_path, store_sales, kind):
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    full = _new_run(ws, dataset, path, kind)
    execute_run(ws, full)
    assert ws.get_run(full).status == "finished" and ws.get_run(full).series_done == 12

    part = _new_run(ws, dataset, path, kind)
    execute_run(ws, part, StopAfter(5))
    rec = ws.get_run(part)
    assert rec.status == "stopped"
    kept = ws.prior_results(part)
    assert 5 <= len(kept.series) < 12 and rec.series_done == len(kept.series)
    # the stopped run's own result holds exactly the finished series
    assert set(ws.run_frames(part)["forecasts"]["unique_id"]) == kept.series

    ran = []
    execute_run(ws, part, lambda ev: ran.append(ev.total) if "partitions" in ev.extra else None)
    rec = ws.get_run(part)
    assert rec.status == "finished" and rec.series_done == 12
    assert set(ran) == {12 - len(kept.series)}                   # only the missing series ran
    parts = [p for p in ws.parts(part) if p["what"] == "local"]
    stored = [s for p in parts for s in json.loads(p["series"])]
    assert sorted(stored) == sorted(dataset.series_ids)           # every series stored exactly once
    a, b = ws.run_frames(full), ws.run_frames(part)
    assert set(a) == set(b)
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)


@pytest.mark.slow
def test_local_engine_results_written_per_partition(backend, tmp_path, store_sales):
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    run = _new_run(ws, dataset, path, engine="local")
    seen = []

    def watch(ev):   # while the run goes on, the store already shows its progress
        if "partitions" in ev.extra:
            seen.append(ws.get_run(run).series_done)

    execute_run(ws, run, watch)
    assert ws.get_run(run).status == "finished"
    assert max(seen) > 0 and seen == sorted(seen)
    assert sum(p["n_series"] for p in ws.parts(run) if p["what"] == "local") == 12


def test_killed_process_shows_interrupted(backend, tmp_path, store_sales):
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    run = _new_run(ws, dataset, path)
    # a process that marks the run running, then dies without a word
    code = ("import sys; from forecasting.store import open_workspace; "
            f"ws = open_workspace({str(tmp_path / 'ws')!r}); ws.mark_running({run!r})")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=os.getcwd())
    assert ws.get_run(run).status == "interrupted"


def test_unknown_and_delete(backend, tmp_path, store_sales):
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    with pytest.raises(UnknownRun, match="no run 'nope'"):
        ws.get_run("nope")
    run = _new_run(ws, dataset, path)
    execute_run(ws, run)
    assert (ws.path / "runs" / run).is_dir() and ws.run_frames(run)
    ws.rename_run(run, "March cycle")
    assert ws.get_run(run).name == "March cycle"
    ws.delete_run(run)
    assert ws.list_runs() == [] and not (ws.path / "runs" / run).exists()
    with pytest.raises(StoreError):
        open_workspace(tmp_path / "missing", create=False)


KILL_AFTER = """
import os, signal, sys
from forecasting.store import execute, files, open_workspace
execute.COMPACT_SECONDS = 0.0          # every series into a part at once, but the last one killed before that
k, appended = int(sys.argv[2]), []
append = files.JournalWriter.append

def append_then_die(self, series, result):
    append(self, series, result)
    appended.append(series)
    if len(appended) == k:
        os.kill(os.getpid(), signal.SIGKILL)

files.JournalWriter.append = append_then_die
ws = open_workspace(sys.argv[1], create=False)
execute.execute_run(ws, ws.list_runs()[0].id)
"""


def test_sigkilled_serial_run_loses_no_finished_series(tmp_path, store_sales, monkeypatch):
    """The serial engine keeps each series the moment it finishes: killed right after its 5th series, the run
    has exactly 5 (the last one still in the journal, a half-written line after it ignored), never reported
    more, and resumes to the uninterrupted run's result."""
    monkeypatch.delenv("SALESCAST_DATABASE_URL", raising=False)
    path, dataset = store_sales
    ws = open_workspace(tmp_path / "ws")
    rec = ws.add_dataset(dataset, raw=path, name=path.name, mapping={}, treatments=[])
    cfg = BacktestConfig(horizon=7, models=["seasonal_naive", "naive"], windows=2, engine="serial")
    run = ws.create_run("backtest", rec.id, config_of("backtest", cfg))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    p = subprocess.run([sys.executable, "-c", KILL_AFTER, str(ws.path), "5"], env=env, cwd=os.getcwd())
    assert p.returncode == -9
    with ws.engine.connect() as conn:       # what the run reported before it died
        reported = conn.execute(sa.select(db.runs.c.series_done).where(db.runs.c.id == run)).scalar()
    journal = list((ws.path / "runs" / run / "journal").glob("*.jsonl"))
    assert len(journal) == 1 and len([p for p in ws.parts(run) if p["what"] == "local"]) == 4
    with open(journal[0], "ab") as fh:      # a line the kill cut short
        fh.write(b'{"series":["x"],"result":{"forecasts":')
    assert ws.series_stored(run) == 5 and len(ws.prior_results(run).series) == 5 and reported <= 5
    got = ws.get_run(run)
    assert got.status == "interrupted" and got.series_done == 5
    execute_run(ws, run)
    assert not journal[0].exists()
    stored = [s for p in ws.parts(run) if p["what"] == "local" for s in json.loads(p["series"])]
    assert sorted(stored) == sorted(dataset.series_ids)           # every series stored exactly once
    full = ws.create_run("backtest", rec.id, config_of("backtest", cfg))
    execute_run(ws, full)
    a, b = ws.run_frames(full), ws.run_frames(run)
    assert set(a) == set(b) == {"metrics", "forecasts", "summary", "total"}
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)
