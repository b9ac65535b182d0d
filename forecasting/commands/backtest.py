"""``python -m forecasting backtest FILE --horizon H …``: rolling-origin backtest of models, metrics per series."""
from __future__ import annotations

import argparse

from forecasting.commands.common import add_column_flags, add_engine_flags, add_output_flags, add_workspace_flag
from forecasting.commands.hierarchy_flags import add_hierarchy_flags

HELP = "rolling-origin backtest of one or more models; metrics per series × model"


def add_model_settings_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by backtest and forecast."""
    p.add_argument("--horizon", type=int, required=True, metavar="H", help="periods to forecast")
    p.add_argument("--levels", action="append", default=None, metavar="80,95|';C1;C1,C2'",
                   help="prediction interval levels in %% (default 80,95); or, with ';' or column names, the "
                        "hierarchy levels: each a comma-separated list of id columns, empty = total, e.g. "
                        "';State;State,Industry' (give --levels twice for both)")
    p.add_argument("--season-length", type=int, default=None, metavar="M",
                   help="season length (default: the period detected on the total of all series, checked against the calendar: 7 daily, 12 monthly, 4 quarterly …)")
    p.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE", dest="settings",
                   help="a model setting, e.g. sarima.order=0,1,1 or ets.model=MAM (repeatable); "
                        "`python -m forecasting models --settings` lists every model's settings")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--allow-negative", action="store_true",
                   help="do not clip forecasts and lower bounds at zero for non-negative series")
    p.add_argument("--intervals", choices=["model", "conformal"], default=None,
                   help="prediction intervals: each model's own, or conformal, calibrated per horizon step on "
                        "rolling-origin errors scaled by each series' scale (default: conformal, the better "
                        "calibrated, benchmarks/results/selection.md; forecast first backtests the history at its 3 "
                        "most recent origins for it, and a series too short for that keeps its model's own intervals)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    add_model_settings_flags(p)
    add_hierarchy_flags(p)
    p.add_argument("--models", default="seasonal_naive,ets,theta,sarima", metavar="m1,m2|all",
                   help="models to compare (default seasonal_naive,ets,theta,sarima); 'all' = every registered "
                        "model except the torch networks, ensemble and auto (name those to add them)")
    p.add_argument("--windows", type=int, default=3, metavar="N", help="number of backtest windows (default 3)")
    p.add_argument("--step", type=int, default=None, metavar="S", help="periods between cutoffs (default: the horizon)")
    p.add_argument("--window-type", choices=["expanding", "sliding"], default="expanding",
                   help="training window: all history (expanding, default) or a fixed length (sliding)")
    p.add_argument("--save-forecasts", metavar="F.csv", default=None,
                   help="also write every backtest forecast: series, model, cutoff, date, actual, forecast, bounds")
    p.add_argument("--compare-methods", metavar="F.csv", default=None,
                   help="with hierarchy levels or --reconcile: also write the accuracy per level (mean MASE, RMSSE, "
                        "MAE) of the base forecasts ('none') and of every reconciliation method, from the same base "
                        "forecasts, to choose a method (printed as MASE on stderr either way)")
    p.add_argument("--output", required=True, metavar="OUT.csv|.json",
                   help="metrics per series × model (.csv), or .json with metrics, per-model summary and run info")
    add_output_flags(p)
    add_engine_flags(p)
    add_workspace_flag(p)


def parse_levels(text: str) -> list[int]:
    from forecasting.errors import ConfigError

    try:
        levels = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--levels must be comma-separated percentages like 80,95 (got '{text}')") from None
    if not levels or any(not (0 < l < 100) or l != int(l) for l in levels):
        raise ConfigError(f"--levels must be whole percentages between 1 and 99 (got '{text}')")
    return sorted({int(l) for l in levels})


def parse_models(text: str) -> list[str]:
    from forecasting.errors import ConfigError
    from forecasting.models.registry import MODELS, get_spec

    names = [m.strip() for m in str(text).split(",") if m.strip()]
    if not names:
        raise ConfigError("--models is empty; name at least one model or 'all'")
    out: list[str] = []
    for n in names:
        if n == "all":
            out += [k for k, s in MODELS.items() if not s.capabilities.needs_torch and k not in ("auto", "ensemble")]
        else:
            get_spec(n)
            out.append(n)
    return list(dict.fromkeys(out))


def _value(text: str):
    import json

    low = text.strip().lower()
    if low in ("true", "false", "none", "null"):
        return {"true": True, "false": False}.get(low)
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_settings(items: list[str], models: list[str]) -> dict[str, dict]:
    """``["sarima.order=0,1,1", "ets.model=MAM"]`` -> ``{"sarima": {"order": "0,1,1"}, "ets": {"model": "MAM"}}``.

    Unknown models, settings or values are errors, checked by the models themselves (a typo must not be
    ignored silently)."""
    from forecasting.errors import ConfigError
    from forecasting.models.registry import check_settings, get_spec

    out: dict[str, dict] = {}
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"--set expects MODEL.PARAM=VALUE, e.g. sarima.order=0,1,1 (got '{item}')")
        key, value = item.split("=", 1)
        model, param = key.split(".", 1)
        model, param = model.strip(), param.strip()
        get_spec(model)
        if model not in models:
            raise ConfigError(f"--set {key}: model '{model}' is not among the chosen models ({', '.join(models)})")
        out.setdefault(model, {})[param] = _value(value)
    for model, settings in out.items():
        try:
            check_settings(model, settings)
        except ConfigError as exc:
            raise ConfigError(f"--set: {exc}") from None
    return out


def check_output(path: str, suffixes: tuple[str, ...], flag: str = "--output") -> str:
    from pathlib import Path

    from forecasting.errors import ConfigError

    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        raise ConfigError(f"{flag} must end in {' or '.join(suffixes)} (got '{path}')")
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"{flag}: folder '{parent}' does not exist")
    return suffix


def to_output(dataset, frame):
    """Restore the analyst's id column(s) (or ``series``) and call ``ds`` ``date``."""
    out = dataset.restore_ids(frame)
    return out.rename(columns={"ds": "date"})


