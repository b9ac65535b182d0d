"""Ingest time of wide files (one column per series): 25,000, 50,000 and 100,000 columns x 12 months.

Claim (issue 18): ingest is linear in the number of columns (it was quadratic: a list scan per column).
Target: the time per column at 100,000 columns at most 1.5x the time per column at 25,000 (linear with
noise). Each size is read 3 times by ``forecasting.data.ingest.load_report`` in this process; the median
counts. Writes ``results/wide_ingest.json``.

    python benchmarks/bench_wide_ingest.py [--sizes 25000,50000,100000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_wide(path: Path, n_cols: int, seed: int = 0) -> None:
    vals = np.random.default_rng(seed).integers(0, 9, size=(12, n_cols))
    with open(path, "w") as fh:
        fh.write("date," + ",".join(f"s{i}" for i in range(n_cols)) + "\n")
        for r, d in enumerate(pd.date_range("2024-01-01", periods=12, freq="MS")):
            fh.write(f"{d:%Y-%m-%d}," + ",".join(map(str, vals[r])) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25000,50000,100000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from forecasting.data.ingest import load_report

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"wide{n}.csv"
            write_wide(path, n)
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                rep = load_report(path)
                times.append(time.perf_counter() - t)
                assert rep.dataset.n_series == n
            med = statistics.median(times)
            rows.append({"columns": n, "seconds": [round(x, 2) for x in times], "median_s": round(med, 2),
                         "us_per_column": round(med / n * 1e6, 1)})
            print(rows[-1], flush=True)
    ratio = rows[-1]["us_per_column"] / rows[0]["us_per_column"]
    out = {"claim": "wide-file ingest is linear in the number of columns",
           "target": "time per column at the largest size <= 1.5x that at the smallest",
           "ratio": round(ratio, 2), "met": ratio <= 1.5, "runs": rows,
           "python": platform.python_version(), "pandas": pd.__version__, "numpy": np.__version__,
           "machine": platform.machine(), "seed": 0}
    dest = ROOT / "benchmarks" / "results" / "wide_ingest.json"
    dest.write_text(json.dumps(out, indent=1))
    print(f"time per column, {sizes[-1]:,} vs {sizes[0]:,} columns: {ratio:.2f}x -> "
          f"{'met' if out['met'] else 'MISSED'}; wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
