"""Running the local (per-series) models of a backtest or a forecast over partitions of series.

One place for what backtest and forecast share: cutting the series into partitions, sending them to the
chosen engine, relaying progress in series done, and keeping the finished partitions when the analyst
stops the run (the engines raise :class:`Cancelled` with ``.partial``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from forecasting.engines import map_partitions
from forecasting.engines.partition import default_workers, n_partitions, split_evenly
from forecasting.progress import Cancelled, ProgressCallback, ResultSink


def partition_payloads(payloads: list[dict], engine: str, n_workers: int | None) -> list[list[dict]]:
    """One series per partition on the serial engine (finest stopping); else a few partitions per worker,
    balanced by rows (see :mod:`forecasting.engines.partition`)."""
    if engine == "serial":
        return [[p] for p in payloads]
    sizes = [int(p["y"].size) for p in payloads]
    k = n_partitions(len(payloads), default_workers(engine, n_workers), n_rows=sum(sizes))
    return split_evenly(payloads, k, weights=sizes)


def run_local_models(partition_fn: Callable[[dict], dict], payloads: list[dict], models: list[str],
                     settings: dict[str, Any], *, engine: str, address: str | None, n_workers: int | None,
                     progress: ProgressCallback | None, stage: str,
                     sink: ResultSink | None = None) -> tuple[list[dict], bool]:
    """Run ``partition_fn`` on tasks of many series; return (results in series order, cancelled?).
    ``sink`` gets each partition's result as it finishes (``sink("local", series ids, result)``)."""
    parts = partition_payloads(payloads, engine, n_workers)
    # a network's progress callback belongs to this process (and cannot be pickled): workers never need it
    params = {m: {k: v for k, v in (p or {}).items() if k != "progress"}
              for m, p in (settings.get("params") or {}).items()}
    settings = {**settings, "params": params} if "params" in settings else settings
    tasks = [{"series": p, "models": models, "settings": settings} for p in parts]
    on_result = None if sink is None else (lambda i, res: sink("local", [p["uid"] for p in parts[i]], res))
    try:
        results = map_partitions(partition_fn, tasks, engine=engine, address=address, n_workers=n_workers,
                                 progress=progress, stage=stage, units=[len(p) for p in parts],
                                 on_result=on_result)
        return results, False
    except Cancelled as exc:
        partial = getattr(exc, "partial", None) or []
        return [r for r in partial if r is not None], True


SPREAD_MIN_SERIES = 2000   # below this, one batched pass in this process beats shipping the network


def predict_global(model, h: int, futr_df, levels, *, engine: str, address: str | None,
                   n_workers: int | None, min_series: int = SPREAD_MIN_SERIES):
    """A trained global network's forecasts for all its series (the model's prediction frame).

    The network trains in one process (this one, on its GPU when there is one); on the ``local`` and
    ``dask`` engines with at least ``min_series`` series, its per-series inference is spread: a CPU copy
    of the network goes once to every worker (``shared``) and each worker predicts a partition of the
    series. Otherwise one batched forward pass here is faster than shipping the network."""
    import pandas as pd

    from forecasting.data.contract import ID

    if not hasattr(model, "for_workers"):         # a global model that cannot be shipped: predict here
        return model.predict(h, futr_df, levels)
    model.train_for(h)
    ids = model.series_ids()
    if engine == "serial" or len(ids) < max(1, min_series) or getattr(model, "local_", None) is not None:
        return model.predict(h, futr_df, levels)
    parts = split_evenly(ids, n_partitions(len(ids), default_workers(engine, n_workers)))
    by_id = {} if futr_df is None else {u: g for u, g in futr_df.groupby(futr_df[ID].astype(str), sort=False)}
    tasks = []
    for p in parts:
        fut = None if futr_df is None else pd.concat([by_id[u] for u in p if u in by_id] or [futr_df.iloc[:0]],
                                                      ignore_index=True)
        tasks.append({"ids": p, "futr": fut, "h": int(h), "levels": list(levels)})
    outs = map_partitions(_predict_part, tasks, engine=engine, address=address, n_workers=n_workers,
                          shared=model.for_workers(), stage="forecast", units=[len(p) for p in parts])
    return pd.concat(outs, ignore_index=True)


def _predict_part(task: dict, model):
    return model.predict(task["h"], task["futr"], task["levels"], ids=task["ids"])


@dataclass
class RunPlan:
    """What a backtest and a forecast work out before fitting anything."""
    season_length: int
    season_why: str             # "set by the user", or how the default was found
    levels: list[int]
    payloads: list[dict]        # one per series: uid, ds, y, X (see backtest.series_payloads)
    covariates: list[str]
    local: list[str]            # per-series models, run on the engine
    global_: list[str]          # networks, trained once on all series


def plan_run(dataset, models: Sequence[str], season_length: int | None, levels: Sequence[int]) -> RunPlan:
    from forecasting.data.contract import DS, ID, Y
    from forecasting.evaluation.backtest import series_payloads
    from forecasting.models.registry import get_spec
    from forecasting.seasonality_defaults import dataset_season_length

    m, why = (int(season_length), "set by the user") if season_length else dataset_season_length(dataset)
    covs = [c for c in dataset.covariates if c in dataset.df.columns] or \
           [c for c in dataset.df.columns if c not in (ID, DS, Y)]
    is_global = {n: get_spec(n).capabilities.global_model for n in models}
    return RunPlan(m, why, [int(l) for l in levels], series_payloads(dataset), covs,
                   [n for n in models if not is_global[n]], [n for n in models if is_global[n]])


def run_device(results: list[dict]) -> str:
    """Where the run computed, for its ``info``: ``cpu``, or the networks' devices beside it
    (``cpu; lstm: cuda:0 (NVIDIA H100 …)``). Each global model's result carries ``devices``
    (model -> device per fit); local models always run on the CPU."""
    used: dict[str, list[str]] = {}
    for res in results:
        for name, devs in (res.get("devices") or {}).items():
            for d in devs:
                if d and d not in used.setdefault(name, []):
                    used[name].append(d)
    off_cpu = {n: ds for n, ds in used.items() if ds != ["cpu"]}
    return "; ".join(["cpu"] + [f"{n}: {', '.join(ds)}" for n, ds in off_cpu.items()])
