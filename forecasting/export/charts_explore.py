"""Plotly figures for the Explore page (no streamlit): series with overlays, seasonal and sub-series
plots, stacked decomposition, ACF/PACF, cycles.

Inputs are date-indexed Series and the result objects of :mod:`forecasting.explore`. User strings
(series names) are HTML-escaped before they reach a title: plotly renders some HTML in labels.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.export.text import esc

LINE, SMA, EMA, TREND, ANOM, BAND = "#222222", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "rgba(31,119,180,0.15)"



def _layout(fig, title: str, height: int = 420):
    fig.update_layout(title=title, height=height, template="plotly_white", hovermode="x unified",
                      margin=dict(l=50, r=20, t=60, b=40), legend=dict(orientation="h", y=-0.15))
    return fig


def series_figure(y: pd.Series, name: str = "series", sma: pd.Series | None = None, sma_window: int | None = None,
                  ema: pd.Series | None = None, ema_span: int | None = None, trend=None,
                  anomalies: pd.DataFrame | None = None, adjusted: pd.Series | None = None):
    """The series with optional SMA/EMA overlays, least-squares trend line, seasonally adjusted series
    and anomalies marked."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=y.index, y=y.to_numpy(), name="observed", mode="lines",
                             line=dict(color=LINE, width=1.2), connectgaps=False))
    if adjusted is not None:
        fig.add_trace(go.Scatter(x=adjusted.index, y=adjusted.to_numpy(), name="seasonally adjusted",
                                 line=dict(color="#9467bd", width=1.2)))
    if sma is not None:
        fig.add_trace(go.Scatter(x=sma.index, y=sma.to_numpy(), name=f"SMA ({sma_window})", line=dict(color=SMA)))
    if ema is not None:
        fig.add_trace(go.Scatter(x=ema.index, y=ema.to_numpy(), name=f"EMA (span {ema_span})", line=dict(color=EMA)))
    if trend is not None:
        fig.add_trace(go.Scatter(x=trend.fitted.index, y=trend.fitted.to_numpy(),
                                 name=f"trend line ({trend.slope:+.3g} per period)",
                                 line=dict(color=TREND, dash="dash")))
    if anomalies is not None and len(anomalies):
        fig.add_trace(go.Scatter(x=anomalies["ds"], y=anomalies["y"], mode="markers", name="anomaly",
                                 marker=dict(color=ANOM, size=10, symbol="circle-open", line=dict(width=2)),
                                 customdata=anomalies[["expected", "score"]].to_numpy(),
                                 hovertemplate="%{y:.4g} (expected %{customdata[0]:.4g}, z=%{customdata[1]:.1f})"))
    return _layout(fig, esc(name))


