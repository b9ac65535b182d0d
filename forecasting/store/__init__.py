"""Workspaces: datasets and runs that survive a reload, a stop or a crash (no streamlit here).

    from forecasting.store import open_workspace
    ws = open_workspace("~/work/salescast")          # a folder; SQLite inside unless SALESCAST_DATABASE_URL
    for run in ws.list_runs(): print(run.id, run.status, run.series_done, run.n_series)
    frames = ws.run_frames(run_id)                      # metrics / forecasts / summary … as DataFrames

See :mod:`forecasting.store.workspace` (layout, records), :mod:`forecasting.store.db` (schema) and
:mod:`forecasting.store.execute` (running and resuming a stored run).
"""
from forecasting.store.workspace import (DatasetRecord, RunRecord, StoreError, UnknownRun, Workspace, home,
                                         open_workspace)


def list_runs(ws: Workspace, kind: str | None = None) -> list[RunRecord]:
    return ws.list_runs(kind)


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    return ws.get_run(run_id)


__all__ = ["open_workspace", "Workspace", "RunRecord", "DatasetRecord", "StoreError", "UnknownRun", "home",
           "list_runs", "get_run"]
