"""Data page: upload a file, map its columns, read the quality report, apply treatments, keep and download
the cleaned dataset. Thin: widgets -> forecasting.data (ingest, quality) -> tables and one chart."""
import hashlib
import io

import streamlit as st

from forecasting.data.frequency import coarser_choices
from forecasting.data.ingest import detect_columns, list_sheets
from forecasting.data.quality import FILL_METHODS, OUTLIER_METHODS, OUTLIER_TREATMENTS, ZERO_TREATMENTS, \
    analyst_table
from forecasting.export.charts_data import quality_figure
from forecasting.export.names import download_name
from forecasting.export.tables import to_csv_bytes
from ui import feedback, state, workspace

UPLOAD = "data_upload"          # (bytes, filename[, file_id, sha1]) of the upload; None -> the bundled sample
UPLOADER_ROUND = "data_uploader_round"
FILL_LABELS = {"none": "do nothing", "leave": "insert missing periods, leave them empty", "zero": "fill with zero",
               "ffill": "forward-fill", "interpolate": "interpolate"}
ZERO_LABELS = {"leave": "keep zeros", "missing": "zeros are stock-outs (treat as missing)"}
FREQS = ["h", "D", "B", "W-SUN", "W-MON", "MS", "QS-JAN", "YS-JAN"]

st.title("Data")
st.caption("Upload the sales file you have. SalesCast detects its layout, dates, series and frequency, "
           "checks its quality and lets you treat gaps and outliers. Every change is listed.")

if state.get(UPLOAD) is None and not state.get("data_restored"):
    state.put("data_restored", True)          # after a reload or in a new tab: the workspace's upload
    kept = workspace.stored_upload()
    if kept is not None:
        content, kept_name, kept_map, kept_treat = kept
        sha1 = hashlib.sha1(content).hexdigest()
        state.put(UPLOAD, (content, kept_name, "restored", sha1))
        fk = sha1[:10]
        for widget, value in (("layout", kept_map.get("layout")), ("date", kept_map.get("date_col")),
                              ("target", kept_map.get("target_col")), ("ids", kept_map.get("id_cols")),
                              ("freq", kept_map.get("freq") or "inferred"), ("agg", kept_map.get("agg")),
                              ("sheet", kept_map.get("sheet"))):
            if value is not None:
                state.put(f"{widget}_{fk}", list(value) if widget == "ids" else value)
        for widget, k in (("data_outlier_method", "method"), ("data_zeros", "zeros"), ("data_fill", "fill"),
                          ("data_outliers", "outliers")):
            if kept_treat.get(k) is not None:
                state.put(widget, kept_treat[k])

up = st.file_uploader("Sales file (CSV, TSV, Excel .xlsx or Parquet)", type=["csv", "tsv", "txt", "xlsx", "parquet"],
                      key=f"data_uploader_{state.get(UPLOADER_ROUND, 0)}")
if up is not None and (state.get(UPLOAD) or ())[2:3] != (up.file_id,):
    content = up.getvalue()  # hashed once per upload: the caches below key on the digest, not the bytes
    problem = workspace.check_room(workspace.current(), len(content))
    if problem:
        st.error(problem)
        st.stop()
    same = workspace.current().find_by_file_hash(workspace.file_hash(content))
    if same:
        st.info(f"This file is already in the workspace as **{feedback.md(same[0].name)}**: its stored copy is reused.")
    state.put(UPLOAD, (content, up.name, up.file_id, hashlib.sha1(content).hexdigest()))
source = state.get(UPLOAD)
if source is None:
    data, name = state.SAMPLE_FILE.read_bytes(), state.SAMPLE_FILE.name
    digest = hashlib.sha1(data).hexdigest()
    st.info(f"Showing the bundled sample **{feedback.md(name)}** (3 stores x 4 products, daily). Upload a file to use yours.")
else:
    data, name = source[:2]
    digest = source[3] if len(source) > 3 else hashlib.sha1(data).hexdigest()
    if st.button("Back to the sample data"):
        state.put(UPLOAD, None)
        state.put(UPLOADER_ROUND, state.get(UPLOADER_ROUND, 0) + 1)  # a fresh, empty uploader
        st.rerun()
