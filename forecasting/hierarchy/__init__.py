"""Hierarchical and grouped series: summing matrix from the id columns, reconciliation, coherent intervals.

- :mod:`.structure`: levels, nodes and the sparse summing matrix ``S``.
- :mod:`.reconcile`: bottom_up, top_down, middle_out, mint_ols, mint_wls, mint_shrink; coherent intervals.
- :mod:`.data`: the long frame of every node (aggregated series forecast like any other).
- :mod:`.run`: backtests and forecasts of every node, base or reconciled.
"""
from forecasting.hierarchy.reconcile import METHODS, ReconcileSettings, reconcile, reconcile_bottom, reconcile_intervals
from forecasting.hierarchy.structure import LEVEL, TOTAL, Hierarchy, build_hierarchy, level_name, parse_levels

__all__ = ["METHODS", "ReconcileSettings", "reconcile", "reconcile_bottom", "reconcile_intervals", "LEVEL", "TOTAL",
           "Hierarchy", "build_hierarchy", "level_name", "parse_levels"]
