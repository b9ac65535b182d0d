"""Plan: from forecast to decision — stock targets, ABC/XYZ classes, exceptions and the policy backtest."""
from __future__ import annotations

import hashlib
from functools import partial

import streamlit as st

from forecasting.export import charts_models as cm
from forecasting.export import charts_planning as cp
from forecasting.export import tables
from forecasting.errors import SalesCastError
from forecasting.models.registry import DEFAULT_MODEL, MODELS
from forecasting.planning import PlanConfig, run_plan
from forecasting.planning.run import previous_forecast_table, stock_column, stock_table
from forecasting.explore.seasonality import dataset_season_length
from ui import downloads, feedback, run_panel, sidebar, state

st.title("Plan")
SERIES_PARAM = "series"      # ?series=<id>: the series whose chart opens (the exception links)
LINKS = 200                  # exception links drawn (by rank)
ds = state.get_dataset()
season, season_why = dataset_season_length(ds)
data_key = state.dataset_fingerprint(ds)
st.caption(f"{ds.n_series} series · frequency {ds.freq} · {feedback.md(ds.source or 'dataset')} · "
           "stock targets from the forecast distribution, checked on the backtest")

# ---------------------------------------------------------------- settings
names = [n for n, s in MODELS.items() if not s.capabilities.global_model]
c1, c2, c3, c4 = st.columns(4)
lead = int(c1.number_input("Lead time (periods)", 1, 520, value=2, key="plan_lead",
                           help="periods between placing an order and receiving it"))
review = int(c2.number_input("Review period (periods)", 1, 520, value=1, key="plan_review",
                             help="periods between two orders; 1 = order every period"))
alpha = float(c3.number_input("Cycle service level", 0.5, 0.999, value=0.95, step=0.01, format="%.3f",
                              key="plan_alpha", help="chance that a replenishment cycle ends without a stock-out"))
horizon = int(c4.number_input("Horizon (periods)", 1, 1000, value=max(season, lead + review), key="plan_horizon"))
m1, m2, m3 = st.columns([2, 1, 1])
model = m1.selectbox("Model", names, index=names.index(DEFAULT_MODEL), key="plan_model",
                     format_func=lambda n: f"{n} — {MODELS[n].description}")
windows = int(m2.number_input("Policy backtest cutoffs", 0, 24, value=3, key="plan_windows",
                              help="recompute the targets at past cutoffs and count the stock-outs that followed"))
lead_sd = float(m3.number_input("Lead time std. dev.", 0.0, 100.0, value=0.0, step=0.5, key="plan_lead_sd",
                                help="0 = a fixed lead time; else the lead time varies around its mean"))

covs = [c for c in ds.df.columns if c not in ("unique_id", "ds", "y")]
st.markdown("**Stock**")
s1, s2 = st.columns([1, 2])
stock_kind = s1.radio("Stock on hand", ["None", "One number", "A column of the data", "A file"], key="plan_stock",
                      horizontal=False)
on_hand, on_order, plan_ds, stock_note = None, None, ds, ""
try:
    if stock_kind == "One number":
        on_hand = float(s2.number_input("On hand (every series)", 0.0, value=0.0, key="plan_on_hand"))
        on_order = float(s2.number_input("On order (every series)", 0.0, value=0.0, key="plan_on_order"))
    elif stock_kind == "A column of the data":
        if not covs:
            s2.info("The data has no numeric column besides the target.")
        else:
            col = s2.selectbox("On-hand column (its last value per series)", covs, key="plan_stock_col")
            series, plan_ds = stock_column(ds, col)
            on_hand = {str(k): float(v) for k, v in series.items()}
    elif stock_kind == "A file":
        up = s2.file_uploader("CSV or Excel with the id column(s) and on_hand (and on_order)",
                              type=["csv", "xlsx"], key="plan_stock_file")
        if up is not None:
            from forecasting.data.sniff import read_raw

            table = read_raw(up.getvalue(), filename=up.name).df
            on_hand = {str(k): float(v) for k, v in stock_table(table, ds).items()}
            oo = next((c for c in table.columns if str(c).strip().lower() == "on_order"), None)
            if oo is not None:
                on_order = {str(k): float(v) for k, v in stock_table(table, ds, oo).items()}
            stock_note = f"{len(on_hand)} series' stock read from {feedback.md(up.name)}"