file_key = digest[:10]   # widget keys: the mapping form resets for another file

sheet = None
if name.lower().endswith((".xlsx", ".xlsm")):
    try:
        sheets = list_sheets(data, filename=name)
    except Exception as exc:
        feedback.fail(f"Cannot read {name}", exc)
    sheet = st.selectbox("Sheet", sheets, key=f"sheet_{file_key}")
try:
    raw = state.read_upload(data, name, sheet, digest)
except Exception as exc:
    feedback.fail(f"Cannot read {name}", exc)

st.subheader("Preview")
st.caption(f"{len(raw.df):,} rows x {raw.df.shape[1]} columns"
           + (f" · {feedback.md('; '.join(raw.notes))}" if raw.notes else ""))
st.dataframe(raw.df.head(200), height=220)

guess = detect_columns(raw.df)
cols = list(raw.df.columns)
with st.form(f"mapping_{file_key}"):
    st.markdown("**Columns** (pre-filled with what was detected; change anything that is wrong)")
    c1, c2, c3 = st.columns(3)
    layout = c1.radio("Layout", ["long", "wide"], index=0 if guess.layout == "long" else 1, horizontal=True,
                      help="long: one row per date and series; wide: one column per series", key=f"layout_{file_key}")
    date_col = c1.selectbox("Date column", cols, index=cols.index(guess.date_col) if guess.date_col in cols else 0,
                            key=f"date_{file_key}")
    numeric = [c for c in cols if c in guess.numeric_cols] or cols
    target_col = c2.selectbox("Target (long layout)", numeric, key=f"target_{file_key}",
                              index=numeric.index(guess.target_col) if guess.target_col in numeric else 0)
    id_cols = c2.multiselect("Series id column(s) (none = one series)", [c for c in cols if c != date_col],
                             default=[c for c in guess.id_cols if c != date_col], key=f"ids_{file_key}")
    wide = layout == "wide"
    base = (layout, date_col, None if wide else target_col, None if wide else tuple(id_cols), None, "sum")
    try:  # the data's own frequency (cached): only coarser ones are offered
        inferred = state.ingest_upload(data, name, sheet, base, digest).inferred_freq
        choices = coarser_choices(inferred)[1:]
    except Exception:  # shown below, once the whole mapping is applied
        inferred, choices = None, FREQS
    freq = c3.selectbox("Frequency", ["inferred", *choices], key=f"freq_{file_key}",
                        format_func=lambda f: f"{inferred} (inferred)" if f == "inferred" and inferred else f,
                        help="the data's frequency, or a coarser one: rows are then aggregated")
    agg = c3.selectbox("Combine rows with", ["sum", "mean"], key=f"agg_{file_key}",
                       help="rows sharing a series and period (transactions, a coarser frequency)")
    st.form_submit_button("Apply")

mapping = (layout, date_col, None if wide else target_col, None if wide else tuple(id_cols),
           None if freq == "inferred" else freq, agg)
data_key = f"{digest}|{sheet}|{mapping}"
try:
    rep = state.ingest_upload(data, name, sheet, mapping, digest)
except Exception as exc:
    feedback.fail("Cannot use these columns" + (f" of sheet '{sheet}'" if sheet else ""), exc)
ds = rep.dataset
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Series", ds.n_series)
m2.metric("Rows", f"{len(ds.df):,}")
m3.metric("Frequency", ds.freq)
m4.metric("First date", str(ds.df["ds"].min().date()))
m5.metric("Last date", str(ds.df["ds"].max().date()))
if rep.inferred_freq != ds.freq:
    st.caption(f"Aggregated from {rep.inferred_freq} to {ds.freq} ({agg}).")
for w in rep.warnings:
    st.warning(feedback.md(w))
with st.expander("What ingest did"):
    st.markdown("\n".join(f"- {feedback.md(n)}" for n in ds.notes))

st.subheader("Quality report")
method = st.selectbox("Outlier method", list(OUTLIER_METHODS), index=OUTLIER_METHODS.index("seasonal"),
                      key="data_outlier_method",
                      help="seasonal: robust residual after trend and season, on the scale each series asks for "
                           "(additive, sqrt or log: see outlier_scale; recommended); iqr; zscore")
