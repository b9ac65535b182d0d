"""The Forecast page's overrides: the final forecast beside the statistical one, the editor (one cell, a range
of dates, a series, or an aggregate, by a value or a percentage, with a required reason) and the audit trail,
shown read-only. The work is :mod:`forecasting.store.overrides`; the user is the sign-in proxy's, or "local"."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from forecasting.store.overrides import OverrideError, add_override, audit_trail, final_forecasts
from ui import downloads, feedback, workspace

TOTAL = "Total (every series)"
FLASH = "ov_flash"


def run_of(entry: dict):
    """The stored, finished forecast run behind the page's result, or None (a hierarchy's forecast, a run of
    another session not stored yet, a stopped run)."""
    run_id = entry.get("run_id") if entry else None
    if not run_id:
        return None
    try:
        rec = workspace.current().get_run(run_id)
    except Exception:
        return None
    return rec if rec.kind == "forecast" and rec.status == "finished" else None


def final(entry: dict) -> pd.DataFrame | None:
    """The run's forecasts with ``override`` and ``final`` (None without a stored finished run)."""
    rec = run_of(entry)
    if rec is None:
        return None
    return final_forecasts(workspace.current(), rec.id, entry["result"].forecasts)


def with_final(frames: dict, entry: dict) -> dict:
    """``frames`` (the page's tables) with ``override`` and ``final`` beside ``forecast`` in the forecasts table
    (a new dict: the cached tables are not changed)."""
    f = final(entry)
    table = frames.get("forecasts")
    if f is None or table is None or len(table) != len(f):
        return frames
    table = table.copy()
    table["override"] = f["override"].to_numpy()
    table["final"] = f["final"].to_numpy()
    return {**frames, "forecasts": table}


def add_final_trace(fig, entry: dict, uid: str) -> None:
    """Draw the final forecast of series ``uid`` on its fan chart when an override changed it."""
    f = final(entry)
    if f is None:
        return
    g = f[f["unique_id"] == uid]
    if not len(g) or not (g["override"] != 0).any():
        return
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=g["ds"], y=g["final"], mode="lines+markers", name="final (with overrides)",
                             line=dict(color="#ff7f0e", dash="dash")))


def editor(ds, entry: dict, shown_series: str | None = None) -> None:
    """The overrides editor and the audit trail of the page's forecast run."""
    st.subheader("Overrides")
    rec = run_of(entry)
    if rec is None:
        st.caption("Overrides apply to a finished forecast run kept in this workspace (not to a hierarchy's "
                   "forecast or a stopped run).")
        return
    ws = workspace.current()
    fc = entry["result"].forecasts
    if st.session_state.get(FLASH):
        st.success(st.session_state.pop(FLASH))
    st.caption("Change the forecast with what the data cannot know (a promotion, a lost customer). The statistical "
               "forecast is kept; the **final** forecast is the statistical one with the overrides. Every change "
               "records who, when, the old and new values and why; the audit trail cannot be edited.")
    with st.form("override_form", clear_on_submit=False):
        c1, c2 = st.columns(2)
        ids = list(pd.unique(fc["unique_id"]))
        levels = ["Series", TOTAL] + [f"By {c}" for c in ds.id_cols if len(ds.id_cols) > 1]
        what = c1.selectbox("Override", levels, key="ov_level",
                            help="a series, or an aggregate: the change is spread over its series in proportion "
                                 "to their forecasts")
        series = where = None
        if what == "Series":
            series = c2.selectbox("Series", ids, index=ids.index(shown_series) if shown_series in ids else 0,
                                  key="ov_series")
        elif what == TOTAL:
            where = {}
        else:
            col = what[3:]
            values = sorted(ds.id_map[col].astype(str).unique()) if ds.id_map is not None else []
            where = {col: c2.selectbox(col, values, key="ov_group")}
        dates = sorted(pd.unique(fc["ds"]))
        labels = [str(pd.Timestamp(d).date()) if pd.Timestamp(d) == pd.Timestamp(d).normalize()
                  else pd.Timestamp(d).isoformat() for d in dates]
        first, last = st.select_slider("Dates", options=labels, value=(labels[0], labels[0]), key="ov_dates")
        c3, c4, c5 = st.columns([1, 1, 2])
        how = c3.radio("Change", ["Set to a value", "By a percentage"], key="ov_how")
        amount = c4.number_input("Value" if how == "Set to a value" else "Percent", value=0.0, key="ov_amount",
                                 help="the new value on each date (at an aggregate: its total)"
                                 if how == "Set to a value" else "e.g. 10 raises by 10%, -5 lowers by 5%")
        models = list(rec.models)
        model = c5.selectbox("Model", models, key="ov_model") if len(models) > 1 else models[0]
        reason = st.text_input("Reason (required)", key="ov_reason", max_chars=2000,
                               placeholder="e.g. promotion in week 12, agreed with sales")
        submitted = st.form_submit_button("Apply override", type="primary", key="ov_apply")
    if submitted:
        try:
            o = add_override(ws, rec.id, series=series, where=where, dates=f"{first}:{last}",
                             value=amount if how == "Set to a value" else None,
                             percent=amount if how != "Set to a value" else None, reason=reason,
                             user=workspace.user(), model=model)
        except OverrideError as exc:
            feedback.error(str(exc))
        else:       # once more from the top, so the table and the chart above show the new final forecast
            st.session_state[FLASH] = f"Override {o.id} applied to {feedback.md(o.target)} ({o.n_cells} value(s))."
            st.rerun()
    trail = audit_trail(ws, rec.id)
    st.markdown("**Audit trail** (read-only)")
    if trail.empty:
        st.caption("No overrides yet.")
        return
    st.dataframe(trail, hide_index=True, key="ov_trail")
    downloads.download("Audit trail (CSV)", lambda: _csv(trail), ds.source, f"overrides_{rec.id}", "csv",
                       key="dl_ov_trail")


def _csv(frame: pd.DataFrame) -> bytes:
    from forecasting.export import tables

    return tables.to_csv_bytes(frame)