except SalesCastError as exc:
    feedback.error(str(exc))
    st.stop()
if stock_note:
    s2.caption(stock_note)

# last cycle's forecast (optional): the "jump vs previous forecast" exception compares with it, as
# `plan --previous-forecast`. Kept as (bytes, name[, file_id]) under PREV: AppTest cannot drive an uploader.
PREV = "plan_previous_upload"
p1, p2 = st.columns([1, 2])
up_prev = p1.file_uploader("Last cycle's forecast (optional)", type=["csv", "xlsx"], key="plan_prev_file",
                           help="a forecast file as the forecast command or the Forecast page writes it (id "
                                "column(s) or series, date, forecast): forecasts that moved more than 50 % "
                                "since are listed as exceptions; without it, the forecast made at the last "
                                "backtest cutoff is compared")
if up_prev is not None and (state.get(PREV) or ())[2:3] != (up_prev.file_id,):
    state.put(PREV, (up_prev.getvalue(), up_prev.name, up_prev.file_id))
elif up_prev is None and len(state.get(PREV) or ()) > 2:
    state.put(PREV, None)            # the file was removed from the uploader
previous, prev_key = None, ""
if state.get(PREV) is not None:
    prev_bytes, prev_name = state.get(PREV)[:2]
    try:
        from forecasting.data.sniff import read_raw

        previous = previous_forecast_table(read_raw(prev_bytes, filename=prev_name, min_rows=1).df, plan_ds, model)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one message, the page stops
        feedback.fail(f"Cannot use {prev_name} as last cycle's forecast", exc)
    prev_key = hashlib.sha1(prev_bytes).hexdigest()[:12]
    p2.caption(f"Jumps compared with {feedback.md(prev_name)}: {previous['unique_id'].nunique()} series, "
               f"{previous['ds'].min():%Y-%m-%d} to {previous['ds'].max():%Y-%m-%d}.")

with st.expander("Advanced", expanded=False):
    a1, a2, a3, a4 = st.columns(4)
    abc_a = a1.number_input("A ends at value share", 0.05, 0.98, value=0.80, step=0.05, key="plan_abc_a")
    abc_b = a2.number_input("B ends at value share", 0.06, 0.99, value=0.95, step=0.01, key="plan_abc_b")
    xyz_x = a3.number_input("X ends at CV", 0.01, 10.0, value=0.5, step=0.1, key="plan_xyz_x")
    xyz_y = a4.number_input("Y ends at CV", 0.02, 20.0, value=1.0, step=0.1, key="plan_xyz_y")
    b1, b2, b3 = st.columns(3)
    calib = int(b1.number_input("Calibration windows", 0, 24, value=3, key="plan_calib",
                                help="backtest windows whose errors shape the lead-time demand"))
    price_choice = b2.selectbox("Price column (ABC value)", ["(auto: price / unit_price)"] + covs, key="plan_price")
    seed = int(b3.number_input("Seed", 0, 2**31 - 1, value=0, key="plan_seed"))
eng = sidebar.engine_settings()
cfg = PlanConfig(horizon=horizon, lead_time=lead, lead_time_sd=lead_sd, review_period=review, service_level=alpha,
                 model=model, season_length=season, on_hand=on_hand, on_order=on_order, backtest_windows=windows,
                 calibration_windows=calib, abc_thresholds=(abc_a, abc_b), xyz_thresholds=(xyz_x, xyz_y),
                 price_col=None if price_choice.startswith("(auto") else price_choice, seed=seed,
                 engine=eng.engine, address=eng.address, n_workers=eng.n_workers, previous_forecast=previous)
