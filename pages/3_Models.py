"""Models: compare models by rolling-origin backtest; leaderboard, charts, residuals, training curves."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from forecasting.pipeline import BacktestConfig
from forecasting.export import charts_models as cm
from forecasting.export import tables
from forecasting.pipeline.calibration import coverage_by_step
from forecasting.models.registry import DEFAULT_MODEL, MODELS
from forecasting.explore.seasonality import dataset_season_length
from ui import downloads, feedback, hierarchy, model_settings, run_panel, sidebar, state, workspace

DEFAULT_MODELS = ["seasonal_naive", "ets", "theta"]

st.title("Models")
ds = state.get_dataset()
season, season_why = dataset_season_length(ds)
st.caption(f"{ds.n_series} series · frequency {ds.freq} · {feedback.md(ds.source or 'dataset')} — "
           "each model is fit on the history up to a cutoff and scored on the periods after it.")

# ---------------------------------------------------------------- settings
workspace.restore_settings(workspace.BACKTEST_SETTINGS)   # as last chosen in this workspace
choices = list(MODELS)
models = st.multiselect("Models to compare", choices,
                        default=[m for m in [*DEFAULT_MODELS, DEFAULT_MODEL] if m in choices],
                        format_func=lambda n: f"{n} — {MODELS[n].description}", key="models_choice",
                        help=f"Suggested for forecasting: {DEFAULT_MODEL} (the best measured on M3, Tourism and "
                             "the sample data); auto backtests inside each window, so it is the slowest")
st.caption(f"Suggested model for the forecast: **{DEFAULT_MODEL}** — best measured on M3, Tourism and the sample "
           "data (`benchmarks/results/selection.md`).")
c1, c2, c3, c4 = st.columns(4)
horizon = c1.number_input("Horizon (periods)", 1, 1000, value=min(max(season, 6), 28), key="bt_horizon")
windows = c2.number_input("Windows", 1, 20, value=3, key="bt_windows")
step = c3.number_input("Step between cutoffs (0 = horizon)", 0, 1000, value=0, key="bt_step")
season_length = c4.number_input("Season length", 1, 400, value=season, key="bt_season",
                                help=f"default {season}: {season_why}")
with st.expander("Model settings and advanced options"):
    params = model_settings.settings_rows(models, "set")      # each model's declared settings
    model_settings.add_network_choices(params, models, "bt_net")
    params = {m: p for m, p in params.items() if p}
    a1, a2, a3 = st.columns(3)
    window_type = a1.selectbox("Window type", ["expanding", "sliding"], key="bt_window_type")
    seed = int(a2.number_input("Seed", 0, 2**31 - 1, value=0, key="bt_seed"))
    intervals = a3.selectbox("Intervals", ["conformal", "model"], key="bt_intervals",
                             help="conformal (default, the better calibrated as measured): each window's interval "
                                  "from the errors of earlier windows of all series, per horizon step; model: each "
                                  "model's own")
    st.caption("Where the work runs is chosen in the sidebar (Where to compute); stopping keeps every "
               "finished series.")

hcfg = hierarchy.settings(ds, "bt")
workspace.keep_settings(workspace.BACKTEST_SETTINGS)
eng = sidebar.engine_settings()
cfg = BacktestConfig(horizon=int(horizon), models=list(models), windows=int(windows), step=int(step) or None,
                     season_length=int(season_length), window_type=window_type, model_params=params, seed=seed,
                     engine=eng.engine, address=eng.address, n_workers=eng.n_workers, intervals=intervals)
data_key = state.dataset_fingerprint(ds)
key = state.run_key(data_key, cfg, hcfg)

entry = run_panel.run_block("backtest", ds, cfg, key, data_key, hcfg=hcfg, disabled=not models,
                            hint="Choose models and settings, then **Run backtest**.")
res = entry["result"]
if res.info.get("cancelled"):
    done = res.metrics["unique_id"].nunique() if len(res.metrics) else 0
    st.warning(f"Stopped: results for {done} of {ds.n_series} series so far.")
if res.metrics.empty:
    st.stop()
hier = None
if res.info.get("hierarchy"):      # every node of every level: charts and tables use the nodes' dataset
    ds, hier = hierarchy.node_dataset(ds, res, data_key)
    method = res.info["hierarchy"]["reconcile"]
    st.caption(f"Every level scored ({', '.join(hier.level_names)}); "
               + ("base forecasts, not reconciled." if method == "none" else f"reconciled with **{method}**: "
                  "the forecasts of every level add up."))

# ---------------------------------------------------------------- leaderboard
metric = tables.rank_metric(res.metrics)
summary = res.summary
lower = [c for c in tables.LOWER_IS_BETTER if c in summary.columns]
if metric and len(summary):
    best = summary.loc[summary[metric].idxmin()]
    st.success(f"Best model: **{best['model']}** (mean {metric.upper()} {best[metric]:.3f} over "
               f"{int(best.get('n_series', ds.n_series))} series)")
tab_lb, tab_series, tab_bt, tab_err, tab_res, tab_train = st.tabs(
    ["Leaderboard", "Per series", "Backtest charts", "Error distribution", "Residuals", "Training"])

with tab_lb:
    if hier is not None:
        hierarchy.leaderboard_by_level(res, "lb_level")
        hierarchy.methods_by_level(res, "lb_methods")
    else:
        st.dataframe(summary.style.highlight_min(subset=lower, color="#c8e6c9").format(precision=3),
                     hide_index=True)
        st.caption("Mean of each metric over series (click a header to sort). Lowest error per column highlighted.")
    if ds.n_series > 1 and metric:
        wins = tables.win_counts(res.metrics, metric)
        st.markdown(f"**Wins per model** (lowest {metric.upper()} per series)")
        st.dataframe(wins, hide_index=True, column_config={"share": st.column_config.ProgressColumn(
            "share", format="percent", min_value=0.0, max_value=1.0)})
    if res.total is not None and len(res.total):
        st.markdown("**Accuracy of the total over series**")
        st.dataframe(res.total, hide_index=True)
    cov = getattr(res, "coverage_steps", None)
    if cov is None and len(res.forecasts):     # a run read back from the workspace store
        cov = coverage_by_step(res.forecasts, res.info["config"]["levels"])
    if cov is not None and len(cov):
        st.markdown(f"**Interval coverage per horizon step** ({res.info.get('intervals', 'model')} intervals; "
                    "nominal " + ", ".join(f"{l}%" for l in res.info["config"]["levels"]) + ")")
        st.dataframe(cov, hide_index=True, column_config={
            c: st.column_config.ProgressColumn(c, format="percent", min_value=0.0, max_value=1.0)
            for c in cov.columns if c.startswith("coverage_")})

frames = state.memo("tables", entry["key"], lambda: tables.export_tables(ds, None, res))
with tab_series:
    per_series = frames["metrics"]
    pick = st.multiselect("Models", list(pd.unique(res.metrics["model"])), key="series_models")
    shown = per_series[per_series["model"].isin(pick)] if pick else per_series
    st.dataframe(shown, hide_index=True)
    st.caption("The settings column shows what was chosen per series (ARIMA orders, ETS forms …); "
               "fallback says when a model could not run and what replaced it.")
    d1, d2, d3 = st.columns(3)
    with d1:
        downloads.download("Metrics (CSV)", lambda: tables.to_csv_bytes(frames["metrics"]), ds.source,
                            "backtest_metrics", "csv", key="dl_metrics")
    with d2:
        downloads.download("Settings per series (CSV)", lambda: tables.to_csv_bytes(frames["settings"]),
                            ds.source, "model_settings", "csv", key="dl_settings")
    with d3:
        downloads.download("Everything (Excel)", lambda: tables.to_excel_bytes(frames), ds.source,
                            "backtest", "xlsx", key="dl_bt_xlsx")

uids = list(pd.unique(res.metrics["unique_id"]))
with tab_bt:
    b1, b2 = st.columns([3, 1])
    if hier is not None:
        uid = hierarchy.pick_node(hier, set(uids), "bt_h", b1)
    else:
        uid = b1.selectbox("Series", uids, key="bt_series")
    level = b2.radio("Interval", [80, 95, "none"], horizontal=True, key="bt_level")
    fig = cm.backtest_figure(ds.series(uid), res.forecasts[res.forecasts["unique_id"] == uid],
                             title=f"Backtest: {cm.esc(uid)}", level=None if level == "none" else int(level),
                             history_tail=max(60, 6 * int(horizon)))
    downloads.chart(fig, f"backtest_{uid}", ds.source, key="bt_chart")

with tab_err:
    scaled = st.toggle("Scale errors by each series' mean level", value=ds.n_series > 1, key="err_scaled")
    fig = cm.error_distribution_figure(res.forecasts, scaled=scaled)
    downloads.chart(fig, "error_distribution", ds.source, key="err_chart")

with tab_res:
    r1, r2 = st.columns(2)
    r_uid = r1.selectbox("Series", uids, key="res_series")
    r_model = r2.selectbox("Model", list(pd.unique(res.metrics["model"])), key="res_model")
    source = "in-sample one-step residuals of the model refitted on the whole series"
    r_params = {k: v for k, v in params.get(r_model, {}).items() if k != "progress"}

    def _residuals():
        try:
            return cm.series_residuals(ds.series(r_uid)["y"].to_numpy(), r_model, int(season_length), r_params)
        except Exception:  # noqa: BLE001 - diagnostics fall back to backtest errors below
            return None

    resid = state.memo("residuals", f"{data_key}|{r_uid}|{r_model}|{season_length}|{sorted(r_params.items())}",
                           _residuals)
    if resid is None or len(resid) < 4:
        bt = res.forecasts[(res.forecasts["unique_id"] == r_uid) & (res.forecasts["model"] == r_model)]
        resid = (bt["actual"] - bt["forecast"]).dropna().to_numpy()
        source = "backtest errors (actual − forecast) over all windows: this model has no in-sample residuals"
    st.caption(f"Using {source}.")
    if len(resid) >= 4:
        st.markdown("**Ljung–Box test** (small p-values: the residuals still hold a pattern)")
        st.dataframe(cm.ljung_box_table(resid, season_length=int(season_length)), hide_index=True)
        acf_fig, hist_fig = cm.residual_acf_figure(resid), cm.residual_hist_figure(resid)
        g1, g2 = st.columns(2)
        g1.plotly_chart(acf_fig, key="acf_chart")
        g2.plotly_chart(hist_fig, key="hist_chart")
        downloads.chart_downloads(acf_fig, f"residual_acf_{r_model}_{r_uid}", ds.source)
        downloads.chart_downloads(hist_fig, f"residual_histogram_{r_model}_{r_uid}", ds.source)
    else:
        st.info("Too few residuals for diagnostics.")

with tab_train:
    curves = cm.training_runs(res.info.get("training_curves") or [])
    if curves.empty:
        st.info("Training curves appear here when lstm, gru or transformer ran in this backtest.")
    else:
        devices = sorted(set(curves.get("device", pd.Series(dtype=str)).dropna().astype(str)))
        st.markdown(f"Trained on: **{', '.join(devices) or 'cpu'}**")
        fig = cm.training_curves_figure(curves)
        downloads.chart(fig, "training_curves", ds.source, key="train_chart")