try:
    report = state.data_quality(rep, data_key, method)
except Exception as exc:
    feedback.fail("Cannot check the data", exc)
tot = report.totals()
q = st.columns(6)
for col, stat in zip(q, ("missing_values", "missing_dates", "duplicates", "zeros", "negatives", "outliers")):
    col.metric(stat.replace("_", " "), f"{tot[stat]:,}")
st.dataframe(report.summary, height=240, hide_index=True)
findings = report.findings_frame()
if len(findings):
    st.dataframe(findings, height=240, hide_index=True)
else:
    st.success("No findings: no gaps, missing values, duplicates, zeros, negatives or outliers.")

st.subheader("Treatments")
t0, t1, t2 = st.columns(3)
zeros = t0.selectbox("Zeros", list(ZERO_TREATMENTS), format_func=ZERO_LABELS.get, key="data_zeros",
                     help="stock-outs: zeros become missing (then filled) in series where zeros are rare")
fill = t1.selectbox("Gaps and missing values", list(FILL_METHODS), format_func=FILL_LABELS.get, key="data_fill")
outl = t2.selectbox(f"Outliers ({method})", list(OUTLIER_TREATMENTS), key="data_outliers")
try:
    cleaned, log = state.data_treatments(ds, data_key, fill, outl, method, zeros)
except Exception as exc:
    feedback.fail("Cannot apply the treatments", exc)
state.set_dataset(cleaned)
workspace.remember_dataset(   # kept in the workspace: a reload or the ?ws= link reopens it
    cleaned, data, name, {"uploaded": source is not None, "layout": layout, "date_col": date_col,
                          "target_col": None if wide else target_col, "id_cols": None if wide else list(id_cols),
                          "freq": None if freq == "inferred" else freq, "agg": agg, "sheet": sheet},
    {"method": method, "zeros": zeros, "fill": fill, "outliers": outl}, digest)
if len(log):
    st.caption(f"Change log: {len(log):,} change(s)")
    st.dataframe(log, height=220, hide_index=True)
else:
    st.caption("No changes: the dataset is used as read.")

uid = st.selectbox("Series to plot", ds.series_ids, key="data_series")
st.plotly_chart(quality_figure(ds, report, uid, treated=cleaned if len(log) else None), width="stretch")

st.subheader("Download the cleaned dataset")
out = analyst_table(cleaned)
buf = io.BytesIO()
out.to_parquet(buf, index=False)
d1, d2 = st.columns(2)
d1.download_button("CSV", to_csv_bytes(out), file_name=download_name(ds.source, "clean", "csv"), mime="text/csv")
d2.download_button("Parquet", buf.getvalue(), file_name=download_name(ds.source, "clean", "parquet"),
                   mime="application/octet-stream")
st.caption(f"The cleaned dataset ({cleaned.n_series} series, {len(cleaned.df):,} rows) is used by the other pages.")

st.subheader("Datasets in this workspace")
kept = workspace.current().list_datasets()
current_id = state.get("ws_dataset_id")
if kept:
    import pandas as pd

    st.dataframe(pd.DataFrame([{"name": d.name, "rows": d.n_rows, "series": d.n_series, "frequency": d.freq,
                                "uploaded at": pd.Timestamp(d.created, unit="s").strftime("%Y-%m-%d %H:%M"),
                                "current": "✓" if d.id == current_id else ""} for d in kept]), hide_index=True)
    others = [d for d in kept if d.id != current_id and d.mapping.get("uploaded")]
    if others:
        s1, s2 = st.columns([3, 1])
        pick = s1.selectbox("Switch to", others, key="ws_switch",
                            format_func=lambda d: f"{d.name} ({d.n_series} series, {d.n_rows:,} rows)")
        if s2.button("Open this dataset", key="ws_open"):
            ws = workspace.current()
            ws.set_state({**ws.get_state(), "dataset_id": pick.id})
            state.put(UPLOAD, None)
            state.put("data_restored", False)
            state.put(UPLOADER_ROUND, state.get(UPLOADER_ROUND, 0) + 1)
            st.rerun()
