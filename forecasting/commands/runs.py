"""``python -m forecasting runs list|show|resume|export|forecast|delete``: the runs recorded in a workspace."""
from __future__ import annotations

import argparse

HELP = ("list, show, resume, export or delete the runs recorded in a workspace (--workspace DIR), or forecast new "
        "data with what a forecast run kept")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def ws_flag(q: argparse.ArgumentParser) -> None:
        q.add_argument("--workspace", metavar="DIR", default=None,
                       help="workspace folder (default: SALESCAST_WORKSPACE)")

    q = sub.add_parser("list", help="every run: id, kind, status, progress, dataset, models")
    ws_flag(q)
    q.add_argument("--json", action="store_true", help="one JSON array on stdout")
    q = sub.add_parser("show", help="one run: settings, status, timings, versions, fallbacks")
    q.add_argument("id", metavar="ID")
    ws_flag(q)
    q.add_argument("--json", action="store_true", help="one JSON object on stdout")
    q = sub.add_parser("resume", help="run the series a stopped, interrupted or failed run has not finished")
    q.add_argument("id", metavar="ID")
    ws_flag(q)
    q.add_argument("--engine", choices=["serial", "local", "dask"], default=None,
                   help="engine for the rest of the run (default: the run's own)")
    q = sub.add_parser("export", help="write a run's results: a backtest's metrics (--output) and forecasts "
                                      "(--forecasts), a forecast run's forecasts (--output)")
    q.add_argument("id", metavar="ID")
    ws_flag(q)
    q.add_argument("--output", metavar="F.csv|.xlsx", default=None,
                   help="backtest: metrics per series × model; forecast: the forecasts, with forecast "
                        "(statistical), override (final - forecast, 0 where none) and final")
    q.add_argument("--forecasts", metavar="F.csv", default=None, help="backtest: every backtest forecast")
    from forecasting.commands.common import add_output_flags

    add_output_flags(q)
    q = sub.add_parser("forecast", help="forecast new data with what forecast run ID kept: its saved network "
                                        "without retraining, or its statistical model refit with the run's settings "
                                        "(as POST /v1/runs/{id}/forecast)")
    q.add_argument("id", metavar="ID")
    from forecasting.commands.common import add_column_flags

    add_column_flags(q)
    ws_flag(q)
    q.add_argument("--horizon", type=int, required=True, help="periods to forecast after each series' last date "
                                                             "(a kept network: at most its own horizon)")
    q.add_argument("--model", default=None, metavar="NAME", help="one of the run's models (default: its first)")
    q.add_argument("--levels", default=None, metavar="80,95", help="interval levels in %% (default: the run's)")
    q.add_argument("--output", required=True, metavar="OUT.csv|.xlsx",
                   help="forecasts: id column(s) or series, date, model, forecast, lo_L, hi_L")
    add_output_flags(q)
    q = sub.add_parser("delete", help="delete a run and its results")
    q.add_argument("id", metavar="ID")
    ws_flag(q)


def _workspace(args):
    import os
    from pathlib import Path

    from forecasting.errors import ConfigError
    from forecasting.store import open_workspace

    folder = args.workspace or os.environ.get("SALESCAST_WORKSPACE")
    if not folder:
        raise ConfigError("no workspace: pass --workspace DIR or set SALESCAST_WORKSPACE")
    if not (Path(folder).expanduser() / "workspace.json").exists():
        raise ConfigError(f"no workspace at {folder}")
    return open_workspace(folder, create=False)


