"""``python -m forecasting forecast FILE --horizon H [--model NAME|auto] …``: forecasts after the last date."""
from __future__ import annotations

import argparse

from forecasting.commands.backtest import add_model_settings_flags
from forecasting.commands.common import add_column_flags, add_engine_flags, add_output_flags, add_workspace_flag
from forecasting.commands.hierarchy_flags import add_hierarchy_flags

from forecasting.models.defaults import DEFAULT_MODEL

HELP = "forecast the periods after each series' last date, with prediction intervals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    add_model_settings_flags(p)
    add_hierarchy_flags(p)
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|auto",
                   help=f"model name (see `models`); default {DEFAULT_MODEL}, the best measured on M3, Tourism and "
                        "the sample data (benchmarks/results/selection.md)")
    p.add_argument("--output", required=True, metavar="OUT.csv|.xlsx",
                   help="forecasts: id column(s) or series, date, model, forecast, lo_L, hi_L (.xlsx adds a settings sheet)")
    p.add_argument("--report", metavar="OUT.html", default=None, help="also write a self-contained HTML report")
    add_output_flags(p)
    add_engine_flags(p)
    add_workspace_flag(p)


def run(args: argparse.Namespace) -> int:
    from forecasting.commands.common import one_blas_thread

    one_blas_thread()
    import sys

    from forecasting.commands.backtest import (check_output, parse_levels, parse_models, parse_settings,
                                               to_output)
    from forecasting.commands.common import load_dataset, run_command
    from forecasting.commands.hierarchy_flags import hierarchy_config, split_levels
    from forecasting.errors import ConfigError
    from forecasting.pipeline import ForecastConfig
    from forecasting.progress import StderrProgress

    suffix = check_output(args.output, (".csv", ".xlsx"))
    if args.report:
        check_output(args.report, (".html",), "--report")
    if args.horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 (got {args.horizon})")
    models = parse_models(args.model)
    interval_levels, hier_levels = split_levels(args.levels)
    hcfg = hierarchy_config(args, hier_levels)
    hcfg.validate()
    cfg = ForecastConfig(horizon=args.horizon, model=models, levels=parse_levels(interval_levels),
                         model_params=parse_settings(args.settings, models), season_length=args.season_length,
                         seed=args.seed, non_negative=not args.allow_negative, engine=args.engine,
                         address=args.address, intervals=args.intervals or "conformal")
    cfg.validate()
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    res, dataset, out_fn = run_command(args, "forecast", cfg, hcfg, dataset, models, progress, to_output)
    out = out_fn(dataset, res.forecasts)
    settings = out_fn(dataset, res.settings)
    from forecasting.export.files import write_csv, write_excel

    if suffix == ".csv":
        write_csv(out, args.output, safe=args.safe_csv)
    else:
        from forecasting.export.tables import _flat

        write_excel({"forecast": out, "settings": _flat(settings)}, args.output)
    if args.report:
        from forecasting.export.report import write_report

        write_report(args.report, dataset, forecast_result=res, info=res.info)
    n_fb = int((res.settings["fallback"].fillna("") != "").sum())
    for _, row in res.settings[res.settings["fallback"].fillna("") != ""].head(5).iterrows():
        print(f"note: {row['unique_id']}: {row['fallback']}", file=sys.stderr)
    from forecasting.data.quality import too_large_message

    big = too_large_message(dataset.df)
    print(f"forecast: {dataset.n_series} series × {cfg.horizon} period(s) with {', '.join(models)}; "
          f"{n_fb} fallback(s); wrote {args.output}" + (f"; {big}" if big else ""), file=sys.stderr)
    return 0
