"""The hierarchy controls of the Models and Forecast pages: reconciliation method, levels, per-level views.

Widgets return a :class:`~forecasting.hierarchy.run.HierarchyConfig`; the work is the library's
(:mod:`forecasting.hierarchy`)."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import streamlit as st

from forecasting.hierarchy.run import RECONCILE_CHOICES, HierarchyConfig
from forecasting.hierarchy.structure import TOTAL, default_levels, level_name
from ui import state

METHOD_HELP = {
    "none": "base forecasts of every level, each series forecast on its own (the baseline)",
    "bottom_up": "sum the bottom series' forecasts",
    "top_down": "split the total's forecast by the children's forecast shares (nested levels only)",
    "middle_out": "sum up from the middle level, split down below it (nested levels only)",
    "mint_ols": "MinT with equal weights: the closest coherent forecasts",
    "mint_wls": "MinT weighted by each series' error variance",
    "mint_shrink": "MinT with the shrunk covariance of the model's backtest errors",
}


def settings(ds, prefix: str) -> HierarchyConfig | None:
    """The hierarchy expander; None when the data has no id columns or a single series."""
    if not ds.id_cols or ds.n_series < 2:
        return None
    with st.expander("Hierarchy: forecasts that add up", expanded=False):
        c1, c2 = st.columns([1, 2])
        method = c1.selectbox("Reconciliation", list(RECONCILE_CHOICES), key=f"{prefix}_reconcile",
                              format_func=lambda m: f"{m} — {METHOD_HELP[m]}",
                              help="reconciled forecasts of every level add up exactly")
        options = [TOTAL] + [level_name(list(c)) for k in range(1, len(ds.id_cols))
                             for c in combinations(ds.id_cols, k)]
        default = [level_name(lv) for lv in default_levels(ds.id_cols)[:-1]]
        picked = c2.multiselect("Levels above the series", options, default=default, key=f"{prefix}_levels",
                                help="each level sums the series over the id columns it leaves out; the "
                                     "series themselves are always the bottom level")
        every = st.checkbox("Forecast every level", value=False, key=f"{prefix}_every_level",
                            help="also without reconciliation: base forecasts of every level, to compare")
    if method == "none" and not every:
        return None
    levels = [[] if p == TOTAL else p.split(",") for p in picked]
    return HierarchyConfig(levels, method)


def node_dataset(ds, res, data_key: str):
    """(dataset of every node, hierarchy) of a hierarchical result, for its charts and tables (memoised)."""
    from forecasting.hierarchy.data import hierarchical_dataset

    names = res.info["hierarchy"]["levels"]
    levels = [[] if n == TOTAL else n.split(",") for n in names]
    return state.memo("hierarchy", f"{data_key}|{names}", lambda: hierarchical_dataset(ds, levels))


def pick_node(hier, fc_ids, key: str, container=st) -> str:
    """A level, then a node of it (only nodes with forecasts)."""
    c1, c2 = container.columns([1, 2])
    lv = c1.selectbox("Level", hier.level_names, key=f"{key}_level")
    nodes = hier.nodes[(hier.nodes["level"] == lv) & hier.nodes["unique_id"].isin(fc_ids)]["unique_id"].tolist()
    return c2.selectbox("Series of this level", nodes, key=f"{key}_node")


def coherence_gap(hier, frame: pd.DataFrame, keys: list[str], col: str = "forecast") -> float:
    """Largest relative gap between a node and the sum of its bottom series, over ``keys`` groups."""
    pos = pd.Index(hier.node_ids)
    worst = 0.0
    for _, g in frame.groupby(keys, sort=False):
        v = np.zeros(hier.n_nodes)
        v[pos.get_indexer(g["unique_id"])] = g[col].to_numpy(dtype=float)
        s = np.asarray(hier.S @ v[hier.n_aggregate:])
        worst = max(worst, float((np.abs(s - v) / np.maximum(np.abs(s), 1.0)).max()))
    return worst


def leaderboard_by_level(res, key: str) -> None:
    rows = (res.info or {}).get("summary_by_level")
    if not rows:
        return
    table = pd.DataFrame(rows)
    levels = list(dict.fromkeys(table["level"]))
    lv = st.radio("Leaderboard of level", levels, horizontal=True, key=key)
    shown = table[table["level"] == lv].drop(columns="level")
    lower = [c for c in ("mae", "rmse", "mape", "smape", "mase", "rmsse", "wape") if c in shown.columns]
    st.dataframe(shown.style.highlight_min(subset=lower, color="#c8e6c9").format(precision=3), hide_index=True)
    st.caption(f"Mean over the {int(shown['n_series'].max())} series of level '{lv}'. "
               f"Reconciliation: {res.info['hierarchy']['reconcile']}.")


def methods_by_level(res, key: str) -> None:
    """Mean MASE per level of the base forecasts and of every reconciliation method (same base forecasts), for
    one model: the table to choose a method from."""
    rows = (res.info or {}).get("methods_by_level")
    if not rows:
        return
    table = pd.DataFrame(rows)
    models = list(dict.fromkeys(table["model"]))
    st.markdown("**Reconciliation methods by level** (mean MASE; 'none' = the base forecasts, unreconciled)")
    model = st.selectbox("Model", models, key=key) if len(models) > 1 else models[0]
    g = table[table["model"] == model]
    wide = g.pivot(index="method", columns="level", values="mase")[list(dict.fromkeys(g["level"]))]
    wide = wide.sort_values(wide.columns[-1]).rename_axis(None, axis=1)
    st.dataframe(wide.style.highlight_min(color="#c8e6c9").format(precision=3))
    st.caption("Every method applied to the same base backtest forecasts of every node, scored as a reconciled run "
               "with that method would be; lowest per level highlighted. 'mean over levels' weighs each level "
               "equally. Run again with the chosen method to get its forecasts and intervals.")
