"""Plotly figures for the Models and Forecast pages and the report.

Inputs are the engine's plain frames:

* backtest forecasts: ``unique_id, model, cutoff, ds, actual, forecast, lo_80, hi_80, lo_95, hi_95``;
* forecasts: ``unique_id, ds, model, forecast, lo_80, hi_80, lo_95, hi_95``;
* history: the long frame (``unique_id, ds, y``).

User strings (series ids, column and model names) are HTML-escaped before they reach a title, axis or
legend: plotly renders a subset of HTML in labels. Plotly is imported inside each function so importing
this module stays cheap.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.export.text import esc
from forecasting.models.base import bound_column

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
HISTORY_COLOR = "#222222"


def levels_in(frame: pd.DataFrame) -> list[int]:
    """Interval levels present as ``lo_L``/``hi_L`` column pairs, widest first (95 before 80)."""
    found = {int(m.group(1)) for c in frame.columns if (m := re.fullmatch(r"lo_(\d+)", str(c)))}
    return sorted((l for l in found if bound_column("hi", l) in frame.columns), reverse=True)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def model_colors(models: Sequence[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}


def _band(go, x, lo, hi, color: str, alpha: float, name: str, group: str, show: bool = True):
    """A filled interval band as two traces (upper edge, then lower edge filled up to it)."""
    x = list(x)
    return [
        go.Scatter(x=x, y=hi, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                   legendgroup=group),
        go.Scatter(x=x, y=lo, mode="lines", line=dict(width=0), fill="tonexty", fillcolor=_rgba(color, alpha),
                   name=name, legendgroup=group, showlegend=show, hoverinfo="skip"),
    ]


def _layout(fig, title: str, ytitle: str = "", height: int = 420):
    fig.update_layout(title=dict(text=title, x=0.01), height=height, margin=dict(l=50, r=20, t=60, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
                      hovermode="x unified", template="plotly_white", yaxis_title=ytitle)
    return fig


# ---------------------------------------------------------------- backtests

def backtest_figure(history: pd.DataFrame, backtest: pd.DataFrame, title: str = "",
                    models: Sequence[str] | None = None, level: int | None = 80,
                    history_tail: int | None = None):
    """Backtest forecasts of one series against its actuals: one line per model and window, with bands.

    ``history``: ``ds, y`` of the series; ``backtest``: that series' rows of the backtest forecasts."""
    import plotly.graph_objects as go

    models = list(models) if models is not None else list(pd.unique(backtest["model"]))
    colors = model_colors(list(pd.unique(backtest["model"])))
    fig = go.Figure()
    hist = history.sort_values("ds")
    if history_tail and len(hist) > history_tail:
        first_cut = pd.to_datetime(backtest["cutoff"]).min() if len(backtest) else hist["ds"].iloc[-1]
        before = hist[hist["ds"] <= first_cut].tail(history_tail)
        hist = hist[hist["ds"] >= before["ds"].min()] if len(before) else hist
    fig.add_trace(go.Scatter(x=hist["ds"], y=hist["y"], mode="lines", name="actual",
                             line=dict(color=HISTORY_COLOR, width=1.5)))
    has_band = level is not None and bound_column("lo", level) in backtest.columns
    lo, hi = (bound_column("lo", level), bound_column("hi", level)) if has_band else ("", "")
    for m in models:
        rows = backtest[backtest["model"] == m]
        for i, (cutoff, win) in enumerate(rows.groupby("cutoff", sort=True)):
            win = win.sort_values("ds")
            first = i == 0
            if has_band and win[lo].notna().any():
                fig.add_traces(_band(go, win["ds"], win[lo], win[hi], colors[m], 0.15, f"{esc(m)} {level}%",
                                     f"{m}-band", show=first))
            fig.add_trace(go.Scatter(x=win["ds"], y=win["forecast"], mode="lines+markers", name=esc(m),
                                     legendgroup=m, showlegend=first, marker=dict(size=4),
                                     line=dict(color=colors[m], width=2),
                                     hovertemplate=f"{esc(m)} (cutoff {pd.Timestamp(cutoff).date()}): %{{y:.4g}}<extra></extra>"))
    for cutoff in sorted(pd.unique(backtest["cutoff"])):
        fig.add_vline(x=pd.Timestamp(cutoff), line=dict(color="#999", dash="dot", width=1))
    return _layout(fig, title or "Backtest forecasts vs actuals (dotted lines: window cutoffs)")


