"""``python -m forecasting validate FILE``: read a file as the app would and report what was found."""
from __future__ import annotations

import argparse

from forecasting.commands.common import add_column_flags

HELP = "read a sales file, check it and summarise it (series, dates, frequency, quality)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a summary")


def summarize(rep) -> dict:
    """The JSON summary of an :class:`~forecasting.data.ingest.IngestReport` (the CLI contract)."""
    from forecasting.data.quality import missing_date_counts, too_large_message

    ds = rep.dataset
    df = ds.df
    gaps = missing_date_counts(df, ds.freq)
    y = df["y"]
    warnings = list(rep.warnings)
    n_missing = int(y.isna().sum())
    if n_missing:
        warnings.append(f"{n_missing} period(s) have no value for '{ds.target_col}'")
    if int(gaps.sum()):
        warnings.append(f"{int(gaps.sum())} missing date(s) in {int((gaps > 0).sum())} series; "
                        "fill them on the Data page or leave them missing")
    if rep.duplicates:
        warnings.append(f"{rep.duplicates} row(s) shared a series and date with another row and were combined")
    if int((y < 0).sum()):
        warnings.append(f"{int((y < 0).sum())} negative value(s) in '{ds.target_col}'")
    big = too_large_message(df)
    if big:
        warnings.append(big)
    lengths = df.groupby("unique_id", sort=False).size()
    if int((lengths < 3).sum()):
        warnings.append(f"{int((lengths < 3).sum())} series have fewer than 3 periods")
    return {
        "file": ds.source,
        "layout": rep.layout,
        "n_series": ds.n_series,
        "n_rows": int(len(df)),
        "n_input_rows": int(rep.n_input_rows),
        "freq": ds.freq,
        "inferred_freq": rep.inferred_freq,
        "start": str(df["ds"].min().isoformat()),
        "end": str(df["ds"].max().isoformat()),
        "date_col": ds.date_col,
        "target_col": ds.target_col,
        "id_cols": list(ds.id_cols),
        "covariates": list(ds.covariates),
        "total": _total(y),
        "missing_values": n_missing,
        "missing_dates": int(gaps.sum()),
        "duplicates": int(rep.duplicates),
        "zeros": int((y == 0).sum()),
        "negatives": int((y < 0).sum()),
        "warnings": warnings,
        "notes": list(ds.notes),
    }


def _total(y) -> float | None:
    """The sum of the target; None (JSON null) when it overflows (a warning names the series)."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        t = float(y.sum())
    return t if np.isfinite(t) else None


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from forecasting.commands.common import parse_id_cols
    from forecasting.data.ingest import load_report
    from forecasting.progress import StderrProgress

    rep = load_report(args.file, date_col=args.date_col, target_col=args.target_col,
                      id_cols=parse_id_cols(args.id_cols), freq=args.freq, agg=args.agg, sheet=args.sheet,
                      progress=None if args.json else StderrProgress())
    out = summarize(rep)
    if args.json:
        json.dump(out, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    ids = ", ".join(out["id_cols"]) if out["id_cols"] else "(one series)"
    lines = [
        f"{out['file']}: {out['n_series']} series, {out['n_rows']} rows ({out['layout']} layout, "
        f"{out['n_input_rows']} input rows)",
        f"  dates    {out['start'][:10]} .. {out['end'][:10]}, frequency {out['freq']} (column '{out['date_col']}')",
        f"  target   '{out['target_col']}', total "
        + (f"{out['total']:,.2f}" if out["total"] is not None else "too large to add up (see the warning)"),
        f"  ids      {ids}",
        f"  covariates {', '.join(out['covariates']) or '(none)'}",
        f"  missing values {out['missing_values']}, missing dates {out['missing_dates']}, "
        f"combined duplicates {out['duplicates']}, zeros {out['zeros']}, negatives {out['negatives']}",
    ]
    lines += [f"  note: {n}" for n in out["notes"]]
    lines += [f"  warning: {w}" for w in out["warnings"]]
    print("\n".join(lines))
    return 0
