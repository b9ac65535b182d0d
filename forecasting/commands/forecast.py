"""``python -m forecasting forecast FILE --horizon H [--model NAME|auto] …``: forecasts after the last date."""
from __future__ import annotations

import argparse

from forecasting.commands.backtest import add_model_settings_flags
from forecasting.commands.common import add_column_flags, add_engine_flags, add_workspace_flag

HELP = "forecast the periods after each series' last date, with prediction intervals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    add_model_settings_flags(p)
    p.add_argument("--model", default="auto", metavar="NAME|auto",
                   help="model name (see `models`), or auto = best per series by backtest MASE (default)")
    p.add_argument("--output", required=True, metavar="OUT.csv|.xlsx",
                   help="forecasts: id column(s) or series, date, model, forecast, lo_L, hi_L (.xlsx adds a settings sheet)")
    p.add_argument("--report", metavar="OUT.html", default=None, help="also write a self-contained HTML report")
    add_engine_flags(p)
    add_workspace_flag(p)


def run(args: argparse.Namespace) -> int:
    import os

    # one BLAS thread: the models are small, and the local engine already runs one process per core
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import sys

    from forecasting.commands.backtest import (check_output, parse_levels, parse_models, parse_settings,
                                               to_output)
    from forecasting.commands.common import load_dataset, run_in_workspace, workspace_dir
    from forecasting.errors import ConfigError
    from forecasting.pipeline import ForecastConfig, run_forecast
    from forecasting.progress import StderrProgress

    suffix = check_output(args.output, (".csv", ".xlsx"))
    if args.report:
        check_output(args.report, (".html",), "--report")
    if args.horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 (got {args.horizon})")
    models = parse_models(args.model)
    cfg = ForecastConfig(horizon=args.horizon, model=models, levels=parse_levels(args.levels),
                         model_params=parse_settings(args.settings, models), season_length=args.season_length,
                         seed=args.seed, non_negative=not args.allow_negative, engine=args.engine,
                         address=args.address)
    cfg.validate()
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    if workspace_dir(args):
        res, _ = run_in_workspace(args, "forecast", cfg, dataset, progress)
    else:
        res = run_forecast(dataset, cfg, progress=progress)
    out = to_output(dataset, res.forecasts)
    settings = to_output(dataset, res.settings)
    if suffix == ".csv":
        out.to_csv(args.output, index=False)
    else:
        import pandas as pd

        with pd.ExcelWriter(args.output) as xl:
            out.to_excel(xl, sheet_name="forecast", index=False)
            settings.to_excel(xl, sheet_name="settings", index=False)
    if args.report:
        from forecasting.export.report import write_report

        write_report(args.report, dataset, forecast_result=res, info=res.info)
    n_fb = int((res.settings["fallback"].fillna("") != "").sum())
    for _, row in res.settings[res.settings["fallback"].fillna("") != ""].head(5).iterrows():
        print(f"note: {row['unique_id']}: {row['fallback']}", file=sys.stderr)
    print(f"forecast: {dataset.n_series} series × {cfg.horizon} period(s) with {', '.join(models)}; "
          f"{n_fb} fallback(s); wrote {args.output}", file=sys.stderr)
    return 0