def backtest_errors(backtest: pd.DataFrame) -> pd.DataFrame:
    """Adds ``error`` (forecast − actual), ``abs_error`` and ``step`` (1 … h within each window)."""
    out = backtest.copy()
    out["error"] = out["forecast"] - out["actual"]
    out["abs_error"] = out["error"].abs()
    out["step"] = out.sort_values("ds").groupby(["unique_id", "model", "cutoff"]).cumcount() + 1
    return out


def error_distribution_figure(backtest: pd.DataFrame, scaled: bool = True):
    """Box plots of backtest errors per model.

    ``scaled``: divide each series' errors by the mean absolute actual of that series, so series of
    different size can share one axis (relative errors, like WAPE)."""
    import plotly.graph_objects as go

    err = backtest_errors(backtest).dropna(subset=["error"])
    ytitle = "forecast − actual"
    if scaled:
        scale = err.groupby("unique_id")["actual"].transform(lambda a: a.abs().mean())
        err["error"] = err["error"] / scale.replace(0, np.nan)
        ytitle = "error / mean |actual| of the series"
    models = list(pd.unique(err["model"]))
    colors = model_colors(models)
    fig = go.Figure()
    for m in models:
        e = err.loc[err["model"] == m, "error"].dropna()
        fig.add_trace(go.Box(y=e, name=esc(m), marker_color=colors[m], boxmean=True, boxpoints=False))
    fig.add_hline(y=0, line=dict(color="#999", dash="dot"))
    fig = _layout(fig, "Error distribution per model (backtest, all windows and series)", ytitle)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


# ---------------------------------------------------------------- residual diagnostics

def series_residuals(y: np.ndarray, model: str, season_length: int = 1,
                     params: dict[str, Any] | None = None) -> np.ndarray | None:
    """In-sample one-step residuals of ``model`` refitted on one series, or None when it has none."""
    from forecasting.models.registry import create_model, get_spec

    if get_spec(model).capabilities.global_model:
        return None
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    m = create_model(model, season_length=season_length, **(params or {})).fit(y)
    resid = m.in_sample_residuals()
    if resid is None:
        return None
    resid = np.asarray(resid, dtype=float)
    return resid[np.isfinite(resid)]


