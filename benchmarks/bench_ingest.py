"""Ingest speed and memory. One command; data is generated into a temp dir (seed 0):

    nice -n 10 .venv/bin/python benchmarks/bench_ingest.py            # full: 1M rows timed, 5M rows memory
    nice -n 10 .venv/bin/python benchmarks/bench_ingest.py --series 100 --big-series 500   # quick

Claims measured (targets from the issue):
1. ``load()`` (ingest + validation) of a 1,000,000-row long CSV (1,000 series x 1,000 days) against
   ``pyarrow.csv.read_csv`` of the same file, same process, runs interleaved, best of N each: ratio <= 2.
2. Peak memory (VmHWM of a fresh subprocess, interpreter and imports included) ingesting 5,000,000 rows:
   < 1.5 GB.
3. ``python -m forecasting --help`` wall time against ``python -c "import pandas"`` (median of N): <= 1.5x.
Results go to ``benchmarks/results/ingest.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_long_csv(path: Path, n_series: int, n_days: int, seed: int = 0) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    dates = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-01-01") + n_days).astype(str)
    ids = np.array([f"SKU-{i:05d}" for i in range(n_series)])
    n = n_series * n_days
    table = pa.table({
        "date": np.tile(dates, n_series),
        "sku": np.repeat(ids, n_days),
        "units": np.round(rng.gamma(2.0, 20.0, n), 1),
        "price": np.round(rng.uniform(1, 20, n), 2),
    })
    pacsv.write_csv(table, path)
    return n


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# Peak RSS from VmHWM (kB): unlike ru_maxrss, which Linux carries over from the parent through fork and
# exec, the high-water mark belongs to this process's own address space.
MEM_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
from forecasting.data.ingest import load
base = hwm()
ds = load({path!r})
print(base, hwm(), len(ds.df), ds.n_series)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=1000, help="series in the timed file (x --days rows)")
    ap.add_argument("--days", type=int, default=1000)
    ap.add_argument("--big-series", type=int, default=5000, help="series in the memory file (x --days rows)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ingest.json"))
    args = ap.parse_args()

    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from forecasting.data.ingest import load

    results: dict = {"config": vars(args) | {"seed": 0}, "machine": {
        "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "pandas": pd.__version__, "pyarrow": pa.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    with tempfile.TemporaryDirectory(prefix="salescast-bench-") as tmp:
        small = Path(tmp) / "long.csv"
        n = write_long_csv(small, args.series, args.days)
        size_mb = small.stat().st_size / 1e6
        load(small)  # warm imports and caches once
        # interleaved (pyarrow, load, pyarrow, load …) so both see the same load on a shared machine
        pa_times, load_times = [], []
        for _ in range(args.repeats):
            pa_times.append(best_of(lambda: pacsv.read_csv(small), 1))
            load_times.append(best_of(lambda: load(small), 1))
        t_pa, t_load = min(pa_times), min(load_times)
        pair_ratio = statistics.median(b / a for a, b in zip(pa_times, load_times))
        ds = load(small)
        assert len(ds.df) == n and ds.n_series == args.series and ds.freq == "D"
        results["speed"] = {"rows": n, "file_mb": round(size_mb, 1), "pyarrow_read_csv_s": round(t_pa, 3),
                            "salescast_load_s": round(t_load, 3), "ratio": round(t_load / t_pa, 2),
                            "median_pair_ratio": round(pair_ratio, 2),
                            "pyarrow_runs_s": [round(x, 3) for x in pa_times],
                            "load_runs_s": [round(x, 3) for x in load_times],
                            "target_ratio": 2.0, "met": t_load / t_pa <= 2.0}
        print(f"speed: {n:,} rows ({size_mb:.0f} MB): pyarrow {t_pa:.3f}s, load {t_load:.3f}s, "
              f"ratio {t_load / t_pa:.2f} (median of interleaved pairs {pair_ratio:.2f}; target <= 2)")
        small.unlink()

        big = Path(tmp) / "big.csv"
        n_big = write_long_csv(big, args.big_series, args.days, seed=1)
        p = subprocess.run([sys.executable, "-c", MEM_SCRIPT.format(root=str(ROOT), path=str(big))],
                           capture_output=True, text=True, check=True)
        base_kb, peak_kb, rows, series = map(int, p.stdout.split())
        peak_gb = peak_kb / 1024**2
        results["memory"] = {"rows": n_big, "file_mb": round(big.stat().st_size / 1e6, 1),
                             "rows_loaded": rows, "series": series,
                             "peak_rss_gb": round(peak_gb, 3), "rss_before_load_gb": round(base_kb / 1024**2, 3),
                             "target_gb": 1.5, "met": peak_gb < 1.5}
        print(f"memory: {n_big:,} rows: peak RSS {peak_gb:.2f} GB (target < 1.5)")

    def wall(cmd: list[str]) -> float:
        runs = []
        for _ in range(max(5, args.repeats)):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    t_help = wall([sys.executable, "-m", "forecasting", "--help"])
    t_pd = wall([sys.executable, "-c", "import pandas"])
    results["cli_help"] = {"help_s": round(t_help, 3), "import_pandas_s": round(t_pd, 3),
                           "ratio": round(t_help / t_pd, 2), "target_ratio": 1.5, "met": t_help / t_pd <= 1.5}
    print(f"--help: {t_help:.3f}s vs import pandas {t_pd:.3f}s, ratio {t_help / t_pd:.2f} (target <= 1.5)")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