feedback.check(cfg)
key = state.run_key(data_key, cfg) + prev_key      # the file's digest: a frame's repr is abridged

if st.button("Compute targets", type="primary", key="run_plan"):
    run_panel.run_or_reuse("plan", "Plan", key, data_key, cfg, partial(run_plan, plan_ds))

run_panel.wait_for_stopped_run("plan")
entry = state.latest_result("plan")
if entry is None or entry["dataset"] != data_key:
    st.info("Set the lead time, review period, service level and stock, then **Compute targets**.")
    st.stop()
res = entry["result"]
if entry is not state.cached_result("plan", key):
    st.caption("Showing the last plan; the settings above have changed since.")
tg = res.targets
out = ds.restore_ids(tg)
ids = list(ds.id_cols) or ["series"]
charts: dict[str, object] = {}

# ---------------------------------------------------------------- headline
k = st.columns(4)
k[0].metric("Series", len(tg))
k[1].metric("Exceptions", len(res.exceptions))
if "order_quantity" in tg.columns:
    k[2].metric("Series to order", int((tg["order_quantity"].fillna(0) > 0).sum()))
if len(res.summary):
    s = res.summary.iloc[0]
    k[3].metric("Achieved service level", f"{s['achieved_service_level']:.1%}",
                delta=f"{100 * (s['achieved_service_level'] - s['target_service_level']):+.1f} pts vs target",
                delta_color="off")
for note in res.info.get("notes", []):
    st.caption(feedback.md(note))

# ---------------------------------------------------------------- targets
st.subheader("Stock targets")
f1, f2, f3 = st.columns(3)
pick_abc = f1.multiselect("ABC", ["A", "B", "C"], default=["A", "B", "C"], key="plan_f_abc")
pick_xyz = f2.multiselect("XYZ", ["X", "Y", "Z"], default=["X", "Y", "Z"], key="plan_f_xyz")
classes = sorted(tg["demand_class"].dropna().unique())
pick_dc = f3.multiselect("Demand class", classes, default=classes, key="plan_f_dc")
shown = out[out["abc"].isin(pick_abc) & out["xyz"].isin(pick_xyz) & out["demand_class"].isin(pick_dc)]
num = {c: st.column_config.NumberColumn(c, format="%.1f") for c in
       ("lead_time_demand", "safety_stock", "reorder_point", "order_up_to", "order_quantity", "on_hand", "on_order",
        "average_stock", "value", "price")}
num.update({c: st.column_config.NumberColumn(c, format="%.3f") for c in
            ("fill_rate", "achieved_service_level", "achieved_fill_rate", "cv", "service_level")})
st.dataframe(shown, hide_index=True, key="plan_table", column_config=num)
st.caption(f"{len(shown)} of {len(out)} series shown. Click a column header to sort. reorder point = lead-time "
           "demand + safety stock; order-up-to covers lead time + review period; order quantity = order-up-to − "
           "(on hand + on order), never negative.")

g1, g2 = st.columns(2)
with g1:
    fig = cp.abc_xyz_figure(tg)
    downloads.chart(fig, "abc_xyz", ds.source, key="plan_matrix")
    charts["abc_xyz"] = fig
with g2:
    if len(res.summary):
        pfig = cp.policy_figure(res.summary)
        downloads.chart(pfig, "policy_backtest", ds.source, key="plan_policy")
        charts["policy_backtest"] = pfig
    else:
        st.info("Set policy backtest cutoffs above to check the targets against past demand.")

# ---------------------------------------------------------------- exceptions
st.subheader("Exceptions")
ex = ds.restore_ids(res.exceptions)
if ex.empty:
    st.success("No series needs a planner's eye: no exception rule fired.")