def ljung_box_table(resid: np.ndarray, lags: Sequence[int] | None = None, season_length: int = 1) -> pd.DataFrame:
    """Ljung–Box test of residual autocorrelation at a few lags (white noise: large p-values)."""
    from statsmodels.stats.diagnostic import acorr_ljungbox

    resid = np.asarray(resid, dtype=float)
    resid = resid[np.isfinite(resid)]
    n = len(resid)
    if lags is None:
        lags = sorted({l for l in (1, 5, 10, season_length, 2 * season_length) if 1 <= l < n // 2} or {1})
    lags = [int(l) for l in lags if 1 <= l < max(2, n)]
    if n < 4 or not lags:
        return pd.DataFrame(columns=["lag", "lb_stat", "p_value", "verdict"])
    res = acorr_ljungbox(resid, lags=lags, return_df=True)
    out = pd.DataFrame({"lag": lags, "lb_stat": res["lb_stat"].to_numpy(), "p_value": res["lb_pvalue"].to_numpy()})
    out["verdict"] = np.where(out["p_value"] < 0.05, "autocorrelated (p < 0.05)", "looks like white noise")
    return out


def residual_acf_figure(resid: np.ndarray, nlags: int = 24, title: str = "Residual ACF"):
    """Autocorrelation of residuals with the ±1.96/√n band."""
    import plotly.graph_objects as go
    from statsmodels.tsa.stattools import acf

    resid = np.asarray(resid, dtype=float)
    resid = resid[np.isfinite(resid)]
    nlags = max(1, min(nlags, len(resid) - 1))
    values = acf(resid, nlags=nlags, fft=True)[1:]
    lags = np.arange(1, nlags + 1)
    bound = 1.96 / np.sqrt(len(resid))
    colors = np.where(np.abs(values) > bound, "#d62728", "#1f77b4")
    fig = go.Figure(go.Bar(x=lags, y=values, marker_color=colors, name="ACF"))
    for b in (bound, -bound):
        fig.add_hline(y=b, line=dict(color="#999", dash="dash"))
    fig = _layout(fig, title, "autocorrelation", height=320)
    fig.update_layout(xaxis_title="lag", showlegend=False, hovermode="closest")
    return fig


def residual_hist_figure(resid: np.ndarray, title: str = "Residual histogram"):
    """Histogram of residuals with the normal density of the same mean and spread."""
    import plotly.graph_objects as go

    resid = np.asarray(resid, dtype=float)
    resid = resid[np.isfinite(resid)]
    fig = go.Figure(go.Histogram(x=resid, histnorm="probability density", name="residuals",
                                 marker_color="#1f77b4", opacity=0.75))
    if len(resid) > 1 and resid.std() > 0:
        mu, sd = resid.mean(), resid.std(ddof=1)
        xs = np.linspace(resid.min(), resid.max(), 200)
        fig.add_trace(go.Scatter(x=xs, y=np.exp(-0.5 * ((xs - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
                                 mode="lines", name="normal", line=dict(color="#d62728")))
    fig = _layout(fig, title, "density", height=320)
    fig.update_layout(hovermode="closest")
    return fig


# ---------------------------------------------------------------- training curves

def training_runs(events: Sequence[dict]) -> pd.DataFrame:
    """The networks' epoch events (``model, epoch, train_loss, val_loss``, maybe ``series``) as curves with a
    ``run`` each: ``window k`` for the k-th training of a model (one per backtest window), ``window k · id`` for
    one network per series. Events without a ``model`` take it from their message's first word."""
    curves = pd.DataFrame(list(events))
    if curves.empty:
        return curves
    from_message = curves["message"].str.split(" ").str[0] if "message" in curves else None
    curves["model"] = curves["model"].fillna(from_message) if "model" in curves else from_message
    series = curves["series"].fillna("").astype(str) if "series" in curves else pd.Series("", index=curves.index)
    window = (curves["epoch"] == 1).groupby([curves["model"], series]).cumsum()
    curves["run"] = ("window " + window.astype(str)).where(series == "", "window " + window.astype(str) + " · " + series)
    return curves


def training_curves_figure(curves: pd.DataFrame, title: str = "Training curves"):
    """Loss per epoch for each network: ``curves`` has ``model, epoch, train_loss`` and maybe ``val_loss``
    (and optionally ``run``, e.g. the backtest window, drawn as separate lines)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    models = list(pd.unique(curves["model"]))
    colors = model_colors(models)
    group_cols = ["model"] + (["run"] if "run" in curves.columns else [])
    for key, g in curves.groupby(group_cols, sort=False):
        m = key[0] if isinstance(key, tuple) else key
        suffix = f" · {esc(key[1])}" if isinstance(key, tuple) and len(key) > 1 else ""
        g = g.sort_values("epoch")
        fig.add_trace(go.Scatter(x=g["epoch"], y=g["train_loss"], mode="lines", name=f"{esc(m)} train{suffix}",
                                 line=dict(color=colors[m])))
        if "val_loss" in g and g["val_loss"].notna().any():
            fig.add_trace(go.Scatter(x=g["epoch"], y=g["val_loss"], mode="lines", name=f"{esc(m)} validation{suffix}",
                                     line=dict(color=colors[m], dash="dash")))
    fig = _layout(fig, title, "loss", height=360)
    fig.update_layout(xaxis_title="epoch", hovermode="closest")
    return fig


# ---------------------------------------------------------------- attention (explanation view)

def attention_figure(history: pd.DataFrame, attention: pd.DataFrame, title: str = "", ytitle: str = ""):
    """What an attention network looked at for one series' forecast: its history (line, right axis) and,
    as bars, the weight the last input period gave each period of the lookback.

    ``history``: ``ds, y`` of the series; ``attention``: that series' ``lag, weight`` (lag 1 = the last
    observed period; weights sum to 1). Bars sit on the dates of the periods they weigh."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    hist = history.sort_values("ds")
    att = attention.sort_values("lag", ascending=False)
    lags = att["lag"].to_numpy(int)
    dates = hist["ds"].to_numpy()
    known = lags <= len(dates)                 # a lookback longer than the series: padded periods, no date
    att, lags = att[known], lags[known]
    x = dates[len(dates) - lags]
    shown = hist[hist["ds"] >= x.min()] if len(x) else hist.iloc[0:0]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=x, y=att["weight"], name="attention weight", marker_color=PALETTE[0], opacity=0.75,
                         customdata=lags, hovertemplate="%{x}<br>lag %{customdata}<br>weight %{y:.3f}"
                                                        "<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=shown["ds"], y=shown["y"], mode="lines+markers", name="history",
                             line=dict(color=HISTORY_COLOR), marker=dict(size=4)), secondary_y=True)
    fig = _layout(fig, title, "attention weight", height=360)
    fig.update_yaxes(title_text=ytitle or "value", secondary_y=True, showgrid=False)
    fig.update_layout(hovermode="closest", bargap=0.1)
    return fig


# ---------------------------------------------------------------- forecasts

def fan_chart(history: pd.DataFrame, forecast: pd.DataFrame, title: str = "",
              history_tail: int | None = None, ytitle: str = ""):
    """History line, forecast mean and nested interval bands (95% lighter, 80% darker).

    ``history``: ``ds, y``; ``forecast``: ``ds, forecast, lo_L, hi_L`` of one series (and one model)."""
    import plotly.graph_objects as go

    hist = history.sort_values("ds")
    if history_tail:
        hist = hist.tail(history_tail)
    fc = forecast.sort_values("ds")
    color = PALETTE[0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=hist["ds"], y=hist["y"], mode="lines", name="history",
                             line=dict(color=HISTORY_COLOR, width=1.5)))
    for i, lvl in enumerate(levels_in(fc)):
        fig.add_traces(_band(go, fc["ds"], fc[bound_column("lo", lvl)], fc[bound_column("hi", lvl)], color,
                             0.15 + 0.15 * i, f"{lvl}% interval", f"band{lvl}"))
    model_note = ""
    if "model" in fc.columns and fc["model"].nunique() == 1:
        model_note = f" ({esc(fc['model'].iloc[0])})"
    # connect the last observation to the first forecast so the fan starts at the data
    if len(hist):
        x = [hist["ds"].iloc[-1], *fc["ds"]]
        y = [hist["y"].iloc[-1], *fc["forecast"]]
    else:
        x, y = list(fc["ds"]), list(fc["forecast"])
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"forecast{model_note}",
                             line=dict(color=color, width=2.5)))
    return _layout(fig, title or "Forecast", ytitle)


