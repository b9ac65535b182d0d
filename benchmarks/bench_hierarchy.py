"""Hierarchical reconciliation: SalesCast beside Nixtla's hierarchicalforecast on the same base forecasts.

One command (``python benchmarks/bench_hierarchy.py``; ``--quick`` for a smaller run) measures, in one run:

1. **Equality**: on the base forecasts of every rolling-origin window of two hierarchies, the reconciled
   values of SalesCast and hierarchicalforecast (``BottomUp``, ``TopDown(forecast_proportions)``,
   ``TopDown(average_proportions)``, ``MiddleOut``, ``MinTrace(ols | wls_struct | wls_var | mint_shrink)``),
   max relative difference, target <= 1e-6.
2. **Speed**: time to reconcile 10,000 bottom series with 3 levels (total, 100 stores, 10,000 store x SKU),
   12 steps; hierarchicalforecast's dense class and, where it has one, its sparse class; target: SalesCast
   <= 1/2 of their faster time.
3. **Accuracy per level**: MASE per level of the base forecasts (ETS on every node, SalesCast's backtest)
   and of each method, over rolling-origin windows. Targets: ``mint_shrink`` better than base averaged
   over levels; ``mint_shrink`` no worse than ``bottom_up`` at the top.

Data: the shipped sample data (3 stores x 4 products, daily, 3 years) and a generated store x SKU set
(20 stores x 25 SKUs, monthly, 8 years) with shared shocks (a market factor and a store factor) and a few
late launches; its season length is set to 12 (the generator's yearly season: detection on the total finds none,
as the SKUs' seasonal phases cancel out in the sum). Residuals for wls_var / mint_shrink are the ones SalesCast's
backtest uses: the base model's errors in the earlier windows up to each cutoff (the first window, with none, takes
the in-sample seasonal naive errors); ``mint_shrink_in_sample`` uses the in-sample seasonal naive errors in every
window (coherent errors, with which mint_shrink equals wls_var); ``mint_shrink_unscaled`` the earlier windows' errors
without the per-step scaling and ``mint_shrink_other_windows`` the errors of every other window, later ones
included (look-ahead: a diagnostic of what more error vectors could give, not a forecast). Both libraries get the same residuals, and
``theirs_mint_shrink`` is hierarchicalforecast's ``MinTrace(mint_shrink)`` scored the same way. Results:
``benchmarks/results/hierarchy.json`` and ``.md``.
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

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.data.contract import Dataset, make_unique_id, validate_long  # noqa: E402
from forecasting.data.ingest import load  # noqa: E402
from forecasting.evaluation.aggregate import pooled_metrics  # noqa: E402
from forecasting.pipeline import BacktestConfig  # noqa: E402
from forecasting.metrics import naive_scale  # noqa: E402
from forecasting.hierarchy import ReconcileSettings, build_hierarchy, reconcile_bottom, reconcile_intervals  # noqa: E402
from forecasting.hierarchy.data import history_matrix  # noqa: E402
from forecasting.hierarchy.reconcile import seasonal_naive_residuals, shrunk_covariance  # noqa: E402
from forecasting.hierarchy.run import (FittedErrors, HierarchyConfig, _earlier_errors, _residuals,  # noqa: E402
                                       backtest_errors, hierarchical_backtest)

OUT = ROOT / "benchmarks" / "results"
OURS = {  # label -> SalesCast settings
    "bottom_up": ReconcileSettings("bottom_up"),
    "top_down_fp": ReconcileSettings("top_down"),
    "top_down_ap": ReconcileSettings("top_down", top_down="average_proportions"),
    "middle_out": ReconcileSettings("middle_out"),
    "mint_ols": ReconcileSettings("mint_ols"),
    "mint_wls_struct": ReconcileSettings("mint_wls", wls="struct"),
    "mint_wls_var": ReconcileSettings("mint_wls", wls="var"),
    "mint_shrink": ReconcileSettings("mint_shrink"),
    "mint_shrink_in_sample": ReconcileSettings("mint_shrink", residuals="in_sample"),
    # the option residuals="fitted": the base model's in-sample one-step errors (refit per node and window)
    "mint_wls_var_fitted": ReconcileSettings("mint_wls", wls="var", residuals="fitted"),
    "mint_shrink_fitted": ReconcileSettings("mint_shrink", residuals="fitted"),
    # diagnostics (same method, other errors): the earlier windows' errors without the per-step scaling (the
    # library before it), and the errors of every other window, later ones included (look-ahead: not a forecast,
    # what more error vectors from the same model could give; the window's own errors are left out)
    "mint_shrink_unscaled": ReconcileSettings("mint_shrink"),
    "mint_shrink_other_windows": ReconcileSettings("mint_shrink"),
}
DIAGNOSTIC = ("mint_shrink_in_sample", "mint_shrink_unscaled", "mint_shrink_other_windows")
LIBRARY_NAME = {"none": "base", "bottom_up": "bottom_up", "top_down": "top_down_fp", "middle_out": "middle_out",
                "mint_ols": "mint_ols", "mint_wls": "mint_wls_var", "mint_shrink": "mint_shrink"}


def theirs(label: str, sparse: bool = False, middle: str | None = None):
    from hierarchicalforecast import methods as M

    if label == "bottom_up":
        return M.BottomUpSparse() if sparse else M.BottomUp()
    if label == "top_down_fp":
        return M.TopDownSparse("forecast_proportions") if sparse else M.TopDown("forecast_proportions")
    if label == "top_down_ap":
        return M.TopDownSparse("average_proportions") if sparse else M.TopDown("average_proportions")
    if label == "middle_out":
        cls = M.MiddleOutSparse if sparse else M.MiddleOut
        return cls(middle_level=middle, top_down_method="forecast_proportions")
    method = {"mint_ols": "ols", "mint_wls_struct": "wls_struct", "mint_wls_var": "wls_var",
              "mint_shrink": "mint_shrink", "mint_shrink_in_sample": "mint_shrink", "mint_shrink_unscaled": "mint_shrink",
              "mint_wls_var_fitted": "wls_var", "mint_shrink_fitted": "mint_shrink",
              "mint_shrink_other_windows": "mint_shrink"}[label]
    return M.MinTraceSparse(method) if sparse else M.MinTrace(method)


def run_theirs(label, hier, base, hist, resid, sparse=False):
    import scipy.sparse as sp

    tags = {name: hier.rows_of_level(k) for k, name in enumerate(hier.level_names)}
    S = hier.S if sparse else hier.S.toarray()
    if sparse:
        S = sp.csr_matrix(S)
    middle = hier.level_names[max(0, (len(hier.levels) - 1) // 2)]
    rec = theirs(label, sparse, middle)
    kw = {}
    if label == "top_down_ap":
        kw = {"y_insample": hist}
    elif label in ("mint_wls_var", "mint_shrink", "mint_wls_var_fitted", "mint_shrink_fitted") + DIAGNOSTIC:
        kw = {"y_insample": resid.T.copy(), "y_hat_insample": np.zeros_like(resid.T)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(rec.fit_predict(S=S, y_hat=base, tags=tags, **kw)["mean"])


def run_ours(label, hier, base, hist, resid):
    b = reconcile_bottom(hier, base, OURS[label], residuals=resid, history=hist)
    return np.asarray(hier.S @ b), b


# ---------------------------------------------------------------- data
def sample_data() -> Dataset:
    return load(str(ROOT / "sample_data" / "store_sales_daily.csv"), date_col="date", target_col="units",
                id_cols=["store", "product"], freq="D")


def generated(stores: int, skus: int, periods: int, seed: int = 0, freq: str = "MS") -> Dataset:
    """Store x SKU sales with shared shocks: a market factor (all series), a store factor, SKU noise;
    multiplicative yearly season with SKU-specific strength; ~5% of SKUs launched late."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    market = np.cumsum(rng.normal(0, 0.03, periods))
    store_f = np.cumsum(rng.normal(0, 0.04, (stores, periods)), axis=1)
    level = rng.gamma(2.0, 20.0, (stores, skus))
    amp = rng.uniform(0.0, 0.4, skus)
    phase = rng.uniform(0, 2 * np.pi, skus)
    season = 1 + amp[None, :, None] * np.sin(2 * np.pi * t / 12 + phase[None, :, None])
    mu = level[:, :, None] * season * np.exp(market[None, None, :] + store_f[:, None, :])
    y = rng.poisson(np.maximum(mu * np.exp(rng.normal(0, 0.15, mu.shape)), 0)).astype(float)
    launch = np.where(rng.random((stores, skus)) < 0.05, rng.integers(12, periods // 2, (stores, skus)), 0)
    dates = pd.date_range("2017-01-01", periods=periods, freq=freq)
    s_idx, k_idx = np.meshgrid(np.arange(stores), np.arange(skus), indexing="ij")
    frames = []
    for s, k in zip(s_idx.ravel(), k_idx.ravel()):
        a = launch[s, k]
        frames.append(pd.DataFrame({"store": f"S{s:03d}", "sku": f"K{k:03d}", "ds": dates[a:], "y": y[s, k, a:]}))
    df = pd.concat(frames, ignore_index=True)
    df["unique_id"] = make_unique_id(df, ["store", "sku"])
    id_map = df[["unique_id", "store", "sku"]].drop_duplicates().reset_index(drop=True)
    return Dataset(validate_long(df[["unique_id", "ds", "y"]]), freq, "ds", "y", ["store", "sku"], id_map,
                   source="generated")


# ---------------------------------------------------------------- 1 + 3: equality and accuracy
def accuracy_and_equality(name: str, ds: Dataset, horizon: int, windows: int, levels, model: str,
                          season_length: int | None = None) -> dict:
    cfg = BacktestConfig(horizon=horizon, models=[model], windows=windows, engine="local", levels=(80,),
                         season_length=season_length)
    t0 = time.perf_counter()
    res, hds, hier = hierarchical_backtest(ds, cfg, HierarchyConfig(levels, "none"))
    base_s = time.perf_counter() - t0
    m = int(res.info["config"]["season_length"])
    hist_all, dates = history_matrix(hds, hier)
    pos = pd.Index(hier.node_ids)
    date_pos = pd.Index(dates)
    labels = list(OURS)
    windows_of = {lab: {u: [] for u in hier.node_ids} for lab in ["base"] + labels + ["theirs_mint_shrink"]}
    max_diff = {lab: 0.0 for lab in labels}
    by_model = dict(list(res.forecasts.groupby("model", sort=False)))
    n_in_sample = 0
    lambdas, n_rows, lambdas_fitted = [], [], []
    fe = FittedErrors(hist_all, m)
    fitted_s = 0.0
    for cutoff, g in res.forecasts.groupby("cutoff", sort=True):
        end = int(date_pos.get_loc(pd.Timestamp(cutoff))) + 1
        hist = hist_all[:, :end]
        fdates = np.sort(g["ds"].unique())
        r, c = pos.get_indexer(g["unique_id"]), pd.Index(fdates).get_indexer(g["ds"])
        base = np.zeros((hier.n_nodes, len(fdates)))
        lo, hi = np.zeros_like(base), np.zeros_like(base)
        base[r, c], lo[r, c], hi[r, c] = g["forecast"], g["lo_80"], g["hi_80"]
        # the pipeline's residuals: the model's errors in the earlier windows (in-sample where too few)
        resid_bt, fell = _residuals(_earlier_errors(by_model, model, cutoff, hier), OURS["mint_shrink"], hist, m)
        n_in_sample += fell
        lambdas.append(None if fell else round(shrunk_covariance(resid_bt)[2], 3))
        n_rows.append(len(resid_bt))
        resid_un, _ = _residuals(_earlier_errors(by_model, model, cutoff, hier, scale_steps=False),
                                 OURS["mint_shrink"], hist, m)
        resid_in = seasonal_naive_residuals(hist, m)
        t1 = time.perf_counter()
        resid_fit, _ = _residuals(_earlier_errors(by_model, model, cutoff, hier), OURS["mint_shrink_fitted"], hist, m,
                                  fe.get(model, end))
        fitted_s += time.perf_counter() - t1
        lambdas_fitted.append([len(resid_fit), round(shrunk_covariance(resid_fit)[2], 3)])
        resid_of = {"mint_shrink_in_sample": resid_in, "mint_shrink_unscaled": resid_un,
                    "mint_shrink_fitted": resid_fit, "mint_wls_var_fitted": resid_fit,
                    "mint_shrink_other_windows": backtest_errors(
                        by_model[model][by_model[model]["cutoff"] != cutoff], hier)}
        actual = hist_all[:, end:end + len(fdates)]
        scales = np.array([naive_scale(hist[j], m) for j in range(hier.n_nodes)])
        outs = {"base": (base, lo, hi)}
        for lab in labels:
            resid = resid_of.get(lab, resid_bt)
            mean, b = run_ours(lab, hier, base, hist, resid)
            lo_r, hi_r = reconcile_intervals(hier, b, base, lo, hi)
            outs[lab] = (mean, lo_r, hi_r)
            ref = run_theirs(lab, hier, base, hist, resid)
            if lab == "mint_shrink":
                outs["theirs_mint_shrink"] = (ref, lo_r, hi_r)
            diff = np.abs(mean - ref) / np.maximum(np.abs(ref), 1.0)
            max_diff[lab] = max(max_diff[lab], float(diff.max()))
        for lab, (mean, lo_r, hi_r) in outs.items():
            for j, u in enumerate(hier.node_ids):
                windows_of[lab][u].append({"actual": actual[j], "forecast": mean[j], "lo_80": lo_r[j],
                                           "hi_80": hi_r[j], "scale": scales[j, 0], "scale_sq": scales[j, 1]})
    per_level = {}
    for lab, by_node in windows_of.items():
        rows = [{"node": u, **pooled_metrics(w, [80])} for u, w in by_node.items()]
        f = pd.DataFrame(rows)
        f["level"] = hier.nodes["level"].to_numpy()
        per_level[lab] = {lv: {"mase": float(g["mase"].mean()), "coverage_80": float(g["coverage_80"].mean())}
                          for lv, g in f.groupby("level", sort=False)}
    level_names = hier.level_names
    # bias of the base forecasts: per node, mean error / root mean squared error over every window; mean per level
    bias = {}
    for lv in level_names:
        vals = []
        for u in np.asarray(hier.node_ids)[hier.nodes["level"].to_numpy() == lv]:
            e = np.concatenate([w["actual"] - w["forecast"] for w in windows_of["base"][u]])
            e = e[np.isfinite(e)]
            if e.size and np.any(e != 0):
                vals.append(float(e.mean() / np.sqrt((e ** 2).mean())))
        bias[lv] = float(np.mean(vals)) if vals else float("nan")
    avg = {lab: float(np.mean([per_level[lab][lv]["mase"] for lv in level_names])) for lab in per_level}
    # the library's own table (every method on the same base forecasts, as the CLI and the Models page show it)
    lib = pd.DataFrame(res.info["methods_by_level"])
    lib = lib[lib["level"].isin(level_names)]
    lib_diff = max(abs(r.mase - per_level[LIBRARY_NAME[r.method]][r.level]["mase"]) for r in lib.itertuples())
    return {"dataset": name, "n_bottom": hier.n_bottom, "n_nodes": hier.n_nodes, "levels": level_names,
            "model": model, "horizon": horizon, "windows": windows, "season_length": m,
            "season_length_source": "set (the generator's)" if season_length else "detected",
            "windows_with_in_sample_residuals": n_in_sample, "shrinkage_intensity_by_window": lambdas,
            "error_vectors_by_window": [None if lam is None else int(n) for lam, n in zip(lambdas, n_rows)],
            "fitted_errors_rows_and_intensity_by_window": lambdas_fitted,
            "fitted_errors_s": round(fitted_s, 1),
            "base_bias_by_level": bias,
            "max_abs_mase_diff_vs_library_table": float(lib_diff),
            "base_backtest_s": round(base_s, 1), "max_rel_diff_vs_hierarchicalforecast": max_diff,
            "mase_by_level": {lab: {lv: per_level[lab][lv]["mase"] for lv in level_names} for lab in per_level},
            "coverage_80_by_level": {lab: {lv: per_level[lab][lv]["coverage_80"] for lv in level_names}
                                     for lab in per_level},
            "mase_mean_over_levels": avg}


# ---------------------------------------------------------------- 2: speed
def speed(stores: int, skus: int, h: int = 12, T: int = 60, repeats: int = 3) -> dict:
    rng = np.random.default_rng(1)
    keys = pd.DataFrame({"store": np.repeat([f"S{i:03d}" for i in range(stores)], skus),
                         "sku": np.tile([f"K{i:03d}" for i in range(skus)], stores)})
    keys.insert(0, "unique_id", keys["store"] + " / " + keys["sku"])
    t0 = time.perf_counter()
    hier = build_hierarchy(keys, ["store", "sku"])
    build_s = time.perf_counter() - t0
    hist = np.asarray(hier.S @ rng.gamma(2, 10, (hier.n_bottom, T)))
    base = np.asarray(hier.S @ rng.gamma(2, 10, (hier.n_bottom, h))) * rng.normal(1, 0.1, (hier.n_nodes, h))
    resid = seasonal_naive_residuals(hist, 12)
    out = {"n_bottom": hier.n_bottom, "n_nodes": hier.n_nodes, "levels": hier.level_names, "horizon": h,
           "build_hierarchy_s": round(build_s, 3), "methods": {}}
    for lab in OURS:
        if lab in DIAGNOSTIC:
            continue                 # the same computation as mint_shrink, other residuals
        ours_t = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            mean, _ = run_ours(lab, hier, base, hist, resid)
            ours_t.append(time.perf_counter() - t0)
        rec = {"salescast_s": min(ours_t)}
        for variant, sparse in (("hierarchicalforecast_dense", False), ("hierarchicalforecast_sparse", True)):
            if sparse and lab in ("mint_shrink",):
                continue             # no sparse class for it
            if not sparse and lab in ("top_down_fp", "middle_out"):
                continue             # the dense classes loop over nodes in Python: minutes at this size
            try:
                their_t = []
                for _ in range(repeats):   # timed like ours: best of `repeats` calls
                    t0 = time.perf_counter()
                    ref = run_theirs(lab, hier, base, hist, resid, sparse=sparse)
                    their_t.append(time.perf_counter() - t0)
                    if their_t[-1] > 30:   # minutes-long dense classes: one call says enough
                        break
                rec[variant + "_s"] = min(their_t)
                rec[variant + "_max_rel_diff"] = float(
                    (np.abs(mean - ref) / np.maximum(np.abs(ref), 1.0)).max())
            except Exception as exc:  # noqa: BLE001 - report, keep measuring the rest
                rec[variant + "_error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
        peers = [v for k, v in rec.items() if k.startswith("hierarchicalforecast") and k.endswith("_s")]
        if peers:
            rec["ratio_to_fastest_peer"] = rec["salescast_s"] / min(peers)
            rec["target_met"] = rec["ratio_to_fastest_peer"] <= 0.5
        out["methods"][lab] = rec
        print(f"  speed {lab}: {rec}", file=sys.stderr)
    return out


def markdown(doc: dict) -> str:
    lines = ["# Hierarchical reconciliation vs hierarchicalforecast", "",
             f"Run {doc['run']['date']} on {doc['run']['machine']}; hierarchicalforecast "
             f"{doc['run']['versions']['hierarchicalforecast']}. Command: `python benchmarks/bench_hierarchy.py"
             + ("" if set(doc["run"].get("parts", [])) != {"accuracy"} else " --parts accuracy") + "`.", ""]
    lines += ["## Speed: 10,000 bottom series, 3 levels, 12 steps (seconds)", "",
              "| method | SalesCast | theirs dense | theirs sparse | ratio to their fastest | target <= 0.5 |",
              "|---|---|---|---|---|---|"]
    if doc["run"].get("speed_from"):
        lines[-2:-2] = [f"This run (`--parts accuracy`) measured accuracy only; the timings below come from the run of "
                        f"{doc['run']['speed_from']} (the reconciliation code they time is unchanged).", ""]
    if doc["run"].get("accuracy_from"):
        lines[-2:-2] = [f"This run (`--parts speed`) timed the methods only; the accuracy sections below come from the "
                        f"run of {doc['run']['accuracy_from']} (same code for everything they measure).", ""]
    if "load_average_start_end" in doc["speed"]:
        a, b = doc["speed"]["load_average_start_end"]
        lines[-2:-2] = [f"Both libraries timed alike: best of 3 calls each, one after the other, on the same inputs; load "
                        f"average {a[0]:.2f} at the start of the timings, {b[0]:.2f} at their end.", ""]
    for lab, r in doc["speed"]["methods"].items():
        fmt = lambda k: f"{r[k]:.3f}" if k in r else ("error" if k[:-2] + "_error" in r else "-")  # noqa: E731
        ratio = f"{r['ratio_to_fastest_peer']:.3f}" if "ratio_to_fastest_peer" in r else "-"
        lines.append(f"| {lab} | {r['salescast_s']:.3f} | {fmt('hierarchicalforecast_dense_s')} | "
                     f"{fmt('hierarchicalforecast_sparse_s')} | {ratio} | "
                     f"{'-' if 'target_met' not in r else 'met' if r['target_met'] else 'MISSED'} |")
    lines += ["", "Their dense `TopDown(forecast_proportions)` and `MiddleOut` loop over nodes in Python (minutes at "
                  "this size) and were not timed; their `MiddleOutSparse` raised the error recorded in the JSON."]
    for acc in doc["accuracy"]:
        lv = acc["levels"]
        lines += ["", f"## {acc['dataset']}: {acc['n_bottom']} bottom series, {acc['n_nodes']} nodes, "
                      f"{acc['model']} base, {acc['windows']} windows of {acc['horizon']}", "",
                  "Max relative difference from hierarchicalforecast (target <= 1e-6): " +
                  ", ".join(f"{k} {v:.1e}" for k, v in acc["max_rel_diff_vs_hierarchicalforecast"].items()), "",
                  f"Season length {acc['season_length']} ({acc.get('season_length_source', 'detected')}); "
                  f"{acc.get('windows_with_in_sample_residuals', 0)} of {acc['windows']} windows had too few earlier "
                  "errors and took in-sample residuals; the library's per-level table (`methods_by_level`) agrees "
                  f"with these MASEs within {acc.get('max_abs_mase_diff_vs_library_table', float('nan')):.1e} (the "
                  "library, like a run on non-negative data, sets reconciled bottom forecasts below zero to zero; "
                  "the columns here are the plain reconciliations compared with hierarchicalforecast).", "",
                  f"mint_shrink's covariance per window: shrinkage intensity {acc['shrinkage_intensity_by_window']} "
                  f"from {acc['error_vectors_by_window']} error vectors (step-scaled) of {acc['n_nodes']} nodes "
                  "(None: the in-sample fallback). Bias of the base forecasts (mean error / root mean squared error, "
                  "mean over the level's series; positive: forecasts too low): " +
                  ", ".join(f"{k} {v:+.2f}" for k, v in acc["base_bias_by_level"].items()) + ". Diagnostic rows: "
                  "`mint_shrink_unscaled` takes the earlier errors without the per-step scaling (the library before "
                  "it), `mint_shrink_other_windows` the errors of every other window, later ones included (look-ahead, "
                  "not a forecast: what more error vectors of the same model could give). `mint_shrink_fitted` and "
                  "`mint_wls_var_fitted` are the option `residuals=\"fitted\"`: the base model's in-sample one-step "
                  "errors, the model refit on every node's history up to each cutoff (rows and shrinkage intensity "
                  f"per window {acc.get('fitted_errors_rows_and_intensity_by_window')}; the refits took "
                  f"{acc.get('fitted_errors_s')} s).", "",
                  "| MASE | " + " | ".join(lv) + " | mean over levels |", "|---" * (len(lv) + 2) + "|"]
        for lab, by in acc["mase_by_level"].items():
            lines.append(f"| {lab} | " + " | ".join(f"{by[x]:.3f}" for x in lv) +
                         f" | {acc['mase_mean_over_levels'][lab]:.3f} |")
        lines += ["", "| coverage of the 80% interval | " + " | ".join(lv) + " |", "|---" * (len(lv) + 1) + "|"]
        for lab in ("base", "bottom_up", "mint_shrink"):
            by = acc["coverage_80_by_level"][lab]
            lines.append(f"| {lab} | " + " | ".join(f"{by[x]:.2f}" for x in lv) + " |")
    lines += ["", "## Targets", ""] + [f"- {t}" for t in doc["targets"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller data (for a smoke run; results not committed)")
    ap.add_argument("--out", default=str(OUT / "hierarchy"), help="output path without suffix")
    ap.add_argument("--parts", default="accuracy,speed",
                    help="accuracy,speed (default both); 'speed' alone reruns the timings and keeps the accuracy "
                         "sections of the committed results, saying which run they come from")
    args = ap.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - {"accuracy", "speed"}:
        ap.error("--parts takes accuracy, speed or both")
    import hierarchicalforecast
    import scipy

    acc, kept_from = [], None
    if "accuracy" in parts:
        print("accuracy: sample data", file=sys.stderr)
        acc.append(accuracy_and_equality("sample data (3 stores x 4 products, daily)", sample_data(), 14,
                                         2 if args.quick else 6, None, "ets"))
        stores, skus, periods = (6, 8, 60) if args.quick else (20, 25, 96)
        print("accuracy: generated store x SKU", file=sys.stderr)
        acc.append(accuracy_and_equality(f"generated store x SKU ({stores} x {skus}, monthly, shared shocks)",
                                         generated(stores, skus, periods), 6, 2 if args.quick else 6, None, "ets",
                                         season_length=12))
    else:
        prev = json.loads(Path(args.out + ".json").read_text())
        acc, kept_from = prev["accuracy"], prev["run"].get("accuracy_from") or prev["run"]["date"]
    sp_, speed_from = {}, None
    if "speed" in parts:
        print("speed", file=sys.stderr)
        load_start = os.getloadavg()
        sp_ = speed(10 if args.quick else 100, 100)
        sp_["load_average_start_end"] = [list(load_start), list(os.getloadavg())]
    else:
        prev = json.loads(Path(args.out + ".json").read_text())
        sp_, speed_from = prev["speed"], prev["run"].get("speed_from") or prev["run"]["date"]
    targets = []
    for a in acc:
        d = a["max_rel_diff_vs_hierarchicalforecast"]
        worst = max(d, key=d.get)
        targets.append(f"{a['dataset']}: equal to hierarchicalforecast within 1e-6: "
                       f"{'met' if d[worst] <= 1e-6 else 'MISSED'} (worst {worst} {d[worst]:.1e})")
        b, s = a["mase_mean_over_levels"]["base"], a["mase_mean_over_levels"]["mint_shrink"]
        targets.append(f"{a['dataset']}: mint_shrink better than base averaged over levels: "
                       f"{'met' if s < b else 'MISSED'} ({s:.3f} vs {b:.3f})")
        th = a["mase_mean_over_levels"]["theirs_mint_shrink"]
        targets.append(f"{a['dataset']}: mint_shrink MASE averaged over levels / hierarchicalforecast MinTrace"
                       f"(mint_shrink) on the same base forecasts and residuals = {s / th:.4f} ({s:.3f} vs {th:.3f})")
        top = a["levels"][0]
        st, bu = a["mase_by_level"]["mint_shrink"][top], a["mase_by_level"]["bottom_up"][top]
        targets.append(f"{a['dataset']}: mint_shrink no worse than bottom_up at the top: "
                       f"{'met' if st <= bu else 'MISSED'} ({st:.3f} vs {bu:.3f})")
        if "mint_shrink_fitted" in a["mase_mean_over_levels"]:
            f, ft = a["mase_mean_over_levels"]["mint_shrink_fitted"], a["mase_by_level"]["mint_shrink_fitted"][top]
            targets.append(f"{a['dataset']}: with residuals=fitted, mint_shrink better than base averaged over "
                           f"levels: {'met' if f < b else 'MISSED'} ({f:.3f} vs {b:.3f}); no worse than bottom_up "
                           f"at the top: {'met' if ft <= bu else 'MISSED'} ({ft:.3f} vs {bu:.3f})")
    for lab, r in sp_["methods"].items():
        if "ratio_to_fastest_peer" in r:
            targets.append(f"speed {lab}: SalesCast / fastest hierarchicalforecast = {r['ratio_to_fastest_peer']:.3f} "
                           f"({'met' if r['target_met'] else 'MISSED'}, target <= 0.5)")
    doc = {"run": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick,
                   "machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 BLAS thread",
                   "versions": {"python": platform.python_version(), "numpy": np.__version__,
                                "pandas": pd.__version__, "scipy": scipy.__version__,
                                "hierarchicalforecast": hierarchicalforecast.__version__},
                   "parts": sorted(parts), "accuracy_from": kept_from, "speed_from": speed_from},
           "accuracy": acc, "speed": sp_, "targets": targets}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(doc, indent=1))
    Path(args.out + ".md").write_text(markdown(doc))
    print("\n".join(targets))


if __name__ == "__main__":
    main()
