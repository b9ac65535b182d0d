"""``python -m forecasting accuracy FILE [column flags] --workspace DIR [--output OUT.csv|.xlsx] [--json]``:
score every archived forecast of a workspace that the actuals in FILE cover, by lag, with the forecast
value added of each step (seasonal naive -> statistical -> final)."""
from __future__ import annotations

import argparse

from forecasting.commands.common import add_column_flags, add_output_flags

HELP = ("score the workspace's archived forecasts against newer actuals: accuracy by lag and forecast value "
        "added (naive -> statistical -> final)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    p.add_argument("--workspace", metavar="DIR", default=None,
                   help="the workspace whose archived forecasts are scored (default: SALESCAST_WORKSPACE)")
    p.add_argument("--run", action="append", default=None, metavar="RUN_ID",
                   help="score only this archived forecast (repeatable; default: every one the actuals cover)")
    p.add_argument("--output", metavar="OUT.csv|.xlsx", default=None,
                   help="one row per archived run x series x model x lag: id column(s), run, model, cutoff, date, "
                        "lag, actual, forecast (statistical), final (with overrides), naive (seasonal naive at the "
                        "same cutoff), abs_error (|final - actual|); .xlsx adds the summary sheet")
    p.add_argument("--json", action="store_true",
                   help="print the summary per run and lag as one JSON object on stdout: wape, bias (fractions), "
                        "mae, the WAPE of each step, fva_statistical, fva_final, shares of series helped")
    add_output_flags(p)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from forecasting.commands.backtest import check_output, to_output
    from forecasting.commands.common import load_dataset
    from forecasting.commands.runs import _workspace
    from forecasting.progress import StderrProgress
    from forecasting.store.accuracy import score_archive

    suffix = check_output(args.output, (".csv", ".xlsx")) if args.output else None
    ws = _workspace(args)
    progress = StderrProgress()
    actuals = load_dataset(args, progress=progress)
    acc = score_archive(ws, actuals, runs=args.run, progress=progress)
    rows = to_output(actuals, acc.rows)
    summary = acc.summary
    if args.output:
        from forecasting.export.files import write_csv, write_excel

        if suffix == ".csv":
            write_csv(rows, args.output, safe=args.safe_csv)
        else:
            write_excel({"accuracy": rows, "summary": summary}, args.output)
    if args.json:
        json.dump(acc.to_json(), sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    elif not args.output:
        print(_table(summary) if len(summary) else "no archived forecast is covered by these actuals")
    for a in acc.skipped:
        print(f"note: run {a.run_id} (cutoff {a.cutoff.date()}) has no actuals in this file yet", file=sys.stderr)
    overall = acc.by_lag()
    msg = (f"accuracy: {len(acc.runs)} archived forecast(s) scored, {len(acc.rows)} row(s)"
           + (f"; lag 1 WAPE {overall['wape'].iloc[0]:.1%}" if len(overall) and overall['lag'].iloc[0] == 1 else "")
           + (f"; wrote {args.output}" if args.output else ""))
    print(msg, file=sys.stderr)
    return 0


def _table(summary) -> str:
    cols = ["run", "model", "cutoff", "lag", "n", "wape", "bias", "wape_naive", "wape_statistical", "wape_final",
            "fva_statistical", "fva_final"]
    s = summary[cols].copy()
    s["cutoff"] = s["cutoff"].astype(str).str[:10]
    for c in cols[5:]:
        s[c] = s[c].map(lambda v: "" if v != v else f"{v:.4f}")
    return s.to_string(index=False)
