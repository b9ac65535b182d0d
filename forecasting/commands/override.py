"""``python -m forecasting override RUN_ID --workspace DIR --series ID --date D[:D] (--value V | --percent P)
--reason TEXT``: a judgmental override of an archived forecast, recorded in the workspace's audit trail."""
from __future__ import annotations

import argparse

HELP = ("change an archived forecast's final values (one date, a range, a series or an aggregate) by a value or "
        "a percentage, with a reason; every change is kept in the workspace's audit trail")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", metavar="RUN_ID", help="a finished forecast run (see `runs list`)")
    p.add_argument("--workspace", metavar="DIR", default=None, help="workspace folder (default: SALESCAST_WORKSPACE)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--series", metavar="ID",
                      help='the series: its id columns\' values joined with " / " as the app shows them, '
                           'e.g. "North / A-1"')
    what.add_argument("--aggregate", metavar="COL=VALUE[,COL=VALUE]",
                      help='an aggregate instead of a series, e.g. store=North, or "total": the change is spread '
                           "over its series in proportion to their forecasts")
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD[:YYYY-MM-DD]",
                   help="one forecast date, or a range of them (first:last, inclusive)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--value", type=float, metavar="V",
                     help="the new value on each date (at an aggregate: its total on each date)")
    how.add_argument("--percent", type=float, metavar="P", help="change by P percent, e.g. 10 or -5")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (required; kept in the audit trail)")
    p.add_argument("--model", metavar="NAME", default=None,
                   help="which of the run's models to override (default: its first)")
    p.add_argument("--user", metavar="NAME", default=None,
                   help='who makes the change, for the audit trail (default: SALESCAST_USER, else "local")')


def parse_aggregate(text: str) -> dict[str, str]:
    from forecasting.errors import ConfigError

    text = text.strip()
    if text.lower() == "total":
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise ConfigError(f"--aggregate expects COL=VALUE[,COL=VALUE] or total (got '{text}')")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from forecasting.commands.runs import _workspace
    from forecasting.store.overrides import add_override

    ws = _workspace(args)
    where = parse_aggregate(args.aggregate) if args.aggregate is not None else None
    o = add_override(ws, args.id, series=args.series, where=where, dates=args.date, value=args.value,
                     percent=args.percent, reason=args.reason, model=args.model,
                     user=args.user or os.environ.get("SALESCAST_USER") or None)
    dates = o.date_from if o.date_from == o.date_to else f"{o.date_from} to {o.date_to}"
    change = f"{o.amount:+g}%" if o.mode == "percent" else f"set to {o.amount:g}"
    print(f"override {o.id} of run {o.run_id} by {o.user}: {o.target} ({o.model}) {dates} {change}; "
          f"{o.n_cells} cell(s), total {o.old_total:.6g} -> {o.new_total:.6g}", file=sys.stderr)
    return 0
