"""Plotly figures for the Data page (no streamlit): one series with its gaps, missing values and
outliers marked, and the change a treatment made."""
from __future__ import annotations

import pandas as pd

from forecasting.export.text import esc

LINE, GAP, OUTLIER, CHANGED = "#222222", "rgba(214,39,40,0.18)", "#d62728", "#1f77b4"
MAX_SHADED = 300



def quality_figure(ds, report, uid: str, treated=None, height: int = 420):
    """Series ``uid`` with gaps (shaded periods), missing values and the report's outliers marked.

    ``treated`` (a Dataset after treatments) adds the cleaned series as a second line."""
    import plotly.graph_objects as go

    from forecasting.data.contract import DS, ID, Y
    from forecasting.data.frequency import full_range

    s = ds.df[ds.df[ID] == uid]
    fig = go.Figure()
    if len(s):
        grid = full_range(s[DS].min(), s[DS].max(), ds.freq)
        y = s.set_index(DS)[Y].reindex(grid)
        fig.add_trace(go.Scatter(x=grid, y=y.to_numpy(), name="observed", mode="lines",
                                 line=dict(color=LINE, width=1.2), connectgaps=False))
        if treated is not None:
            t = treated.df[treated.df[ID] == uid]
            fig.add_trace(go.Scatter(x=t[DS], y=t[Y], name="after treatments", mode="lines",
                                     line=dict(color=CHANGED, width=1.2, dash="dot")))
        gaps = report.gaps[report.gaps[ID] == uid][DS]
        missing = s.loc[s[Y].isna(), DS]
        holes = pd.concat([gaps, missing]).sort_values()
        if len(holes):
            low = float(s[Y].min()) if s[Y].notna().any() else 0.0
            fig.add_trace(go.Scatter(x=holes, y=[low] * len(holes), mode="markers", name=f"gap / missing ({len(holes)})",
                                     marker=dict(color=OUTLIER, symbol="x-thin-open", size=10, line=dict(width=2)),
                                     hovertemplate="%{x}: no value<extra></extra>"))
            if len(holes) <= MAX_SHADED:  # shade each missing period; beyond that the markers alone stay fast
                half = (grid[1] - grid[0]) / 2 if len(grid) > 1 else pd.Timedelta(hours=12)
                for d in holes:
                    fig.add_vrect(x0=d - half, x1=d + half, fillcolor=GAP, line_width=0, layer="below")
        out = report.outliers[report.outliers[ID] == uid]
        if len(out):
            methods = out[["iqr", "zscore", "seasonal"]].apply(
                lambda r: ", ".join(k for k in ("iqr", "zscore", "seasonal") if r[k]), axis=1)
            fig.add_trace(go.Scatter(x=out[DS], y=out[Y], mode="markers", name=f"outlier ({len(out)})",
                                     marker=dict(color=OUTLIER, size=9, symbol="circle-open", line=dict(width=2)),
                                     customdata=pd.DataFrame({"e": out["expected"], "m": methods}).to_numpy(),
                                     hovertemplate="%{y:.4g} (expected %{customdata[0]:.4g}; %{customdata[1]})"
                                                   "<extra></extra>"))
    fig.update_layout(title=esc(uid), height=height, template="plotly_white", hovermode="x unified",
                      margin=dict(l=50, r=20, t=60, b=40), legend=dict(orientation="h", y=-0.15))
    return fig
