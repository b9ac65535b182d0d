"""Planning charts (plotly figures; no streamlit): the ABC/XYZ matrix and the policy backtest."""
from __future__ import annotations

import pandas as pd

from forecasting.export.charts_models import PALETTE, _layout, esc

ABC, XYZ = ["A", "B", "C"], ["X", "Y", "Z"]


def abc_xyz_table(targets: pd.DataFrame) -> pd.DataFrame:
    """Series count and share of value per ABC × XYZ cell (every cell present)."""
    total = float(targets["value"].sum()) if "value" in targets.columns else 0.0
    rows = []
    for a in ABC:
        for x in XYZ:
            g = targets[(targets["abc"] == a) & (targets["xyz"] == x)]
            v = float(g["value"].sum()) if "value" in g.columns else 0.0
            rows.append({"abc": a, "xyz": x, "series": len(g), "value": v,
                         "value_share": v / total if total > 0 else 0.0})
    return pd.DataFrame(rows)


def abc_xyz_figure(targets: pd.DataFrame, title: str = "ABC / XYZ: series and share of value"):
    import plotly.graph_objects as go

    t = abc_xyz_table(targets)
    z = [[int(t[(t["abc"] == a) & (t["xyz"] == x)]["series"].iloc[0]) for x in XYZ] for a in ABC]
    share = [[float(t[(t["abc"] == a) & (t["xyz"] == x)]["value_share"].iloc[0]) for x in XYZ] for a in ABC]
    text = [[f"{z[i][j]} series<br>{100 * share[i][j]:.0f}% of value" for j in range(3)] for i in range(3)]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{x} (CV)" for x in XYZ], y=[f"{a} (value)" for a in ABC], text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="%{y} · %{x}<br>%{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig = _layout(fig, esc(title), height=360)
    fig.update_layout(hovermode="closest")
    return fig


def policy_figure(summary: pd.DataFrame, title: str = "Policy backtest: target vs achieved cycle service level"):
    """Achieved service level (ours, and the normal approximation) per class, against the target line."""
    import plotly.graph_objects as go

    s = summary.copy()
    s["label"] = [("all series" if g == "all" else f"{esc(g).replace('demand_class', 'demand')}: {esc(c)}")
                  for g, c in zip(s["group"], s["class"])]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=s["label"], y=s["achieved_service_level"], name="achieved (SalesCast)",
                         marker_color=PALETTE[0], customdata=s[["cycles", "stockouts"]],
                         hovertemplate="%{x}: %{y:.1%} of %{customdata[0]} cycles (%{customdata[1]} stock-outs)<extra></extra>"))
    if "normal_service_level" in s.columns:
        fig.add_trace(go.Bar(x=s["label"], y=s["normal_service_level"], name="achieved (normal approximation)",
                             marker_color=PALETTE[7], opacity=0.6,
                             hovertemplate="%{x}: %{y:.1%}<extra>normal</extra>"))
    if len(s):
        target = float(s["target_service_level"].iloc[0])
        fig.add_hline(y=target, line=dict(color=PALETTE[3], dash="dash"),
                      annotation_text=f"target {target:.0%}", annotation_position="top left")
    fig = _layout(fig, esc(title), ytitle="cycles without stock-out", height=400)
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return fig
