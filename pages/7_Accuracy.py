"""Accuracy: the archived forecasts scored against newer actuals, by lag; forecast value added (naive ->
statistical -> final), bias over time, tracking signal, worst series; downloads."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from forecasting.evaluation import by_lag
from forecasting.export import charts_accuracy as ca
from forecasting.export import tables
from forecasting.store.accuracy import score_archive
from forecasting.store.archive import archive
from forecasting.store.overrides import last_change
from ui import downloads, state, workspace

st.title("Accuracy")
ws = workspace.current()
arch = archive(ws)
if not arch:
    st.info("No archived forecasts yet. Every finished forecast run (the Forecast page, or `forecast --workspace` "
            "on the command line) is archived with its cutoff; when newer actuals arrive (upload them on the Data "
            "page), this page scores it by lag.")
    st.stop()
datasets = {d.id: d for d in ws.list_datasets()}
current = ws.get_state().get("dataset_id")
ids = list(datasets)
pick = st.selectbox("Actuals", ids, index=ids.index(current) if current in ids else 0, key="acc_actuals",
                    format_func=lambda i: f"{datasets[i].name} · {datasets[i].n_series} series · "
                                          f"stored {pd.Timestamp(datasets[i].created, unit='s'):%Y-%m-%d %H:%M}",
                    help="the dataset whose values score the archived forecasts (default: the current one)")
key = f"{pick}|{','.join(a.run_id for a in arch)}|{last_change(ws)}"
acc = state.memo("accuracy", key, lambda: score_archive(ws, ws.load_dataset(pick)))
actuals_ds = state.memo("accuracy_ds", pick, lambda: ws.load_dataset(pick))
st.caption(f"{len(arch)} archived forecast(s); {len(acc.runs)} covered by these actuals "
           f"({len(acc.rows):,} values scored)."
           + (f" {len(acc.skipped)} have no actuals yet." if acc.skipped else ""))
if acc.rows.empty:
    st.info("None of the archived forecasts is covered by these actuals yet: upload a file with newer dates on "
            "the Data page.")
    st.stop()

c1, c2, c3 = st.columns(3)
models = sorted(acc.rows["model"].unique())
model = c1.selectbox("Model", models, key="acc_model") if len(models) > 1 else models[0]
levels = dict(acc.levels())
level = c2.selectbox("Level", list(levels), index=list(levels).index("series"), key="acc_level",
                     help="the total, each id column, or the series themselves (sums over the series of a group)")
lags = sorted(acc.rows["lag"].unique())
lag = c3.selectbox("Lag for bias and worst series", lags, key="acc_lag", help="periods ahead the forecast was made")
rows = acc.level_rows(levels[level])
rows = rows[rows["model"] == model]

# ---------------------------------------------------------------- accuracy by lag
per_lag = by_lag.summarise(rows, ["lag"])
first = per_lag.iloc[0]
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"WAPE at lag {int(first['lag'])} (final)", f"{first['wape']:.1%}")
m2.metric("Bias (final)", f"{first['bias']:+.1%}", help="Σ(final − actual) / Σ|actual|: above 0, over-forecast")
m3.metric("Value added by the model", f"{first['fva_statistical']:+.1%}",
          help="WAPE of the seasonal naive − WAPE of the statistical forecast (above 0: the model helped)")
m4.metric("Value added by overrides", f"{first['fva_final']:+.1%}",
          help="WAPE of the statistical − WAPE of the final forecast (above 0: the overrides helped)")
fig = ca.by_lag_figure(per_lag, f"Accuracy by lag: {level} level, {model}")
st.plotly_chart(fig, key="acc_lag_chart")
downloads.chart_downloads(fig, "accuracy_by_lag", actuals_ds.source)

# ---------------------------------------------------------------- FVA stairstep
st.subheader("Forecast value added")
cycles = {"All cycles": None, **{a.label: a.run_id for a in acc.runs}}
s1, s2 = st.columns(2)
cycle = s1.selectbox("Cycle", list(cycles), key="acc_cycle")
step_lag = s2.selectbox("Lags", ["All lags"] + [str(l) for l in lags], key="acc_step_lag")
sel = rows if cycles[cycle] is None else rows[rows["run"] == cycles[cycle]]
sel = sel if step_lag == "All lags" else sel[sel["lag"] == int(step_lag)]
stair = by_lag.stairstep(sel)
fig = ca.stairstep_figure(stair)
st.plotly_chart(fig, key="acc_stair_chart")
st.dataframe(stair.assign(helped=stair["helped"].map(lambda v: "" if v != v else f"{v:.0%} of series")),
             hide_index=True, key="acc_stair_table")
downloads.chart_downloads(fig, "fva_stairstep", actuals_ds.source)

# ---------------------------------------------------------------- bias and tracking signal over time
st.subheader("Bias over time")
by_cycle = by_lag.summarise(rows, ["run", "lag"])
by_cycle["cutoff"] = by_cycle["run"].map({a.run_id: a.cutoff for a in acc.runs})
fig = ca.bias_figure(by_cycle, int(lag))
st.plotly_chart(fig, key="acc_bias_chart")
track = by_lag.tracking_signal(rows[rows["lag"] == lag])
worst_ts = track.groupby("unique_id")["tracking_signal"].last().abs().sort_values(ascending=False).head(8).index
fig_t = ca.tracking_figure(track[track["unique_id"].isin(worst_ts)],
                           f"Tracking signal at lag {lag} ({level} level; the 8 furthest from 0; beyond ±4: biased)")
st.plotly_chart(fig_t, key="acc_track_chart")

# ---------------------------------------------------------------- worst series
st.subheader(f"Worst series at lag {lag}")
worst = acc.per_series(lag=int(lag))
worst = worst[worst["model"] == model].head(20)
st.dataframe(actuals_ds.restore_ids(worst), hide_index=True, key="acc_worst")

# ---------------------------------------------------------------- downloads
st.subheader("Downloads")
out_rows = actuals_ds.restore_ids(acc.rows).rename(columns={"ds": "date"})
d1, d2 = st.columns(2)
with d1:
    downloads.download("Scored forecasts (CSV)", lambda: tables.to_csv_bytes(out_rows), actuals_ds.source,
                       "accuracy", "csv", key="dl_acc_csv",
                       help="per archived run × series × model × lag: actual, forecast, final, naive, abs_error")
with d2:
    downloads.download("Excel workbook", lambda: tables.to_excel_bytes({
        "accuracy": out_rows, "summary": acc.summary, "by_level": acc.by_level(), "stairstep": acc.stairstep()}),
        actuals_ds.source, "accuracy", "xlsx", key="dl_acc_xlsx",
        help="sheets: the scored rows, the summary per run and lag, accuracy by level, the FVA stairstep")
