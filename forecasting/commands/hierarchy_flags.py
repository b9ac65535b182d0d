"""``--reconcile`` and the hierarchy form of ``--levels`` for ``backtest`` and ``forecast``.

``--levels`` has two forms, told apart by their text: whole percentages (``80,95``) are the prediction
interval levels; anything else (``";State;State,Industry"``: levels separated by ``;``, each a
comma-separated list of id columns, empty = total) is the hierarchy. Give the flag twice for both."""
from __future__ import annotations

import argparse
import re

RECONCILE = ("none", "bottom_up", "top_down", "middle_out", "mint_ols", "mint_wls", "mint_shrink")
_NUMBERS = re.compile(r"\s*\d+(\.\d*)?(\s*,\s*\d+(\.\d*)?)*\s*,?\s*")


def add_hierarchy_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reconcile", choices=RECONCILE, default="none",
                   help="reconcile the forecasts of every level of the hierarchy so they add up (default none); "
                        "outputs then have one row per node of every level, with a 'level' column")
    p.add_argument("--proportions", choices=["forecast_proportions", "average_proportions"],
                   default="forecast_proportions",
                   help="top_down's split: children's forecast shares (default) or historical average shares")
    p.add_argument("--middle-level", metavar="C1,C2", default=None,
                   help="middle_out's level (comma-separated id columns; default: the middle level)")
    p.add_argument("--wls", choices=["var", "struct"], default="var",
                   help="mint_wls weights: residual variance (default) or number of series under a node")
    p.add_argument("--residuals", choices=["backtest", "in_sample", "fitted"], default="backtest",
                   help="errors whose covariance mint_shrink and mint_wls (var) use: the base model's own "
                        "rolling-origin errors (default; a forecast backtests the history over 3 windows for "
                        "them), the in-sample seasonal naive errors (no extra fits; mint_shrink then equals "
                        "mint_wls) or the base model's in-sample one-step errors (fitted: one more fit per "
                        "node and window; models without them, e.g. networks, use the backtest errors)")


def split_levels(values: list[str] | None) -> tuple[str, str | None]:
    """The ``--levels`` values -> (interval levels text, hierarchy levels text or None)."""
    from forecasting.errors import ConfigError

    interval, hier = [], []
    for v in values or []:
        (interval if _NUMBERS.fullmatch(v) and ";" not in v else hier).append(v)
    if len(interval) > 1 or len(hier) > 1:
        raise ConfigError("--levels given twice for the same thing: once as interval levels (80,95), "
                          "once as hierarchy levels (';State;State,Industry') at most")
    return (interval[0] if interval else "80,95"), (hier[0] if hier else None)


def hierarchy_config(args: argparse.Namespace, hier_text: str | None):
    """The :class:`HierarchyConfig` of the flags (``active`` False when neither flag asks for levels)."""
    from forecasting.hierarchy.run import HierarchyConfig
    from forecasting.hierarchy.structure import level_name, parse_levels

    middle = None
    if args.middle_level is not None:
        middle = level_name([c.strip() for c in args.middle_level.split(",") if c.strip()])
    return HierarchyConfig(parse_levels(hier_text), args.reconcile, top_down=args.proportions,
                           middle_level=middle, wls=args.wls, residuals=args.residuals)