def print_methods(table) -> None:
    """Mean MASE per level of the base forecasts and every reconciliation method, per model, on stderr."""
    import sys

    if table is None or table.empty:
        return
    print("reconciliation methods, mean MASE per level (same base forecasts; 'none' = unreconciled):", file=sys.stderr)
    for model, g in table.groupby("model", sort=False):
        wide = g.pivot(index="method", columns="level", values="mase")[list(dict.fromkeys(g["level"]))]
        wide = wide.sort_values(wide.columns[-1])
        print(f"  {model}:", file=sys.stderr)
        for line in wide.to_string(float_format=lambda v: f"{v:.3f}").splitlines():
            print(f"    {line}", file=sys.stderr)


def print_coverage(res, levels) -> None:
    """Interval coverage per horizon step and model, on stderr (also under ``coverage_by_step`` in JSON output)."""
    import sys

    cov = res.coverage_steps
    if cov is None or cov.empty:
        return
    print(f"interval coverage per horizon step ({res.info.get('intervals', 'model')} intervals; "
          + ", ".join(f"{l}%" for l in levels) + "):", file=sys.stderr)
    for model, g in cov.groupby("model", sort=False):
        steps = " ".join(f"h{int(r.step)}=" + "/".join(f"{getattr(r, f'coverage_{l}'):.0%}" for l in levels)
                         for r in g.itertuples())
        print(f"  {model}: {steps}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from forecasting.commands.common import one_blas_thread

    one_blas_thread()
    import json
    import sys

    from forecasting.commands.common import load_dataset, run_command
    from forecasting.commands.hierarchy_flags import hierarchy_config, split_levels
    from forecasting.errors import ConfigError
    from forecasting.pipeline import BacktestConfig
    from forecasting.progress import StderrProgress

    suffix = check_output(args.output, (".csv", ".json"))
    if args.save_forecasts:
        check_output(args.save_forecasts, (".csv",), "--save-forecasts")
    if args.compare_methods:
        check_output(args.compare_methods, (".csv",), "--compare-methods")
    if args.horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 (got {args.horizon})")
    models = parse_models(args.models)
    interval_levels, hier_levels = split_levels(args.levels)
    hcfg = hierarchy_config(args, hier_levels)
    hcfg.validate()
    if args.compare_methods and not hcfg.active:
        raise ConfigError("--compare-methods needs hierarchy levels (--levels ';C1;C1,C2') or --reconcile")
    cfg = BacktestConfig(horizon=args.horizon, models=models, windows=args.windows, step=args.step,
                         season_length=args.season_length, levels=parse_levels(interval_levels),
                         window_type=args.window_type, model_params=parse_settings(args.settings, models),
                         seed=args.seed, non_negative=not args.allow_negative, engine=args.engine,
                         address=args.address, intervals=args.intervals or "conformal")
    cfg.validate()
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    res, dataset, out_fn = run_command(args, "backtest", cfg, hcfg, dataset, models, progress, to_output)
    metrics = out_fn(dataset, res.metrics)
    from forecasting.export.files import atomic_write, write_csv

    if suffix == ".csv":
        write_csv(metrics, args.output, safe=args.safe_csv)
    else:
        doc = {"metrics": json.loads(metrics.to_json(orient="records", date_format="iso")),
               "summary": json.loads(res.summary.to_json(orient="records")),
               "coverage_by_step": json.loads(res.coverage_steps.to_json(orient="records"))
               if res.coverage_steps is not None else [],
               "info": res.info}
        if hcfg.active:
            doc["summary_by_level"] = res.info.get("summary_by_level", [])
            doc["methods_by_level"] = res.info.get("methods_by_level", [])
        atomic_write(args.output, lambda fh: json.dump(doc, fh, indent=1, default=str), mode="w")
    if args.save_forecasts:
        write_csv(out_fn(dataset, res.forecasts), args.save_forecasts, safe=args.safe_csv)
    if hcfg.active:
        import pandas as pd

        table = pd.DataFrame(res.info.get("methods_by_level", []))
        if args.compare_methods:
            write_csv(table, args.compare_methods, safe=args.safe_csv)
        print_methods(table)
    print_coverage(res, cfg.levels)
    n_fb = int((res.metrics["fallback"].fillna("") != "").sum())
    best = res.summary.iloc[0]["model"] if len(res.summary) else "?"
    from forecasting.data.quality import too_large_message

    big = too_large_message(dataset.df)
    print(f"backtest: {dataset.n_series} series × {len(models)} model(s), {cfg.windows} window(s) of {cfg.horizon}; "
          f"best mean MASE: {best}; {n_fb} fallback(s); wrote {args.output}" + (f"; {big}" if big else ""),
          file=sys.stderr)
    return 0