def aggregate(history: pd.DataFrame, forecasts: pd.DataFrame, groups: pd.DataFrame | None = None,
              by: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sum history and forecasts over series: the total (``by=None``) or per level of an id column.

    ``groups`` maps ``unique_id`` to id columns (the dataset's ``id_map``). Interval bounds are summed,
    which is exact for the mean and conservative for the bands (it assumes the series' errors move
    together, so the aggregated bands are never too narrow). Returns ``(history, forecast)`` frames with a
    ``group`` column."""
    hist, fc = history[["unique_id", "ds", "y"]].copy(), forecasts.copy()
    if by is None:
        hist["group"], fc["group"] = "total", "total"
    else:
        if groups is None or by not in groups.columns:
            raise KeyError(f"no id column '{by}' to aggregate by")
        mapping = groups.set_index("unique_id")[by].astype(str)
        hist["group"], fc["group"] = hist["unique_id"].map(mapping), fc["unique_id"].map(mapping)
    value_cols = ["forecast"] + [f"{s}_{l}" for l in levels_in(fc) for s in ("lo", "hi")]
    h = hist.groupby(["group", "ds"], as_index=False)["y"].sum(min_count=1)
    f = fc.groupby(["group", "ds"], as_index=False)[value_cols].sum(min_count=1)
    return h, f
