"""Runs: every backtest and forecast of this workspace; open, compare, rename, delete, download, resume."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from forecasting.export import tables
from forecasting.store import jobs
from forecasting.store.overrides import final_forecasts
from ui import downloads, feedback, state, workspace

st.title("Runs")
ws = workspace.current()
runs = ws.list_runs()
st.caption(f"{len(runs)} run(s) in this workspace. Runs go on in the background whatever page you open; "
           "bookmark this page's link (it holds the workspace) to come back to them.")
if not runs:
    st.info("No runs yet: start a backtest on the Models page or a forecast on the Forecast page.")
    st.stop()

table = pd.DataFrame([workspace.describe(r) for r in reversed(runs)])
st.dataframe(table.drop(columns=["id"]), hide_index=True)
if any(r.status in ("queued", "running") for r in runs):
    st.caption(f"{len(jobs.live_jobs())} run(s) computing now, at most {jobs.slots()} at a time; the rest wait "
               "in the queue.")
    if st.button("Refresh", key="runs_refresh"):
        st.rerun()

by_id = {r.id: r for r in runs}


def label(run_id: str) -> str:
    r = by_id[run_id]
    return f"{r.name or r.kind} · {r.dataset} · {', '.join(r.models)} · {r.status} · {workspace.describe(r)['started']}"


st.subheader("One run")
pick = st.selectbox("Run", [r.id for r in reversed(runs)], format_func=label, key="runs_pick")
rec = ws.get_run(pick)
c1, c2, c3 = st.columns(3)
if rec.status in ("finished", "stopped") and c1.button("Open", key="runs_open",
                                                       help="show it on the Models or Forecast page"):
    ds = ws.load_dataset(rec.dataset_id)
    state.set_dataset(ds)
    state.put("ws_dataset_id", rec.dataset_id)
    ws.set_state({**ws.get_state(), "dataset_id": rec.dataset_id})
    workspace.load_run(rec, state.dataset_fingerprint(ds))
    st.switch_page("pages/3_Models.py" if rec.kind == "backtest" else "pages/4_Forecast.py")
if rec.status in ("stopped", "interrupted", "failed") and c2.button("Resume", key="runs_resume",
                                                                   help="run only the series not finished yet"):
    jobs.queue_run(ws, rec.id)
    st.rerun()
if rec.status in ("queued", "running") and c2.button("Stop", key="runs_stop", help="finished series are kept"):
    jobs.stop_run(ws, rec.id)
    st.rerun()
new_name = c3.text_input("Name", value=rec.name or "", key=f"runs_name_{rec.id}", max_chars=200)
if new_name != (rec.name or ""):
    ws.rename_run(rec.id, new_name)
    st.rerun()
if rec.error:
    feedback.error(f"Error: {rec.error}")

frames = ws.run_frames(rec.id)
if frames and rec.kind == "forecast":     # the statistical forecast, the planners' overrides, the final forecast
    frames["forecasts"] = final_forecasts(ws, rec.id, frames["forecasts"])
if frames:
    ds = ws.load_dataset(rec.dataset_id)
    restore = lambda f: ds.restore_ids(f)  # noqa: E731 - the analyst's id columns in downloads
    d1, d2 = st.columns(2)
    if rec.kind == "backtest":
        with d1:
            downloads.download("Metrics (CSV)", lambda: tables.to_csv_bytes(restore(frames["metrics"])), ds.source,
                                f"backtest_metrics_{rec.id}", "csv", key="runs_dl_metrics")
        with d2:
            downloads.download("Forecasts (CSV)", lambda: tables.to_csv_bytes(restore(frames["forecasts"])),
                                ds.source, f"backtest_forecasts_{rec.id}", "csv", key="runs_dl_fc")
        if frames.get("summary") is not None:
            st.dataframe(frames["summary"], hide_index=True)
    else:
        with d1:
            downloads.download("Forecasts (CSV)", lambda: tables.to_csv_bytes(restore(frames["forecasts"])),
                                ds.source, f"forecast_{rec.id}", "csv", key="runs_dl_fc")
        with d2:
            downloads.download("Forecasts (Excel)", lambda: tables.to_excel_bytes(
                {"forecast": restore(frames["forecasts"]), "settings": restore(frames["settings"])}),
                ds.source, f"forecast_{rec.id}", "xlsx", key="runs_dl_xlsx")
if rec.status not in ("queued", "running"):
    with st.expander("Delete this run"):
        sure = st.checkbox("Yes, delete this run and its results", key=f"runs_sure_{rec.id}")
        if st.button("Delete", key="runs_delete", disabled=not sure, type="primary"):
            ws.delete_run(rec.id)
            st.rerun()

st.subheader("Compare two backtests")
done = [r.id for r in reversed(runs) if r.kind == "backtest" and r.status in ("finished", "stopped")]
if len(done) < 2:
    st.caption("Two finished backtests are needed.")
else:
    k1, k2 = st.columns(2)
    a = k1.selectbox("Backtest A", done, format_func=label, key="cmp_a")
    b = k2.selectbox("Backtest B", done, index=1, format_func=label, key="cmp_b")
    sa, sb = ws.run_frames(a).get("summary"), ws.run_frames(b).get("summary")
    if sa is not None and sb is not None:
        num = [c for c in sa.columns if c != "model" and c in sb.columns and pd.api.types.is_numeric_dtype(sa[c])]
        both = sa[["model", *num]].merge(sb[["model", *num]], on="model", how="outer", suffixes=(" A", " B"))
        for c in num:
            both[f"{c} Δ (B−A)"] = both[f"{c} B"] - both[f"{c} A"]
        st.dataframe(both, hide_index=True)
        st.caption("Mean of each metric over series, per model; Δ below zero: B has the lower value.")
