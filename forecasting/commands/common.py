"""Flags and loading shared by every command (kept light: no pandas at import time)."""
from __future__ import annotations

import argparse


def one_blas_thread() -> None:
    """One BLAS/OpenMP thread unless the user set one: the models are small, and the local engine already
    runs one process per core (set before numpy or torch start their thread pools)."""
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def add_column_flags(p: argparse.ArgumentParser) -> None:
    """The column flags of ``validate``; every command that reads a file accepts them."""
    p.add_argument("file", metavar="FILE", help="CSV/TSV, Excel (.xlsx) or Parquet file")
    p.add_argument("--date-col", metavar="C", help="date column (detected when omitted)")
    p.add_argument("--target-col", metavar="C", help="target column, e.g. units sold (detected when omitted)")
    p.add_argument("--id-cols", metavar="C1,C2", default=None,
                   help='series id column(s), comma-separated; "" means one series (all rows aggregated per date)')
    p.add_argument("--freq", metavar="F", help="pandas frequency alias (inferred when omitted); a coarser one aggregates")
    p.add_argument("--agg", choices=["sum", "mean"], default="sum",
                   help="how rows sharing a series and period are combined (default: sum)")
    p.add_argument("--sheet", metavar="NAME", help="Excel sheet name (default: the first sheet)")


def add_engine_flags(p: argparse.ArgumentParser) -> None:
    from forecasting.engines import ENGINES

    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="where series run: one process, a local process pool (default) or a Dask cluster")
    p.add_argument("--address", metavar="tcp://HOST:PORT", default=None,
                   help="Dask scheduler address (with --engine dask; a LocalCluster when omitted)")


SAFE_CSV_HELP = ("CSV outputs are raw, for machines: ids are written exactly as in the input, even one starting "
                 "with = + - @ that a spreadsheet would run as a formula. --safe-csv prefixes such cells with ' "
                 "(as the app's downloads do); .xlsx outputs always store text as text")


def add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--safe-csv", action="store_true", help=SAFE_CSV_HELP)


def relay_training(params: dict, models: list[str], progress) -> None:
    """Networks report every epoch (loss, ETA) on stderr, as the app draws them as curves."""
    from forecasting.models.registry import MODELS

    for m in models:
        spec = MODELS.get(m)
        if spec is not None and spec.capabilities.needs_torch:
            params.setdefault(m, {})["progress"] = lambda ev, _p=progress: _p(ev)


def parse_id_cols(value: str | None) -> list[str] | None:
    """None -> detect; "" -> one series; "a,b" -> ["a", "b"]."""
    if value is None:
        return None
    return [c.strip() for c in value.split(",") if c.strip()]


def load_dataset(args: argparse.Namespace, progress=None):
    """Read FILE with the column flags into a validated :class:`~forecasting.data.contract.Dataset`."""
    from forecasting.data.ingest import load

    return load(args.file, date_col=args.date_col, target_col=args.target_col,
                id_cols=parse_id_cols(args.id_cols), freq=args.freq, agg=args.agg,
                sheet=args.sheet, progress=progress)


def add_workspace_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", metavar="DIR", default=None,
                   help="record the run (dataset, settings, results as they finish) in this workspace folder "
                        "(default: SALESCAST_WORKSPACE when set, else nothing is recorded); see `runs`")


def workspace_dir(args: argparse.Namespace) -> str | None:
    import os

    return getattr(args, "workspace", None) or os.environ.get("SALESCAST_WORKSPACE") or None


def run_in_workspace(args: argparse.Namespace, kind: str, cfg, dataset, progress, hcfg=None):
    """Record ``dataset`` and a new ``kind`` run of ``cfg`` (over every node of ``hcfg``'s hierarchy when it
    is active) in the workspace, run it there (results kept per partition as they finish) and return its
    result and id."""
    from dataclasses import asdict

    import sys
    from pathlib import Path

    from forecasting.store import open_workspace
    from forecasting.store.execute import config_of, execute_run

    ws = open_workspace(workspace_dir(args))
    mapping = {"date_col": args.date_col, "target_col": args.target_col, "id_cols": args.id_cols,
               "freq": args.freq, "agg": args.agg, "sheet": args.sheet}
    rec = ws.add_dataset(dataset, raw=args.file, name=Path(args.file).name, mapping=mapping, treatments=[])
    config = config_of(kind, cfg)
    if hcfg is not None and hcfg.active:
        config["hierarchy"] = asdict(hcfg)
    run_id = ws.create_run(kind, rec.id, config)
    print(f"run {run_id} recorded in {ws.path}", file=sys.stderr)
    return execute_run(ws, run_id, progress), run_id


def run_command(args: argparse.Namespace, kind: str, cfg, hcfg, dataset, models: list[str], progress, to_output):
    """Run a ``kind`` ("backtest" or "forecast") of ``cfg``: over every hierarchy node when ``hcfg`` is active,
    else in the workspace when one is given, else plainly. Returns ``(result, dataset the result is over,
    function turning its frames into output rows)``."""
    import sys

    if hcfg.active:
        from forecasting.hierarchy.data import with_level
        from forecasting.hierarchy.run import hierarchical_backtest, hierarchical_forecast

        every_node = lambda d, f: with_level(d, f).rename(columns={"ds": "date"})   # noqa: E731
        if workspace_dir(args):            # recorded like any run: every node's results kept as they finish
            from forecasting.hierarchy.data import hierarchical_dataset

            res, _ = run_in_workspace(args, kind, cfg, dataset, progress, hcfg)
            return res, hierarchical_dataset(dataset, hcfg.levels)[0], every_node
        relay_training(cfg.model_params, models, progress)
        run = hierarchical_backtest if kind == "backtest" else hierarchical_forecast
        res, dataset, _ = run(dataset, cfg, hcfg, progress=progress)
        return res, dataset, every_node
    if workspace_dir(args):
        res, _ = run_in_workspace(args, kind, cfg, dataset, progress)
        return res, dataset, to_output
    from forecasting.pipeline import run_backtest, run_forecast

    relay_training(cfg.model_params, models, progress)   # (a workspace run stores its config)
    res = (run_backtest if kind == "backtest" else run_forecast)(dataset, cfg, progress=progress)
    return res, dataset, to_output
