"""Plotly figures for the Accuracy page: accuracy by lag, the FVA stairstep, bias and tracking signal over
time. Inputs are the frames of :class:`~forecasting.store.accuracy.AccuracyResult` (WAPE and bias as
fractions; shown as percentages). User strings are escaped (plotly renders some HTML in labels)."""
from __future__ import annotations

import pandas as pd

from forecasting.export.charts_models import PALETTE, _layout, esc

STEP_COLORS = {"naive": "#7f7f7f", "statistical": PALETTE[0], "final": PALETTE[1]}


def by_lag_figure(by_lag: pd.DataFrame, title: str = "Accuracy by lag (WAPE)"):
    """WAPE of the naive, statistical and final forecasts per lag (one line each)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for step in ("naive", "statistical", "final"):
        fig.add_trace(go.Scatter(x=by_lag["lag"], y=by_lag[f"wape_{step}"], mode="lines+markers", name=step,
                                 line=dict(color=STEP_COLORS[step], dash="dot" if step == "naive" else None),
                                 hovertemplate="lag %{x}: WAPE %{y:.1%}<extra>" + step + "</extra>"))
    _layout(fig, esc(title), "WAPE")
    fig.update_xaxes(title="lag (periods ahead)", dtick=1)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def stairstep_figure(stair: pd.DataFrame, title: str = "Forecast value added: naive → statistical → final"):
    """Bars of the WAPE of each step, labelled with the value each step added over the one before."""
    import plotly.graph_objects as go

    fig = go.Figure()
    text = []
    for r in stair.itertuples():
        if r.step == "naive":
            text.append(f"{r.wape:.1%}")
        else:
            va = "" if r.value_added != r.value_added else f" ({-r.value_added:+.1%} WAPE)"
            text.append(f"{r.wape:.1%}{va}")
    fig.add_trace(go.Bar(x=stair["step"], y=stair["wape"], text=text, textposition="outside",
                         marker_color=[STEP_COLORS.get(s, PALETTE[2]) for s in stair["step"]],
                         hovertemplate="%{x}: WAPE %{y:.1%}<extra></extra>"))
    _layout(fig, esc(title), "WAPE")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return fig


def bias_figure(by_cycle: pd.DataFrame, lag: int, title: str | None = None):
    """Bias of the final forecast at one lag per cycle (cutoff): above zero, over-forecasting."""
    import plotly.graph_objects as go

    d = by_cycle[by_cycle["lag"] == lag].sort_values("cutoff")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=d["cutoff"], y=d["bias"], name="bias (final)",
                         marker_color=[PALETTE[3] if b > 0 else PALETTE[0] for b in d["bias"].fillna(0)],
                         hovertemplate="cutoff %{x|%Y-%m-%d}: bias %{y:+.1%}<extra></extra>"))
    _layout(fig, esc(title or f"Bias over time at lag {lag} (final forecast; above 0: over-forecast)"), "bias")
    fig.update_xaxes(title="cutoff (forecast made after)")
    fig.update_yaxes(tickformat=".0%", zeroline=True)
    return fig


def tracking_figure(tracking: pd.DataFrame, title: str = "Tracking signal"):
    """The tracking signal over the target dates, one line per group, with the ±4 alarm lines."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, (key, g) in enumerate(tracking.groupby("unique_id", sort=False)):
        fig.add_trace(go.Scatter(x=g["ds"], y=g["tracking_signal"], mode="lines+markers", name=esc(key),
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    for y in (-4, 4):
        fig.add_hline(y=y, line_dash="dash", line_color="#d62728", opacity=0.6)
    _layout(fig, esc(title), "running error / MAD")
    return fig
