"""``python -m forecasting decompose``: trend, seasonal and residual components of every series."""
from __future__ import annotations

import argparse
import sys

from forecasting.commands.common import add_column_flags, add_output_flags, load_dataset

HELP = "split each series into trend, seasonal and residual components, anomalies flagged (CSV)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_column_flags(p)
    p.add_argument("--method", choices=["stl", "mstl", "classical"], default="stl",
                   help="STL (one period), MSTL (several periods) or classical moving averages (default: stl)")
    p.add_argument("--period", metavar="P[,P2]", default=None,
                   help="seasonal period(s) in periods of the data, e.g. 12 or 7,365.25 (detected when omitted)")
    p.add_argument("--series", metavar="ID", default=None,
                   help='only this series (its id as shown by validate, e.g. "North / A-1")')
    p.add_argument("--model", choices=["additive", "multiplicative"], default="additive",
                   help="classical only: components add up (default) or multiply to y")
    p.add_argument("--robust", action="store_true", help="STL/MSTL: robust fitting, outliers weigh less")
    p.add_argument("--output", "-o", metavar="OUT.csv", required=True, help="where to write the components")
    add_output_flags(p)


def _pick_series(dataset, wanted: str) -> str:
    from forecasting.errors import DataError

    ids = dataset.series_ids
    if wanted in ids:
        return wanted
    folded = {i.casefold().replace(" ", ""): i for i in ids}
    key = wanted.casefold().replace(" ", "")
    if key in folded:
        return folded[key]
    shown = ", ".join(repr(i) for i in ids[:8]) + (f" … ({len(ids)} in all)" if len(ids) > 8 else "")
    raise DataError(f"--series {wanted!r} is not in {dataset.source or 'the file'}; series are: {shown}")


def run(args: argparse.Namespace) -> int:
    from collections import Counter
    from pathlib import Path

    from forecasting.explore.components import dataset_components
    from forecasting.explore.decompose import parse_periods
    from forecasting.progress import StderrProgress

    periods = parse_periods(args.period)
    out = Path(args.output)
    if out.parent and not out.parent.exists():
        from forecasting.errors import ConfigError
        raise ConfigError(f"--output folder {str(out.parent)!r} does not exist")
    progress = StderrProgress()
    dataset = load_dataset(args, progress=progress)
    series = _pick_series(dataset, args.series) if args.series is not None else None
    comp = dataset_components(dataset, series, method=args.method, periods=periods, model=args.model,
                              robust=args.robust, progress=progress if dataset.n_series > 1 else None)
    if comp.detected:
        counts = Counter(", ".join(str(p) for p in ps) or "none" for ps in comp.periods.values())
        text = "; ".join(f"{k} ({v} series)" if len(comp.periods) > 1 else k for k, v in counts.most_common())
        print(f"detected period(s): {text}", file=sys.stderr)
    if comp.scales:
        counts = Counter(comp.scales.values())
        print("anomaly scale: " + ", ".join(f"{k} ({v} series)" for k, v in counts.most_common())
              + f"; {int(comp.frame['anomaly'].sum())} anomalous row(s)", file=sys.stderr)
    lines = [f"{uid}: {n}" if len(comp.notes) > 1 else n for uid, ns in comp.notes.items() for n in ns]
    for line in lines[:20]:
        print(f"note: {line}", file=sys.stderr)
    if len(lines) > 20:
        print(f"note: … and {len(lines) - 20} more", file=sys.stderr)
    from forecasting.export.files import write_csv

    write_csv(comp.frame, out, safe=args.safe_csv)
    print(f"wrote {len(comp.frame)} rows ({len(comp.periods)} series) to {out}", file=sys.stderr)
    return 0
