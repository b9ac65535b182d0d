"""``python -m forecasting plan FILE --horizon H --lead-time L …``: stock targets per series."""
from __future__ import annotations

import argparse

from forecasting.commands.common import add_column_flags, add_engine_flags, add_output_flags
from forecasting.models.defaults import DEFAULT_MODEL

HELP = "stock targets per series: safety stock, reorder point, order-up-to level, order quantity, ABC/XYZ"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    p.add_argument("--horizon", type=int, required=True, metavar="H", help="periods to forecast")
    p.add_argument("--lead-time", type=float, required=True, metavar="L",
                   help="periods between placing an order and receiving it (the mean, with --lead-time-sd)")
    p.add_argument("--lead-time-sd", type=float, default=0.0, metavar="S",
                   help="standard deviation of the lead time in periods (default 0: fixed)")
    p.add_argument("--review-period", type=int, default=1, metavar="R",
                   help="periods between two orders (default 1: every period)")
    p.add_argument("--service-level", type=float, default=0.95, metavar="A",
                   help="cycle service level: chance a cycle ends without a stock-out, between 0 and 1 (default 0.95)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|auto",
                   help=f"model name (see `models`); default {DEFAULT_MODEL}, as the forecast command")
    p.add_argument("--on-hand", default=None, metavar="COL|N",
                   help="stock on hand: a column of FILE (its last value per series) or one number for every series")
    p.add_argument("--on-order", default=None, metavar="COL|N", help="stock on order, as --on-hand (default 0)")
    p.add_argument("--stock-file", default=None, metavar="F.csv|.xlsx",
                   help="stock per series in a second file: the id column(s) and on_hand (and on_order)")
    p.add_argument("--price-col", default=None, metavar="C",
                   help="unit price column for ABC values (default: a column named price or unit_price, else units)")
    p.add_argument("--abc", default="0.8,0.95", metavar="A,B",
                   help="cumulative value shares that end classes A and B (default 0.8,0.95)")
    p.add_argument("--xyz", default="0.5,1.0", metavar="X,Y",
                   help="coefficients of variation that end classes X and Y (default 0.5,1.0)")
    p.add_argument("--backtest-windows", type=int, default=0, metavar="K",
                   help="policy backtest at the last K cutoffs: adds achieved_service_level and achieved_fill_rate")
    p.add_argument("--calibration-windows", type=int, default=3, metavar="N",
                   help="backtest windows whose errors shape the lead-time demand (default 3)")
    p.add_argument("--season-length", type=int, default=None, metavar="M", help="season length (default: detected)")
    p.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE", dest="settings",
                   help="a model setting, e.g. ets.model=MAM (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--allow-negative", action="store_true", help="do not clip forecasts at zero")
    p.add_argument("--exceptions", default=None, metavar="F.csv", help="also write the exception list")
    p.add_argument("--previous-forecast", default=None, metavar="F.csv|.xlsx",
                   help="the forecast made last cycle (a file written by the forecast command: id column(s) or "
                        "series, date, forecast): the 'jump vs previous forecast' exception compares the dates both "
                        "cover (default: the forecast made at the last backtest cutoff)")
    add_output_flags(p)
    p.add_argument("--output", required=True, metavar="OUT.csv|.xlsx",
                   help="one row per series (.xlsx adds exceptions, policy backtest and summary sheets)")
    add_engine_flags(p)


def _pair(text: str, flag: str) -> tuple[float, float]:
    from forecasting.errors import ConfigError

    try:
        a, b = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes two comma-separated numbers (got '{text}')") from None
    return a, b


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def run(args: argparse.Namespace) -> int:
    from forecasting.commands.common import one_blas_thread

    one_blas_thread()
    import sys

    from forecasting.commands.backtest import check_output, parse_settings, to_output
    from forecasting.commands.common import load_dataset
    from forecasting.errors import ConfigError
    from forecasting.planning import PlanConfig, run_plan
    from forecasting.planning.run import stock_column, stock_table
    from forecasting.progress import StderrProgress

    suffix = check_output(args.output, (".csv", ".xlsx"))
    if args.exceptions:
        check_output(args.exceptions, (".csv",), "--exceptions")
    if not 0 < args.service_level < 1:
        raise ConfigError(f"--service-level must be between 0 and 1, exclusive (got {args.service_level:g})")
    if args.lead_time < 1:
        raise ConfigError(f"--lead-time must be at least 1 period (got {args.lead_time:g})")
    if args.review_period < 1:
        raise ConfigError(f"--review-period must be at least 1 period (got {args.review_period})")
    if args.horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 (got {args.horizon})")
    if args.backtest_windows < 0 or args.calibration_windows < 0:
        raise ConfigError("--backtest-windows and --calibration-windows must be 0 or more")
    if args.stock_file and args.on_hand is not None:
        raise ConfigError("give stock with --on-hand or --stock-file, not both")
    cfg = PlanConfig(horizon=args.horizon, lead_time=args.lead_time, lead_time_sd=args.lead_time_sd,
                     review_period=args.review_period, service_level=args.service_level, model=args.model,
                     model_params=parse_settings(args.settings, [args.model]), season_length=args.season_length,
                     backtest_windows=args.backtest_windows, calibration_windows=args.calibration_windows,
                     price_col=args.price_col, abc_thresholds=_pair(args.abc, "--abc"),
                     xyz_thresholds=_pair(args.xyz, "--xyz"), seed=args.seed,
                     non_negative=not args.allow_negative, engine=args.engine, address=args.address)
    cfg.validate()
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    for flag, value in (("on_hand", args.on_hand), ("on_order", args.on_order)):
        if value is None:
            continue
        n = _number(value)
        if n is None:
            series, dataset = stock_column(dataset, value)
        else:
            series = n
        setattr(cfg, flag, series)
    if args.stock_file:
        from forecasting.data.sniff import read_raw

        table = read_raw(args.stock_file, min_rows=1).df
        cfg.on_hand = stock_table(table, dataset)
        if any(c.strip().lower() == "on_order" for c in table.columns):
            cfg.on_order = stock_table(table, dataset, next(c for c in table.columns if c.strip().lower() == "on_order"))
    if args.previous_forecast:
        from forecasting.data.sniff import read_raw
        from forecasting.planning.run import previous_forecast_table

        prev = read_raw(args.previous_forecast, min_rows=1).df
        cfg.previous_forecast = previous_forecast_table(prev, dataset, cfg.model)
    res = run_plan(dataset, cfg, progress=progress)
    out = to_output(dataset, res.targets)
    from forecasting.export.files import write_bytes, write_csv

    if suffix == ".csv":
        write_csv(out, args.output, safe=args.safe_csv)
    else:
        from forecasting.export.tables import to_excel_bytes

        sheets = {"targets": out, "exceptions": to_output(dataset, res.exceptions),
                  "policy backtest": to_output(dataset, res.policy) if len(res.policy) else res.policy,
                  "summary": res.summary}
        write_bytes(to_excel_bytes(sheets), args.output)
    if args.exceptions:
        write_csv(to_output(dataset, res.exceptions), args.exceptions, safe=args.safe_csv)
    msg = (f"plan: {dataset.n_series} series, lead time {cfg.lead_time:g}, service level {cfg.service_level:g}; "
           f"{len(res.exceptions)} exception(s)")
    if len(res.summary):
        s = res.summary.iloc[0]
        msg += f"; policy backtest: achieved {s['achieved_service_level']:.3f} over {s['cycles']} cycle(s)"
    print(msg + f"; wrote {args.output}", file=sys.stderr)
    return 0
