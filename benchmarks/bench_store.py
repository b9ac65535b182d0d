"""Workspace store (issue: work that survives): what keeping a run costs, and how fast a workspace reopens.

1. Overhead: the same backtest of 10,000 series (seasonal naive and naive, 3 windows of 7 days, the local
   engine) with and without a workspace, alternated, ``--repeats`` times each; the median of each. "With"
   is what ``backtest --workspace`` does: store the dataset (raw file copy, cleaned frame as Parquet),
   record the run, write every partition's results as it finishes, save the final frames. Target: ≤ 5%.
   The cheap models make the store's share as large as it gets: with real models the run is longer and
   the store's writes the same.
2. Reopen: a workspace holding a 1,000,000-row dataset (1,000 series × 1,000 days) and a finished backtest
   on it, opened afresh (new database connection): open, list runs, load the dataset, load the run's
   result frames. Target: ≤ 2 s.

Synthetic series (timing only, no accuracy is measured). SQLite, the default database.

Run::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_store.py   # writes results/store.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def synthetic_csv(path: Path, n_series: int, n_days: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-01", periods=n_days, freq="D").strftime("%Y-%m-%d")
    level = rng.uniform(20, 200, n_series)
    week = np.sin(2 * np.pi * np.arange(n_days) / 7)
    y = level[:, None] * (1 + 0.2 * week[None, :]) + rng.normal(0, 5, (n_series, n_days))
    frame = pd.DataFrame({"date": np.tile(ds, n_series),
                          "sku": np.repeat([f"sku{i:06d}" for i in range(n_series)], n_days),
                          "units": np.round(np.maximum(y, 0).ravel(), 2)})
    frame.to_csv(path, index=False)
    return path


def _write_partial(out: Path, overhead: dict) -> None:
    """Write the overhead measured so far beside the last complete run's reopen measurement."""
    try:
        doc = json.loads(out.read_text())
    except (OSError, ValueError):
        doc = {}
    doc.update({"benchmark": "store", "command": " ".join(sys.argv), "load_average": os.getloadavg(),
                "python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
                "database": "sqlite", "overhead": overhead})
    out.write_text(json.dumps(doc, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--reopen-series", type=int, default=1_000)
    ap.add_argument("--reopen-days", type=int, default=1_000)
    ap.add_argument("--out", default=str(RESULTS / "store.json"))
    args = ap.parse_args()

    from forecasting.data.ingest import load
    from forecasting.pipeline import BacktestConfig, run_backtest
    from forecasting.store import db, open_workspace
    from forecasting.store.execute import config_of, execute_run

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        csv = synthetic_csv(tmp / "sales.csv", args.series, args.days)
        dataset = load(str(csv), date_col="date", target_col="units", id_cols=["sku"])
        cfg = BacktestConfig(horizon=7, models=["seasonal_naive", "naive"], windows=args.windows, season_length=7,
                             engine="local", n_workers=args.workers)
        without, with_, parts, loads = [], [], [], []

        def plain_run() -> None:
            t0 = time.perf_counter()
            run_backtest(dataset, cfg)
            without.append(time.perf_counter() - t0)

        def stored_run(r: int) -> None:
            t0 = time.perf_counter()
            ws = open_workspace(tmp / f"ws{r}")
            rec = ws.add_dataset(dataset, raw=csv, name=csv.name, mapping={"id_cols": "sku"}, treatments=[])
            run_id = ws.create_run("backtest", rec.id, config_of("backtest", cfg))
            execute_run(ws, run_id)
            with_.append(time.perf_counter() - t0)
            parts.append(len(ws.parts(run_id)))
            assert ws.get_run(run_id).status == "finished" and ws.get_run(run_id).series_done == args.series

        for r in range(args.repeats):
            # the order alternates, so a load that rises or falls during the benchmark favours neither side
            if r % 2 == 0:
                plain_run()
                stored_run(r)
            else:
                stored_run(r)
                plain_run()
            loads.append(round(os.getloadavg()[0], 2))
            print(f"repeat {r + 1}: without {without[-1]:.2f}s, with workspace {with_[-1]:.2f}s "
                  f"(load {loads[-1]})", flush=True)
            # the results so far, so a run stopped before its end (a shared, loaded machine) leaves them
            partial = (statistics.median(with_) - statistics.median(without)) / statistics.median(without)
            _write_partial(Path(args.out), {
                "series": args.series, "days": args.days, "models": cfg.models, "windows": cfg.windows,
                "engine": cfg.engine, "repeats": args.repeats, "repeats_done": r + 1,
                "without_s": [round(v, 3) for v in without], "with_workspace_s": [round(v, 3) for v in with_],
                "parts_written": parts, "load_after_each_repeat": loads,
                "overhead_pct_so_far": round(100 * partial, 2), "target_pct": 5.0, "met": None,
                "note": f"PARTIAL: {r + 1} of {args.repeats} repeats done; the reopen measurement below is from "
                        "an earlier complete run"})
        med_without, med_with = statistics.median(without), statistics.median(with_)
        overhead = (med_with - med_without) / med_without
        # repeats of the same work that differ by more than a quarter measure the machine, not the store
        noisy = max(without) / min(without) > 1.25 or max(with_) / min(with_) > 1.25

        # ---- reopen a workspace with a 1,000,000-row dataset and its results
        big_csv = synthetic_csv(tmp / "big.csv", args.reopen_series, args.reopen_days, seed=1)
        big = load(str(big_csv), date_col="date", target_col="units", id_cols=["sku"])
        ws = open_workspace(tmp / "big_ws")
        rec = ws.add_dataset(big, raw=big_csv, name=big_csv.name, mapping={"id_cols": "sku"}, treatments=[])
        big_cfg = BacktestConfig(horizon=28, models=["seasonal_naive", "naive"], windows=1, season_length=7,
                                 engine="local", n_workers=args.workers)
        run_id = ws.create_run("backtest", rec.id, config_of("backtest", big_cfg))
        execute_run(ws, run_id)
        reopen = []
        for _ in range(3):
            db.dispose_all()
            t0 = time.perf_counter()
            ws2 = open_workspace(tmp / "big_ws", create=False)
            runs = ws2.list_runs()
            ds2 = ws2.load_dataset(runs[-1].dataset_id)
            frames = ws2.run_frames(runs[-1].id)
            reopen.append(time.perf_counter() - t0)
        assert len(ds2.df) == args.reopen_series * args.reopen_days
        doc = {
            "benchmark": "store", "command": " ".join(sys.argv), "load_average": os.getloadavg(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "machine": platform.machine(), "database": "sqlite",
            "overhead": {"series": args.series, "days": args.days, "models": cfg.models, "windows": cfg.windows,
                         "engine": cfg.engine, "repeats": args.repeats, "without_s": [round(v, 3) for v in without],
                         "with_workspace_s": [round(v, 3) for v in with_], "parts_written": parts,
                         "load_after_each_repeat": loads,
                         "median_without_s": round(med_without, 3), "median_with_s": round(med_with, 3),
                         "overhead_pct": round(100 * overhead, 2), "target_pct": 5.0,
                         "spread_without": round(max(without) / min(without), 2),
                         "spread_with": round(max(with_) / min(with_), 2),
                         "met": None if noisy else bool(overhead <= 0.05),
                         **({"note": f"NOT ESTABLISHED: the same run took {min(without):.0f}-{max(without):.0f} s "
                                     f"without and {min(with_):.0f}-{max(with_):.0f} s with a workspace across "
                                     "repeats (the machine's load changed), a spread far above the 5% to be "
                                     "measured; rerun on a quiet machine"} if noisy else {})},
            "reopen": {"rows": int(len(ds2.df)), "series": args.reopen_series,
                       "result_rows": {k: int(len(v)) for k, v in frames.items() if v is not None},
                       "seconds": [round(v, 3) for v in reopen], "median_s": round(statistics.median(reopen), 3),
                       "target_s": 2.0, "met": bool(statistics.median(reopen) <= 2.0)},
        }
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
        print(json.dumps(doc, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