else:
    st.dataframe(ex, hide_index=True, key="plan_exceptions",
                 column_config={"value_at_risk": st.column_config.NumberColumn("value at risk", format="%.0f"),
                                "tracking_signal": st.column_config.NumberColumn("tracking signal", format="%.1f")})
    st.caption("Ranked by value at risk (price × units × backtest error). Each link below opens that series' "
               f"chart{f' (the first {LINKS} by rank; the rest from the list under them)' if len(ex) > LINKS else ''}.")
    # a link per exception: this page again with ?series=<id> (the session and its results stay: a page link,
    # not a new tab); the id is URL-encoded by streamlit, and escaped in the label
    with st.container(height=min(40 * min(len(ex), LINKS) + 16, 330), border=False):
        for e in res.exceptions.head(LINKS).itertuples(index=False):
            st.page_link("pages/6_Plan.py", label=f"{e.rank}. {feedback.md(e.unique_id)} — {feedback.md(e.reasons)}",
                         icon=":material/show_chart:", query_params={SERIES_PARAM: e.unique_id})
uids = list(res.exceptions["unique_id"]) + [u for u in tg["unique_id"] if u not in set(res.exceptions["unique_id"])]
state.follow_link(SERIES_PARAM, "plan_series", uids)     # an exception's link opens its chart below
uid = st.selectbox("Series chart", uids, key="plan_series",
                   format_func=lambda u: f"⚠ {u}" if u in set(res.exceptions["unique_id"]) else str(u))
fc = res.forecasts[res.forecasts["unique_id"] == uid]
keep = ["unique_id", "ds", "model", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
sfig = cm.fan_chart(ds.series(uid), fc[[c for c in keep if c in fc.columns]], title=cm.esc(uid),
                    history_tail=max(3 * horizon, 2 * season, 30), ytitle=cm.esc(ds.target_col))
st.plotly_chart(sfig, key="plan_series_chart")
row = tg[tg["unique_id"] == uid].iloc[0]
why = res.exceptions.loc[res.exceptions["unique_id"] == uid, "reasons"]
st.markdown(f"**{feedback.md(uid)}** · {row['abc']}{row['xyz']} · {feedback.md(row['demand_class'])} · "
            f"reorder point {row['reorder_point']:.1f} · safety stock {row['safety_stock']:.1f} · "
            f"order-up-to {row['order_up_to']:.1f}"
            + (f" · **{feedback.md(why.iloc[0])}**" if len(why) else ""))
downloads.chart_downloads(sfig, f"plan_{uid}", ds.source)

# ---------------------------------------------------------------- policy backtest detail
if len(res.summary):
    with st.expander("Policy backtest by class", expanded=False):
        st.dataframe(res.summary, hide_index=True, key="plan_summary", column_config={
            c: st.column_config.NumberColumn(c, format="%.3f") for c in res.summary.columns
            if c.endswith(("service_level", "fill_rate"))})
        st.caption("At each cutoff the targets are recomputed from the forecast made then, without that window's "
                   "errors, and compared with the demand that followed. Normal approximation: Σ forecast + "
                   "z·σ₁·√L, the textbook formula.")

# ---------------------------------------------------------------- downloads
st.subheader("Downloads")
sheets = {"targets": out, "exceptions": ex}
if len(res.policy):
    sheets["policy backtest"] = ds.restore_ids(res.policy)
    sheets["summary"] = res.summary
d = st.columns(3)
with d[0]:
    downloads.download("Targets (CSV)", lambda: tables.to_csv_bytes(out), ds.source, "plan", "csv", key="dl_plan_csv")
with d[1]:
    downloads.download("Excel workbook", lambda: tables.to_excel_bytes(sheets), ds.source, "plan", "xlsx",
                        key="dl_plan_xlsx", help="sheets: targets, exceptions, policy backtest, summary")
with d[2]:
    downloads.download("Exceptions (CSV)", lambda: tables.to_csv_bytes(ex), ds.source, "exceptions", "csv",
                        key="dl_plan_ex_csv")