def _table(rows: list[dict]) -> str:
    cols = ["id", "kind", "status", "progress", "dataset", "models", "created", "finished"]
    cells = [[str(r.get(c) if r.get(c) is not None else "") for c in cols] for r in rows]
    widths = [max([len(c)] + [len(x[i]) for x in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _dataset_of(ws, rec):
    return ws.load_dataset(rec.dataset_id)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    ws = _workspace(args)
    if args.action == "list":
        recs = ws.list_runs()
        if args.json:
            json.dump([r.to_json() for r in recs], sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            rows = [{**r.to_json(), "progress": f"{r.series_done}/{r.n_series}", "models": ",".join(r.models)}
                    for r in recs]
            print(_table(rows) if rows else "no runs in this workspace")
        return 0
    rec = ws.get_run(args.id)
    if args.action == "show":
        doc = {**rec.to_json(), "config": rec.config, "timings": rec.timings, "versions": rec.versions,
               "fallbacks": int(len(ws.fallbacks(rec.id))), "notes": rec.info.get("notes", [])}
        if rec.kind == "forecast":
            from forecasting.store.overrides import list_overrides

            doc["cutoff"] = rec.info.get("cutoff")
            doc["overrides"] = len(list_overrides(ws, rec.id))
        if args.json:
            json.dump(doc, sys.stdout, indent=1, default=str)
            sys.stdout.write("\n")
        else:
            for k, v in doc.items():
                print(f"{k}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}")
        return 0
    if args.action == "delete":
        ws.delete_run(rec.id)
        print(f"deleted run {rec.id}", file=sys.stderr)
        return 0
    if args.action == "resume":
        return _resume(ws, rec, args)
    if args.action == "forecast":
        return _forecast(ws, rec, args)
    return _export(ws, rec, args)


def _forecast(ws, rec, args) -> int:
    import sys

    from forecasting.commands.backtest import check_output, parse_levels, to_output
    from forecasting.commands.common import load_dataset
    from forecasting.errors import ConfigError
    from forecasting.progress import StderrProgress
    from forecasting.store.models import forecast_with_kept, usable_run

    suffix = check_output(args.output, (".csv", ".xlsx"))
    if args.horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 (got {args.horizon})")
    levels = parse_levels(args.levels) if args.levels else None
    rec, model = usable_run(ws, rec.id, args.model)          # before reading the file
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    res = forecast_with_kept(ws, rec.id, model, dataset, args.horizon, levels, progress=progress)
    from forecasting.store.execute import hierarchy_of

    hcfg = hierarchy_of(rec.config)
    if hcfg is not None:           # a run of every hierarchy node: rows of every level, as `forecast` writes them
        from forecasting.hierarchy.data import hierarchical_dataset, with_level

        dataset = hierarchical_dataset(dataset, hcfg.levels)[0]
        to_output = lambda d, f: with_level(d, f).rename(columns={"ds": "date"})   # noqa: E731
    out = to_output(dataset, res.forecasts)
    from forecasting.export.files import write_csv

    if suffix == ".csv":
        write_csv(out, args.output, safe=args.safe_csv)
    else:
        from forecasting.export.files import write_excel
        from forecasting.export.tables import _flat

        write_excel({"forecast": out, "settings": _flat(to_output(dataset, res.settings))}, args.output)
    n_fb = int((res.settings["fallback"].fillna("") != "").sum())
    print(f"runs forecast: {dataset.n_series} series × {args.horizon} period(s) with run {rec.id}'s {model}; "
          f"{n_fb} fallback(s); wrote {args.output}", file=sys.stderr)
    return 0


def _resume(ws, rec, args) -> int:
    import sys

    from forecasting.errors import ConfigError
    from forecasting.progress import StderrProgress
    from forecasting.store.execute import execute_run

    if rec.status == "finished":
        raise ConfigError(f"run {rec.id} has already finished; nothing to resume")
    if rec.status == "running":
        raise ConfigError(f"run {rec.id} is still running (pid {rec.pid} on {rec.host})")
    before = rec.series_done
    execute_run(ws, rec.id, StderrProgress(), engine=args.engine)
    after = ws.get_run(rec.id)
    print(f"resumed run {rec.id}: {after.status}, {after.series_done}/{after.n_series} series "
          f"({after.series_done - before} run now)", file=sys.stderr)
    return 0


def _export(ws, rec, args) -> int:
    import sys

    import pandas as pd

    from forecasting.commands.backtest import check_output, to_output
    from forecasting.errors import ConfigError

    if not args.output and not args.forecasts:
        raise ConfigError("runs export needs --output F.csv|.xlsx (or --forecasts F.csv for a backtest)")
    if args.forecasts and rec.kind != "backtest":
        raise ConfigError("--forecasts is for a backtest run; a forecast run's forecasts go to --output")
    out_suffix = check_output(args.output, (".csv", ".xlsx")) if args.output else None
    if args.forecasts:
        check_output(args.forecasts, (".csv",), "--forecasts")
    frames = ws.run_frames(rec.id)
    if not frames:
        raise ConfigError(f"run {rec.id} is {rec.status} with {rec.series_done}/{rec.n_series} series and "
                          f"no results yet; resume it first: python -m forecasting runs resume {rec.id}")
    dataset = _dataset_of(ws, rec)
    from forecasting.store.execute import hierarchy_of

    hcfg = hierarchy_of(rec.config)
    if hcfg is not None:           # a run of every hierarchy node: rows of every level, as the run wrote them
        from forecasting.hierarchy.data import hierarchical_dataset, with_level

        dataset = hierarchical_dataset(dataset, hcfg.levels)[0]
        to_output = lambda d, f: with_level(d, f).rename(columns={"ds": "date"})   # noqa: E731
    if rec.kind == "backtest":
        main = frames["metrics"]
    else:       # the statistical forecast, the planners' overrides and the final forecast
        from forecasting.store.overrides import final_forecasts

        main = final_forecasts(ws, rec.id, frames["forecasts"])
    written = []
    if args.output:
        out = to_output(dataset, main)
        from forecasting.export.files import write_bytes, write_csv

        if out_suffix == ".csv":
            write_csv(out, args.output, safe=args.safe_csv)
        else:
            from forecasting.export.tables import to_excel_bytes

            sheets = {("metrics" if rec.kind == "backtest" else "forecast"): out}
            if rec.kind == "forecast" and "settings" in frames:
                sheets["settings"] = to_output(dataset, frames["settings"])
            if rec.kind == "backtest" and "summary" in frames:
                sheets["summary"] = frames["summary"]
            write_bytes(to_excel_bytes(sheets), args.output)
        written.append(args.output)
    if args.forecasts:
        from forecasting.export.files import write_csv

        write_csv(to_output(dataset, frames["forecasts"]), args.forecasts, safe=args.safe_csv)
        written.append(args.forecasts)
    print(f"run {rec.id} ({rec.kind}, {rec.status}): wrote {', '.join(written)}", file=sys.stderr)
    return 0
