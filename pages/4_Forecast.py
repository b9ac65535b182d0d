"""Forecast: H periods ahead with one model or the best per series, fan charts, totals, downloads."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from forecasting.export import charts_models as cm
from forecasting.export import report, tables
from forecasting.pipeline import ForecastConfig
from forecasting.models.registry import DEFAULT_MODEL, MODELS
from forecasting.explore.seasonality import dataset_season_length
from ui import downloads, feedback, hierarchy, model_settings, overrides, run_panel, sidebar, state, workspace

TOTAL = "Total over all series"

st.title("Forecast")
ds = state.get_dataset()
season, season_why = dataset_season_length(ds)
data_key = state.dataset_fingerprint(ds)
bt_entry = workspace.latest_entry("backtest", data_key)
backtest = bt_entry["result"] if bt_entry and bt_entry["dataset"] == data_key else None
st.caption(f"{ds.n_series} series · frequency {ds.freq} · {feedback.md(ds.source or 'dataset')}")

# ---------------------------------------------------------------- settings
workspace.restore_settings(workspace.FORECAST_SETTINGS)   # as last chosen in this workspace
names = list(MODELS)
c1, c2, c3 = st.columns([1, 2, 1])
horizon = c1.number_input("Horizon (periods ahead)", 1, 1000, value=min(max(season, 6), 28), key="fc_horizon")
model = c2.selectbox("Model", names, index=names.index(DEFAULT_MODEL), key="fc_model",
                     format_func=lambda n: f"{n} — {MODELS[n].description}",
                     help=f"default {DEFAULT_MODEL}, the best measured on M3, Tourism and the sample data "
                          "(benchmarks/results/selection.md); auto: per series the combination of ets, theta and "
                          "sarima, or a single model where it wins clearly in every backtest window")
season_length = c3.number_input("Season length", 1, 400, value=season, key="fc_season",
                                help=f"default {season}: {season_why}")
if backtest is not None and len(backtest.summary):
    st.caption(f"Best in your backtest: **{backtest.summary.iloc[0]['model']}** (ranked by the leaderboard).")
with st.expander("Advanced", expanded=False):
    a1, a2 = st.columns(2)
    seed = int(a1.number_input("Seed", 0, 2**31 - 1, value=0, key="fc_seed"))
    intervals = a2.selectbox("Intervals", ["conformal", "model"], key="fc_intervals",
                             help="conformal (default, as `forecast --intervals`; the better calibrated as "
                                  "measured, as the API's default too): each horizon step's interval from the errors "
                                  "of backtests at the 3 most recent origins of the history; model: each model's own")
    params = {model: model_settings.one_model(model, "fc")}      # the model's declared settings
    model_settings.add_network_choices(params, [model], "fc_net", title=False)
    params = {m: p for m, p in params.items() if p}
hcfg = hierarchy.settings(ds, "fc")
workspace.keep_settings(workspace.FORECAST_SETTINGS)
eng = sidebar.engine_settings()
cfg = ForecastConfig(horizon=int(horizon), model=model, season_length=int(season_length), seed=seed,
                     engine=eng.engine, address=eng.address, n_workers=eng.n_workers,
                     model_params=params, intervals=intervals)
key = state.run_key(data_key, cfg, hcfg)

entry = run_panel.run_block("forecast", ds, cfg, key, data_key, hcfg=hcfg,
                            hint="Choose a horizon and a model, then **Run forecast**.")
res = entry["result"]
fc = res.forecasts
if res.info.get("cancelled"):
    st.warning(f"Stopped: forecasts for {fc['unique_id'].nunique()} of {ds.n_series} series so far.")
if fc.empty:
    st.stop()
hier = None
if res.info.get("hierarchy"):      # every node of every level: the charts and tables use the nodes' dataset
    ds, hier = hierarchy.node_dataset(ds, res, data_key)
    method = res.info["hierarchy"]["reconcile"]
    if method == "none":
        st.info(f"Base forecasts of every level ({', '.join(hier.level_names)}): each node forecast on its own, "
                "so the levels need not add up. Choose a reconciliation to make them.")
    else:
        gap = hierarchy.coherence_gap(hier, fc, ["model", "ds"])
        st.success(f"Reconciled with **{method}**: every level ({', '.join(hier.level_names)}) adds up "
                   f"(largest relative gap {gap:.1e}).")

# ---------------------------------------------------------------- charts
charts: dict[str, object] = {}
tail = max(3 * int(horizon), 2 * season, 30)
v1, v2 = st.columns([1, 2])
views = ["Series", "Total"] + [f"By {c}" for c in ds.id_cols if len(ds.id_cols) > 1]
if hier is not None:              # the total and every group are nodes of their own
    views = ["Series"]
view = v1.radio("View", views if ds.n_series > 1 else ["Series"], horizontal=True, key="fc_view")
if view == "Series":
    if hier is not None:
        uid = hierarchy.pick_node(hier, set(fc["unique_id"]), "fc_h", v2)
    else:
        uid = v2.selectbox("Series", list(pd.unique(fc["unique_id"])), key="fc_series")
    fig = cm.fan_chart(ds.series(uid), fc[fc["unique_id"] == uid], title=cm.esc(uid), history_tail=tail,
                       ytitle=cm.esc(ds.target_col))
    overrides.add_final_trace(fig, entry, uid)      # the final forecast, where a planner overrode it
    name = f"forecast_{uid}"
else:
    by = None if view == "Total" else view[3:]
    hist, agg = cm.aggregate(ds.df[ds.df["unique_id"].isin(fc["unique_id"])], fc, ds.id_map, by=by)
    group = "total" if by is None else v2.selectbox(by, sorted(agg["group"].unique()), key="fc_group")
    fig = cm.fan_chart(hist[hist["group"] == group], agg[agg["group"] == group],
                       title=TOTAL if by is None else f"{cm.esc(by)} = {cm.esc(group)} (sum of its series)",
                       history_tail=tail, ytitle=cm.esc(ds.target_col))
    st.caption("Aggregated bands add up the series' bounds: conservative, never too narrow.")
    name = f"forecast_{view}_{group}"
downloads.chart(fig, name, ds.source, key="fc_chart")
charts[name] = fig

att = res.attention
if view == "Series" and att is not None and (att["unique_id"] == uid).any():
    with st.expander(f"Why this forecast: the periods the {model} attended to", expanded=False):
        hist = ds.series(uid)
        first = fc.loc[fc["unique_id"] == uid, "ds"].min()
        afig = cm.attention_figure(hist[hist["ds"] < first], att[att["unique_id"] == uid],
                                   title=f"Attention over the lookback: {cm.esc(uid)}", ytitle=cm.esc(ds.target_col))
        st.plotly_chart(afig, key="att_chart")
        st.caption("Bars: how much the last observed period weighs each period of the input window when the "
                   "network builds its forecast (top attention layer, averaged over heads; the weights sum to 1). "
                   "High bars a season apart mean the network reads the seasonal pattern; a tall bar on one "
                   "date means that period drives the forecast.")
        downloads.chart_downloads(afig, f"attention_{uid}", ds.source)
        charts[f"attention_{uid}"] = afig

# ---------------------------------------------------------------- numbers and settings
frames = state.memo("tables", entry["key"] + (bt_entry["key"] if backtest is not None else ""),
                        lambda: tables.export_tables(ds, res, backtest))
frames = overrides.with_final(frames, entry)      # forecast (statistical), override, final
st.subheader("Forecast numbers")
daily_or_coarser = bool((fc["ds"] == fc["ds"].dt.normalize()).all())
st.dataframe(frames["forecasts"], hide_index=True, key="fc_table", column_config={
    "date": st.column_config.DateColumn("date") if daily_or_coarser else st.column_config.DatetimeColumn("date"),
    **{c: st.column_config.NumberColumn(c, format="%.2f") for c in frames["forecasts"].columns
       if c in ("forecast", "override", "final") or c.startswith(("lo_", "hi_"))}})
if "settings" in frames:
    with st.expander("Model and settings per series"):
        st.dataframe(frames["settings"], hide_index=True)
overrides.editor(ds, entry, uid if view == "Series" else None)     # judgmental overrides and the audit trail

# ---------------------------------------------------------------- downloads
st.subheader("Downloads")
info = {"page": "Forecast", "backtest included": backtest is not None}


def _report_html() -> str:
    return report.build_report(ds, res, backtest, info=info, forecast_table=frames["forecasts"])


def _pdf() -> bytes:
    try:
        return report.html_to_pdf(_report_html())
    except report.ExportUnavailable as exc:   # a download must return bytes: explain in a text file
        return f"PDF export failed: {exc}\n".encode()


d = st.columns(5)
with d[0]:
    downloads.download("Forecast (CSV)", lambda: tables.to_csv_bytes(frames["forecasts"]), ds.source,
                        "forecast", "csv", key="dl_fc_csv")
with d[1]:
    downloads.download("Excel workbook", lambda: tables.to_excel_bytes(frames), ds.source, "forecast", "xlsx",
                        key="dl_fc_xlsx", help="sheets: forecasts, metrics, settings, data quality …")
with d[2]:
    downloads.download("Report (HTML)", lambda: _report_html().encode("utf-8"), ds.source, "report", "html",
                        key="dl_report_html", help="one self-contained file, opens offline")
with d[3]:
    if report.find_chromium():
        downloads.download("Report (PDF)", _pdf, ds.source, "report", "pdf", key="dl_report_pdf")
    else:
        st.button("Report (PDF)", disabled=True, key="dl_report_pdf", help="needs Chromium on the server")
with d[4]:
    downloads.download("Everything (zip)", lambda: report.zip_bytes(ds, res, backtest, info=info, charts=charts,
                                                                forecast_table=frames["forecasts"]),
                        ds.source, "salescast", "zip", key="dl_zip",
                        help="CSVs, Excel, report (HTML + PDF), the chart as HTML + PNG")
