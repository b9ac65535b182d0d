"""Explore page: trend, seasonality, cycles and decomposition of a series, a group or the total.
Thin: widgets -> ExploreConfig -> forecasting.explore (cached in ui.state) -> plotly charts and downloads."""
import streamlit as st

from forecasting.explore.anomalies import SCALE_TEXT, THRESHOLD as ANOMALY_THRESHOLD, series_flags
from forecasting.explore.aggregate import aggregation_choices, describe_choice
from forecasting.explore.cycles import cycles
from forecasting.explore.prep import to_series
from forecasting.explore.seasonality import fmt_period, seasonal_indices
from forecasting.explore.smoothing import ema, sma, trend_line
from forecasting.explore.stationarity import acf_pacf
from forecasting.explore.summary import ExploreConfig
from forecasting.export import charts_explore as charts
from forecasting.export.tables import to_csv_bytes
from ui import downloads, feedback, state

METHODS = {"stl": "STL", "mstl": "MSTL (several periods)", "classical": "Classical"}
MANY_SERIES = 60          # above this, the all-series table waits for a click


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


st.title("Explore")
st.caption("Understand a series before modelling it: trend, seasonality, cycles, stationarity, demand "
           "profile and anomalies. Pick the total, a group or one series.")
try:
    ds = state.get_dataset()
except Exception as exc:
    feedback.fail("No data to explore", exc)
source = ds.source or "data"
key = state.dataset_fingerprint(ds)

# ---------------------------------------------------------------- what to look at
choices = aggregation_choices(ds)
c1, c2 = st.columns(2)
kind, column = c1.selectbox("Look at", choices, format_func=lambda c: describe_choice(*c), key="explore_level")
try:
    agg = state.explore_aggregate(ds, key, kind, column)
except Exception as exc:
    feedback.fail("Cannot aggregate", exc)
ids = agg.series_ids
uid = c2.selectbox("Series", ids, key=f"explore_series_{kind}_{column}") if len(ids) > 1 else ids[0]
y = to_series(agg.frame, uid)
name = uid if uid != "total" else (ds.target_col or "series")
for note in agg.notes:
    st.caption(f"ℹ️ {note}")

with st.sidebar:
    st.subheader("Explore settings")
    sma_window = st.number_input("Simple moving average window", 0, 400, 7 if ds.freq.upper().startswith("D") else 3,
                                 help="0 hides it", key="explore_sma")
    ema_span = st.number_input("Exponential moving average span", 0, 400, 0, help="0 hides it", key="explore_ema")
    show_trend = st.checkbox("Least-squares trend line", True, key="explore_trend")
    show_adjusted = st.checkbox("Seasonally adjusted series", False, key="explore_adjusted")
    method = st.selectbox("Decomposition", list(METHODS), format_func=METHODS.get, key="explore_method")
    periods_text = st.text_input("Seasonal period(s)", "", placeholder="detected; e.g. 7 or 7,365.25",
                                 key="explore_periods")
    model = st.radio("Classical model", ["additive", "multiplicative"], horizontal=True, key="explore_model",
                     disabled=method != "classical")
    robust = st.checkbox("Robust fitting (STL/MSTL)", True, key="explore_robust")
    threshold = st.slider("Anomaly threshold (robust z)", 2.0, 8.0, ANOMALY_THRESHOLD, 0.5, key="explore_threshold")

try:
    from forecasting.explore.decompose import parse_periods

    periods = parse_periods(periods_text)
    cfg = ExploreConfig(method, tuple(periods) if periods else None, model, robust, float(threshold))
    with st.spinner("Analysing the series …"):
        card = state.explore_analyze(y, ds.freq, cfg, series_flags(agg.frame, uid))
except Exception as exc:
    feedback.fail("Cannot analyse this series", exc)
dec = card.decomposition

# ---------------------------------------------------------------- summary card
with st.container(border=True):
    st.markdown(f"**{charts.esc(name)}** · {card.n_obs} observations · frequency `{ds.freq}`")
    m = st.columns(6)
    m[0].metric("Seasonal periods", ", ".join(fmt_period(p) for p in card.periods) or "none")
    m[1].metric("Trend strength", fmt(card.trend_strength))
    m[2].metric("Seasonal strength", fmt(card.seasonal_strength))
    m[3].metric("Stationary", {True: "yes", False: "no", None: "unclear"}[card.stationarity.stationary])
    m[4].metric("Demand class", card.profile.demand_class)
    m[5].metric("Anomalies", card.n_anomalies)
    st.write(card.stationarity.verdict)
    st.caption(f"Demand: {card.profile.advice}. Models use season length {card.season_length} by default. "
               f"Anomalies scored on the {SCALE_TEXT[card.anomaly_scale]} scale, chosen from how the seasonal "
               "swing grows with the level (the Data page's quality report uses the same rule).")
    for note in card.notes:
        st.caption(f"ℹ️ {note}")

tabs = st.tabs(["Series", "Seasonality", "Decomposition", "Autocorrelation", "Cycles", "All series"])