def _cycle_positions(index: pd.DatetimeIndex, period: int, freq: str | None) -> tuple[pd.Series, pd.Series, str]:
    """(cycle label, position label, x-axis title) for each date, calendar-aware where the period fits."""
    from forecasting.explore.seasonality import periods_per_year

    ppy = periods_per_year(freq)
    if ppy and abs(ppy - period) / period < 0.05 and isinstance(index, pd.DatetimeIndex):
        cycle = pd.Series(index.year.astype(str), index=index)
        if round(ppy) == 12:
            return cycle, pd.Series(index.strftime("%b"), index=index), "month"
        if round(ppy) == 4:
            return cycle, pd.Series([f"Q{q}" for q in index.quarter], index=index), "quarter"
        if round(ppy) in (52, 53):
            return cycle, pd.Series(index.isocalendar().week.to_numpy(), index=index), "week of year"
        if round(ppy) in (365, 366):
            return cycle, pd.Series(index.dayofyear, index=index), "day of year"
    if period == 7 and isinstance(index, pd.DatetimeIndex) and freq and freq.upper().startswith("D"):
        iso = index.isocalendar()
        cycle = pd.Series((iso.year.astype(str) + "-W" + iso.week.astype(str).str.zfill(2)).to_numpy(), index=index)
        return cycle, pd.Series(index.strftime("%a"), index=index), "weekday"
    pos = np.arange(len(index))
    return (pd.Series((pos // period + 1).astype(str), index=index).radd("cycle "),
            pd.Series(pos % period + 1, index=index), f"position in the season (1–{period})")


_ORDER = [pd.Timestamp(2000, m, 1).strftime("%b") for m in range(1, 13)] + ["Q1", "Q2", "Q3", "Q4"] + [
    pd.Timestamp(2024, 1, d).strftime("%a") for d in range(1, 8)]   # 2024-01-01 is a Monday


def _ordered(pos: pd.Series) -> list:
    """Season positions in calendar order (Jan…Dec, Q1…Q4, Mon…Sun) or numeric order."""
    present = list(pd.unique(pos))
    if pos.dtype == object:
        return sorted(present, key=lambda v: _ORDER.index(v) if v in _ORDER else len(_ORDER))
    return sorted(present)


def seasonal_figure(y: pd.Series, period: int, freq: str | None = None, name: str = "series", max_cycles: int = 12):
    """One line per season (year, week …) against the position in the season; recent seasons darker."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if period < 2 or len(y) < period:
        return _layout(fig, f"{esc(name)}: no seasonal period to plot")
    cycle, pos, xtitle = _cycle_positions(y.index, period, freq)
    order = list(pd.unique(cycle))
    shown = order[-max_cycles:]
    for i, c in enumerate(shown):
        m = (cycle == c).to_numpy()
        shade = 0.25 + 0.75 * (i + 1) / len(shown)
        fig.add_trace(go.Scatter(x=pos[m].to_numpy(), y=y[m].to_numpy(), mode="lines+markers", name=esc(c),
                                 line=dict(color=f"rgba(31,119,180,{shade:.2f})"), marker=dict(size=4)))
    more = f" (last {len(shown)} of {len(order)})" if len(order) > len(shown) else ""
    fig.update_xaxes(title=xtitle, type="category" if pos.dtype == object else "linear")
    if pos.dtype == object:
        fig.update_xaxes(categoryorder="array", categoryarray=_ordered(pos))
    return _layout(fig, f"{esc(name)}: seasonal plot, period {period}{more}")


def subseries_figure(y: pd.Series, period: int, freq: str | None = None, name: str = "series"):
    """Sub-series plot: for each season position, its values over the seasons and their mean (bar)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if period < 2 or len(y) < period:
        return _layout(fig, f"{esc(name)}: no seasonal period to plot")
    _, pos, xtitle = _cycle_positions(y.index, period, freq)
    labels = _ordered(pos)
    width = 0.8
    for k, lab in enumerate(labels):
        vals = y[(pos == lab).to_numpy()]
        n = len(vals)
        xs = k - width / 2 + width * (np.arange(n) + 0.5) / max(n, 1)
        fig.add_trace(go.Scatter(x=xs, y=vals.to_numpy(), mode="lines", line=dict(color=SMA, width=1),
                                 showlegend=False, hovertext=[str(d.date()) for d in vals.index]))
        fig.add_trace(go.Scatter(x=[k - width / 2, k + width / 2], y=[vals.mean()] * 2, mode="lines",
                                 line=dict(color=ANOM, width=2), showlegend=k == 0, name="mean"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(labels))), ticktext=[str(v) for v in labels],
                     title=xtitle)
    return _layout(fig, f"{esc(name)}: sub-series plot, period {period}")


def decomposition_figure(dec, name: str = "series"):
    """Stacked panels sharing the date axis: observed, trend, each seasonal component, residual."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    f = dec.frame
    panels = ["y", "trend", *dec.seasonal_cols, "resid"]
    titles = ["observed", "trend", *[c.replace("_", " ") for c in dec.seasonal_cols], "residual"]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        subplot_titles=titles)
    for i, col in enumerate(panels, start=1):
        if col == "resid":
            fig.add_trace(go.Scatter(x=f.index, y=f[col], mode="markers", marker=dict(size=3, color=LINE),
                                     name=col, showlegend=False), row=i, col=1)
            fig.add_hline(y=1.0 if dec.multiplicative else 0.0, line=dict(color="#999", width=1), row=i, col=1)
        else:
            fig.add_trace(go.Scatter(x=f.index, y=f[col], mode="lines", line=dict(color=LINE if i == 1 else SMA),
                                     name=col, showlegend=False), row=i, col=1)
    imp = f[f["imputed"]]
    if len(imp):
        fig.add_trace(go.Scatter(x=imp.index, y=imp["y"], mode="markers", name="interpolated",
                                 marker=dict(color=EMA, size=6, symbol="x")), row=1, col=1)
    label = {"stl": "STL", "mstl": "MSTL", "classical": f"classical ({dec.model})",
             "trend": "trend only (no seasonal part)"}[dec.method]
    per = f", period {', '.join(map(str, dec.periods))}" if dec.periods else ""
    return _layout(fig, f"{esc(name)}: {label}{per}", height=170 * len(panels) + 60)


def acf_pacf_figure(table: pd.DataFrame, name: str = "series"):
    """ACF and PACF bars (lag ≥ 1) with the shaded 95% band around zero."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=["ACF", "PACF"], vertical_spacing=0.1)
    t = table[table["lag"] >= 1]
    for row, col in ((1, "acf"), (2, "pacf")):
        band = t[f"{col}_band"].to_numpy()
        fig.add_trace(go.Scatter(x=np.r_[t["lag"], t["lag"][::-1]], y=np.r_[band, -band[::-1]], fill="toself",
                                 fillcolor=BAND, line=dict(width=0), hoverinfo="skip", showlegend=row == 1,
                                 name="95% band"), row=row, col=1)
        fig.add_trace(go.Bar(x=t["lag"], y=t[col], marker_color=LINE, width=0.3, name=col.upper(),
                             showlegend=False), row=row, col=1)
    fig.update_xaxes(title="lag", row=2, col=1)
    return _layout(fig, f"{esc(name)}: autocorrelation", height=520)


def cycles_figure(cyc, name: str = "series"):
    """HP trend over the adjusted series, and the HP and band-pass cycles."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    f = cyc.frame
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["Hodrick–Prescott trend", "cycles"])
    fig.add_trace(go.Scatter(x=f.index, y=f["hp_trend"], name="HP trend", line=dict(color=TREND)), row=1, col=1)
    fig.add_trace(go.Scatter(x=f.index, y=f["hp_cycle"], name="HP cycle", line=dict(color=SMA)), row=2, col=1)
    if f["cf_cycle"].notna().any():
        lo, hi = cyc.band
        fig.add_trace(go.Scatter(x=f.index, y=f["cf_cycle"], name=f"band-pass ({lo:g}–{hi:g} periods)",
                                 line=dict(color=EMA)), row=2, col=1)
    return _layout(fig, f"{esc(name)}: cycles (seasonally adjusted)", height=520)