with tabs[0]:
    fig = charts.series_figure(
        y, name, sma=sma(y, sma_window) if sma_window else None, sma_window=sma_window,
        ema=ema(y, ema_span) if ema_span else None, ema_span=ema_span,
        trend=trend_line(y) if show_trend else None, anomalies=card.anomalies,
        adjusted=dec.adjusted if show_adjusted and dec.seasonal_cols else None)
    downloads.chart(fig, f"{name} series", source, key="fig_series")
    if show_trend:
        tl = trend_line(y)
        st.caption(f"Trend line: {tl.slope:+.4g} per period (R² {fmt(tl.r2)}).")
    if card.n_anomalies:
        st.markdown(f"**Anomalies** (extreme seasonal residuals on the {SCALE_TEXT[card.anomaly_scale]} scale)")
        st.dataframe(card.anomalies, hide_index=True, width="stretch",
                     column_config={"ds": st.column_config.DateColumn("date"),
                                    **{c: st.column_config.NumberColumn(format="%.2f")
                                       for c in ("y", "expected", "resid", "score")}})
    p = card.profile
    st.markdown("**Demand profile**")
    st.dataframe([{"mean": p.mean, "std": p.std, "CV": p.cv, "skewness": p.skewness, "kurtosis": p.kurtosis,
                   "zero share": p.zero_share, "ADI": p.adi, "CV²": p.cv2, "class": p.demand_class}],
                 hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.3g")
                                                 for c in ("mean", "std", "CV", "skewness", "kurtosis",
                                                           "zero share", "ADI", "CV²")})

with tabs[1]:
    options = sorted({int(round(q)) for q in card.periods} | set(dec.periods)) or [card.season_length]
    period = st.selectbox("Period for these plots", options, key="explore_season_period") if len(options) > 1 \
        else options[0]
    if period < 2:
        st.info("No seasonal period was found (or the series holds fewer than two full seasons). "
                "Enter one in the sidebar to look anyway.")
    else:
        downloads.chart(charts.seasonal_figure(y, period, ds.freq, name), f"{name} seasonal plot", source, key="fig_seasonal")
        if period <= 60:
            downloads.chart(charts.subseries_figure(y, period, ds.freq, name), f"{name} sub-series plot", source, key="fig_subseries")
        else:
            st.caption(f"Sub-series plot left out: {period} positions are too many to read.")
        col = "seasonal" if "seasonal" in dec.frame else f"seasonal_{period}"
        if col in dec.frame:
            idx = seasonal_indices(dec.frame[col].dropna(), period, ds.freq, dec.multiplicative)
            st.markdown("**Seasonal indices** " + ("(factors: 1 = average)" if dec.multiplicative
                                                    else "(units above or below the trend)"))
            st.dataframe(idx, hide_index=True, width="stretch")
            downloads.download("Seasonal indices (CSV)", lambda idx=idx: to_csv_bytes(idx), source, f"{name} indices", "csv",
                               key="dl_indices")

with tabs[2]:
    downloads.chart(charts.decomposition_figure(dec, name), f"{name} decomposition", source, key="fig_decomposition")
    comp = dec.frame.reset_index().rename(columns={"ds": "date"})
    comp.insert(0, "series", name)
    comp["adjusted"] = dec.adjusted.to_numpy()
    c1, c2 = st.columns(2)
    with c1:
        downloads.download("Components of this series (CSV)", lambda comp=comp: to_csv_bytes(comp), source,
                           f"{name} components", "csv", key="dl_comp")
    if len(ids) > 1:
        with c2:
            downloads.download(
                f"Components of all {len(ids)} series (CSV)",
                lambda: to_csv_bytes(state.explore_components(agg.frame, ds.freq, method, cfg.periods, model, robust)),
                source, "components", "csv", key="dl_comp_all")

with tabs[3]:
    nlags = st.slider("Lags", 5, max(6, min(400, card.n_obs // 2 - 1)),
                      min(max(2 * card.season_length + 2, 24), max(5, card.n_obs // 2 - 1)), key="explore_lags")
    table = acf_pacf(y, nlags, freq=ds.freq)
    if table.empty:
        st.info("Too few values for autocorrelation.")
    else:
        downloads.chart(charts.acf_pacf_figure(table, name), f"{name} ACF PACF", source, key="fig_acf")
    s = card.stationarity
    st.write(s.verdict)
    st.dataframe([{"test": "ADF (null: unit root)", "statistic": s.adf_stat, "p-value": s.adf_p},
                  {"test": "KPSS (null: stationary)", "statistic": s.kpss_stat, "p-value": s.kpss_p}],
                 hide_index=True)

with tabs[4]:
    cyc = cycles(dec.adjusted, ds.freq, max(dec.periods or [1]))
    downloads.chart(charts.cycles_figure(cyc, name), f"{name} cycles", source, key="fig_cycles")
    st.caption(f"Hodrick–Prescott λ = {cyc.hp_lambda:,.0f} (Ravn–Uhlig for this frequency)."
               + (f" Band-pass keeps swings of {cyc.band[0]:g}–{cyc.band[1]:g} periods." if cyc.band else ""))
    for note in cyc.notes:
        st.caption(f"ℹ️ {note}")

with tabs[5]:
    if len(ids) < 2:
        st.info("This view holds one series. Choose “Single series” or a per-column view to compare several.")
    else:
        go = len(ids) <= MANY_SERIES or st.button(f"Profile all {len(ids)} series", key="explore_table_go")
        if go:
            with st.spinner(f"Profiling {len(ids)} series …"):
                table = state.explore_table(agg.frame, ds.freq, float(threshold))
            st.caption("Click a column header to sort; look first at high seasonal strength, many anomalies "
                       "or an intermittent/lumpy class.")
            st.dataframe(table, hide_index=True, width="stretch", key="explore_table",
                         column_config={"unique_id": "series",
                                        "trend_strength": st.column_config.ProgressColumn("trend strength", min_value=0, max_value=1, format="%.2f"),
                                        "seasonal_strength": st.column_config.ProgressColumn("seasonal strength", min_value=0, max_value=1, format="%.2f")})
            downloads.download("Table (CSV)", lambda table=table: to_csv_bytes(table), source, "series profile", "csv",
                               key="dl_table")
