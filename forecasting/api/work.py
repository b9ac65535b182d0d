"""What a worker process does with one request: JSON series -> the library's Dataset -> the same
``run_forecast`` / ``run_backtest`` the CLI calls -> a JSON body.

The series go through :func:`forecasting.data.ingest.build`, the CLI's ingest (frequency inference, snapping
to the period grid, aggregation to a coarser ``freq``), so a request and a file with the same data give the
same forecasts. What a request gets wrong raises :class:`RequestError` (status, message, field); the
library's own checks raise :class:`~forecasting.errors.SalesCastError`, answered as 422 too.
No FastAPI here: this module runs in the worker processes and is tested through the service.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.defaults import DEFAULT_MODEL
from forecasting.data.contract import DS, ID, Y
from forecasting.errors import SalesCastError
from forecasting.hierarchy.structure import LEVEL
from forecasting.models.base import bound_column
from forecasting.progress import ProgressCallback

RESERVED = {"id", "date", "value", ID, DS, Y}


class RequestError(SalesCastError):
    """Bad input found while reading a request: answered with ``status`` and ``{"error", "detail"}``."""

    def __init__(self, message: str, field: str = "", status: int = 422):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message

    def body(self) -> dict[str, Any]:
        detail = [{"field": self.field, "message": self.message}] if self.field else []
        return {"error": f"{self.field}: {self.message}" if self.field else self.message, "detail": detail}

    def __reduce__(self):  # keep the fields when pickled between processes
        return (RequestError, (self.message, self.field, self.status))


# ----------------------------------------------------------------------------------------------------
# request -> Dataset


def _parse_timestamps(series: list[dict]) -> np.ndarray:
    """All series' timestamps parsed at once (ISO 8601); a bad one is reported with its field."""
    texts = [t for s in series for t in s["timestamps"]]
    raw = pd.Series(texts, dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # pandas warns about mixed UTC offsets: handled below
            parsed = pd.to_datetime(raw, format="ISO8601")
        if parsed.dtype == object:            # mixed UTC offsets: compare them in UTC
            raise ValueError("mixed time zones")
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        k, j = _locate(series, i)
        raise RequestError(f"'{texts[i]}' is not an ISO 8601 date or time (e.g. 2024-01-31 or 2024-01-31T09:00)",
                           f"series[{k}].timestamps[{j}]")
    if getattr(parsed.dt, "tz", None) is not None:
        local = parsed.dt.tz_localize(None)
        # whole local days keep their day (as a file's dates do); times with offsets are compared in UTC
        parsed = local if (local == local.dt.normalize()).all() else parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


def _locate(series: list[dict], flat: int) -> tuple[int, int]:
    for k, s in enumerate(series):
        n = len(s["timestamps"])
        if flat < n:
            return k, flat
        flat -= n
    return len(series) - 1, 0


def check_shapes(body: dict[str, Any]) -> None:
    """Cheap checks on the parsed body (lengths, ids, covariate names): run before any work."""
    series, h = body["series"], body["horizon"]
    seen: dict[str, int] = {}
    names = None
    for k, s in enumerate(series):
        sid = str(s["id"])
        if sid in seen:
            raise RequestError(f"id '{sid}' is used twice (also series[{seen[sid]}]); ids must be unique",
                               f"series[{k}].id")
        seen[sid] = k
        n = len(s["timestamps"])
        if n == 0:
            raise RequestError("a series needs at least one timestamp", f"series[{k}].timestamps")
        if len(s["values"]) != n:
            raise RequestError(f"has {len(s['values'])} value(s) for {n} timestamp(s); they must be equally long",
                               f"series[{k}].values")
        if all(v is None for v in s["values"]):
            raise RequestError("has no values (all null)", f"series[{k}].values")
        covs = s.get("covariates") or {}
        for c, vals in covs.items():
            if c in RESERVED:
                raise RequestError(f"'{c}' is reserved; rename the covariate", f"series[{k}].covariates.{c}")
            if len(vals) != n:
                raise RequestError(f"has {len(vals)} value(s) for {n} timestamp(s)", f"series[{k}].covariates.{c}")
        if names is None:
            names = list(covs)
        elif sorted(covs) != sorted(names):
            raise RequestError(f"covariates {sorted(covs)} differ from series[0]'s {sorted(names)}; "
                               "every series needs the same covariates", f"series[{k}].covariates")
        fut = s.get("future_covariates") or {}
        for c, vals in fut.items():
            if c not in covs:
                raise RequestError(f"'{c}' is not among this series' covariates ({', '.join(covs) or 'none'})",
                                   f"series[{k}].future_covariates.{c}")
            if len(vals) != h:
                raise RequestError(f"has {len(vals)} value(s); it needs one per forecast period (horizon {h})",
                                   f"series[{k}].future_covariates.{c}")
        if fut and sorted(fut) != sorted(covs):
            missing = [c for c in covs if c not in fut]
            raise RequestError(f"lacks {missing}: give the future of every covariate, or of none",
                               f"series[{k}].future_covariates")
    if hierarchical(body):
        check_hierarchy(body, names or [])


def hierarchical(body: dict[str, Any]) -> bool:
    """Does the request ask for every node of a hierarchy (``reconcile`` other than none, or ``hierarchy``)?"""
    return (body.get("reconcile") or "none") != "none" or body.get("hierarchy") is not None


def check_hierarchy(body: dict[str, Any], covariates: list[str]) -> None:
    """Every series has ``keys`` with the same names, distinct per series; levels name only those keys."""
    series = body["series"]
    names = list(series[0].get("keys") or {})
    if not names:
        raise RequestError("reconcile and hierarchy need the series' keys (e.g. {\"store\": \"North\", \"sku\": "
                           "\"A1\"}): the id columns the levels add up over", "series[0].keys")
    seen: dict[tuple, int] = {}
    for k, s in enumerate(series):
        keys = s.get("keys") or {}
        if sorted(keys) != sorted(names):
            raise RequestError(f"keys {sorted(keys)} differ from series[0]'s {sorted(names)}; every series needs "
                               "the same keys", f"series[{k}].keys")
        combo = tuple(keys[c] for c in names)
        if combo in seen:
            raise RequestError(f"the same keys as series[{seen[combo]}]; each series needs its own place in the "
                               "hierarchy", f"series[{k}].keys")
        seen[combo] = k
    for c in names:
        if c in RESERVED or c in covariates or c == LEVEL:
            raise RequestError(f"'{c}' is reserved or a covariate's name; rename the key", "series[0].keys")
    for i, lv in enumerate(body.get("hierarchy") or []):
        unknown = [c for c in lv if c not in names]
        if unknown:
            raise RequestError(f"{unknown} are not keys of the series (their keys: {', '.join(names)})",
                               f"hierarchy[{i}]")
    unknown = [c for c in body.get("middle_level") or [] if c not in names]
    if unknown:
        raise RequestError(f"{unknown} are not keys of the series (their keys: {', '.join(names)})", "middle_level")
    if any(s.get("future_covariates") for s in series):
        raise RequestError("future covariates are not available with reconcile or hierarchy (the aggregated "
                           "series have none); leave them out", "reconcile")


def build_dataset(body: dict[str, Any], progress: ProgressCallback | None = None):
    """The request's series as the library's :class:`~forecasting.data.contract.Dataset` (CLI ingest)."""
    from forecasting.data.ingest import build
    from forecasting.data.sniff import RawTable

    check_shapes(body)
    series = body["series"]
    ds = _parse_timestamps(series)
    lengths = np.array([len(s["timestamps"]) for s in series])
    codes = np.repeat(np.arange(len(series)), lengths)
    dup = pd.DataFrame({"c": codes, "d": ds}).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        k, j = _locate(series, i)
        raise RequestError(f"'{series[k]['timestamps'][j]}' appears twice in this series",
                           f"series[{k}].timestamps[{j}]")
    if hierarchical(body):       # the keys are the id columns the hierarchy adds up over
        names = list(series[0]["keys"])
        frame = {c: np.array([str(s["keys"][c]) for s in series], dtype=object)[codes] for c in names}
        id_cols = names
    else:
        frame = {"id": np.array([str(s["id"]) for s in series], dtype=object)[codes]}
        id_cols = ["id"]
    frame.update({"date": ds, "value": np.array([np.nan if v is None else v for s in series for v in s["values"]],
                                                dtype="float64")})
    covs = list(series[0].get("covariates") or {})
    for c in covs:
        frame[c] = np.array([np.nan if v is None else v for s in series for v in s["covariates"][c]], dtype="float64")
    raw = RawTable(pd.DataFrame(frame), source="the request", kind="json")
    rep = build(raw, date_col="date", target_col="value", id_cols=id_cols, freq=body.get("freq"), progress=progress)
    dataset = rep.dataset
    lost = [c for c in covs if c not in dataset.covariates]
    if lost:
        raise RequestError(f"covariate(s) {lost} could not be used (their name reads as an id column); rename them",
                           "series[0].covariates")
    return dataset


def _future_covariates(body: dict[str, Any], dataset) -> pd.DataFrame | None:
    from forecasting.pipeline.plan import future_dates

    with_future = [s for s in body["series"] if s.get("future_covariates")]
    if not with_future:
        return None
    df = dataset.df
    last = df[df[Y].notna()].groupby(ID)[DS].max()
    h = int(body["horizon"])
    parts = []
    for s in with_future:
        uid = str(s["id"])
        part = {ID: uid, DS: future_dates(pd.Timestamp(last[uid]), dataset.freq, h)}
        for c, vals in s["future_covariates"].items():
            part[c] = np.array([np.nan if v is None else v for v in vals], dtype="float64")
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------------------------------
# settings shared by forecast and backtest


def model_settings(body: dict[str, Any], models: list[str]) -> dict[str, dict]:
    """``settings`` checked exactly as the CLI's ``--set`` (unknown names are errors); networks train on one
    thread (a worker is one core) and report epochs, so a cancelled request stops between epochs."""
    from forecasting.commands.backtest import parse_settings
    from forecasting.errors import ConfigError

    items = [f"{m}.{k}={json.dumps(v)}" for m, params in (body.get("settings") or {}).items()
             for k, v in params.items()]
    for m, params in (body.get("settings") or {}).items():
        if "progress" in params:
            raise RequestError("'progress' is not a model setting", f"settings.{m}.progress")
    try:
        return parse_settings(items, models)
    except ConfigError as exc:
        raise RequestError(str(exc).replace("--set: ", "").replace("--set ", ""), "settings") from None


def _with_progress(params: dict[str, dict], models: list[str], progress: ProgressCallback | None) -> dict:
    from forecasting.models.registry import get_model_class, get_spec

    out = {m: dict(p) for m, p in params.items()}
    for m in models:
        if not get_spec(m).capabilities.needs_torch:
            continue
        names = getattr(get_model_class(m), "setting_names", lambda: set())()
        if "progress" in names:
            out.setdefault(m, {})["progress"] = progress
        if "num_threads" in names:
            out.setdefault(m, {})["num_threads"] = 1
    return out


def _floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype="float64").tolist()]


def _stamps(values: np.ndarray) -> list[str]:
    idx = pd.DatetimeIndex(values)
    fmt = "%Y-%m-%d" if (idx == idx.normalize()).all() else "%Y-%m-%dT%H:%M:%S"
    return list(idx.strftime(fmt))


def _fallbacks(frame: pd.DataFrame, with_used: bool, nodes: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    fb = frame[frame["fallback"].fillna("") != ""]
    if fb.empty:
        return []
    out_id = {n["uid"]: n["id"] for n in nodes or []}
    return [{"id": out_id.get(str(r[ID]), str(r[ID])), "model": str(r["model"]),
             "model_used": str(r["model_used"]) if with_used else None, "reason": str(r["fallback"])}
            for _, r in fb.iterrows()]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts at full precision; NaN and infinities become null."""
    rows = frame.astype(object).to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else
                 v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in rows]


def _open_json(doc: dict[str, Any]) -> bytes:
    """``doc`` as a JSON object left open (no closing brace): the service appends ``elapsed_ms``, measured
    from the request's arrival, so encoding the body stays in the worker."""
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
    return text[:-1].encode()


# ----------------------------------------------------------------------------------------------------
# the two requests


def forecast_body(body: dict[str, Any], progress: ProgressCallback | None = None) -> bytes:
    from forecasting.pipeline import ForecastConfig, run_forecast

    model = body.get("model") or DEFAULT_MODEL
    params = model_settings(body, [model])
    dataset = build_dataset(body, progress)
    cfg = ForecastConfig(horizon=int(body["horizon"]), model=[model], levels=sorted(set(body["levels"])),
                         model_params=_with_progress(params, [model], progress),
                         season_length=body.get("season_length"), seed=int(body.get("seed", 0)),
                         non_negative=not body.get("allow_negative", False), engine="serial",
                         future_covariates=_future_covariates(body, dataset),
                         intervals=body.get("intervals", "conformal"))
    if hierarchical(body):
        from forecasting.hierarchy.run import hierarchical_forecast

        res, _, hier = hierarchical_forecast(dataset, cfg, hierarchy_config(body), progress=progress)
        return _forecast_doc(body, model, res, _nodes(body, hier))
    res = run_forecast(dataset, cfg, progress=progress)
    return _forecast_doc(body, model, res)


# ----------------------------------------------------------------------------------------------------
# hierarchies: every node, base or reconciled, as the CLI's --reconcile / --levels


def hierarchy_config(body: dict[str, Any]):
    from forecasting.hierarchy.run import HierarchyConfig
    from forecasting.hierarchy.structure import level_name

    keys = list(body["series"][0]["keys"])
    middle = body.get("middle_level")
    hcfg = HierarchyConfig(body.get("hierarchy"), body.get("reconcile") or "none",
                           top_down=body.get("proportions") or "forecast_proportions",
                           middle_level=None if middle is None else level_name([c for c in keys if c in middle]),
                           wls=body.get("wls") or "var")
    if hcfg.levels is not None:     # key names in the keys' order (as id columns are), whatever order they came in
        hcfg.levels = [[c for c in keys if c in lv] for lv in hcfg.levels]
    return hcfg


def _nodes(body: dict[str, Any], hier) -> list[dict[str, Any]]:
    """Every node in the answer's order (aggregates level by level, then the request's series in its order):
    ``uid`` (the library's), ``id`` (an aggregate's name, e.g. ``store=North``, or the series' own id),
    ``level`` and ``keys`` (None where the level sums over a key)."""
    names = list(body["series"][0]["keys"])
    nodes = hier.nodes
    own = {tuple(str(s["keys"][c]) for c in names): str(s["id"]) for s in body["series"]}
    out, bottom = [], {}
    for row in nodes.itertuples(index=False):
        d = row._asdict()
        keys = {c: (None if d[c] is None or (isinstance(d[c], float) and math.isnan(d[c])) else str(d[c]))
                for c in names}
        node = {"uid": str(d[ID]), "level": str(d[LEVEL]), "keys": keys}
        if node["level"] == hier.level_names[-1]:
            node["id"] = own[tuple(keys[c] for c in names)]
            bottom[node["id"]] = node
        else:
            node["id"] = node["uid"]
            out.append(node)
    clash = [n["id"] for n in out if n["id"] in bottom]
    if clash:
        k = next(i for i, s in enumerate(body["series"]) if str(s["id"]) == clash[0])
        raise RequestError(f"'{clash[0]}' is also the name of an aggregate of the hierarchy; rename the series",
                           f"series[{k}].id")
    return out + [bottom[str(s["id"])] for s in body["series"] if str(s["id"]) in bottom]


def _hierarchy_info(res) -> dict[str, Any]:
    h = res.info["hierarchy"]
    return {"levels": list(h["levels"]), "n_nodes": int(h["n_nodes"]), "reconcile": h["reconcile"]}


def _forecast_doc(body: dict[str, Any], model: str, res, nodes: list[dict[str, Any]] | None = None) -> bytes:
    levels = res.info["config"]["levels"]
    by_id = {uid: g for uid, g in res.forecasts.groupby(ID, sort=False)}
    if nodes is None:
        nodes = [{"uid": str(s["id"]), "id": str(s["id"])} for s in body["series"]]
    forecasts = []
    for node in nodes:
        g = by_id.get(node["uid"])
        if g is None:
            continue
        item = {"id": node["id"], "timestamps": _stamps(g[DS].to_numpy()), "mean": _floats(g["forecast"].to_numpy())}
        for lv in levels:
            item[bound_column("lo", lv)] = _floats(g[bound_column("lo", lv)].to_numpy())
            item[bound_column("hi", lv)] = _floats(g[bound_column("hi", lv)].to_numpy())
        if "level" in node:
            item["level"], item["keys"] = node["level"], node["keys"]
        forecasts.append(item)
    doc = {"model": model, "forecasts": forecasts, "fallbacks": _fallbacks(res.settings, True, nodes)}
    if "hierarchy" in res.info:
        doc["hierarchy"] = _hierarchy_info(res)
    return _open_json(doc)


def backtest_body(body: dict[str, Any], progress: ProgressCallback | None = None) -> bytes:
    from forecasting.pipeline import BacktestConfig, run_backtest

    models = list(dict.fromkeys(body.get("models") or [body.get("model") or DEFAULT_MODEL]))
    params = model_settings(body, models)
    dataset = build_dataset(body, progress)
    cfg = BacktestConfig(horizon=int(body["horizon"]), models=models, windows=int(body.get("windows", 3)),
                         step=body.get("step"), season_length=body.get("season_length"),
                         levels=sorted(set(body["levels"])), window_type=body.get("window_type", "expanding"),
                         model_params=_with_progress(params, models, progress), seed=int(body.get("seed", 0)),
                         non_negative=not body.get("allow_negative", False), engine="serial",
                         intervals=body.get("intervals", "conformal"))
    if hierarchical(body):
        from forecasting.hierarchy.run import hierarchical_backtest

        res, _, hier = hierarchical_backtest(dataset, cfg, hierarchy_config(body), progress=progress)
        nodes = _nodes(body, hier)
    else:
        res = run_backtest(dataset, cfg, progress=progress)
        nodes = [{"uid": str(s["id"]), "id": str(s["id"])} for s in body["series"]]
    order = {n["uid"]: k for k, n in enumerate(nodes)}
    metrics = res.metrics.copy()
    metrics["_order"] = metrics[ID].map(order)
    metrics = metrics.sort_values(["_order"], kind="stable").drop(columns="_order")
    fallbacks = _fallbacks(metrics.assign(model_used=""), False, nodes)
    records = _records(metrics.rename(columns={ID: "id"}))
    if "hierarchy" in res.info:
        by_uid = {n["uid"]: n for n in nodes}
        for r in records:
            node = by_uid[r["id"]]
            r["id"], r["level"], r["keys"] = node["id"], node["level"], node["keys"]
    summary = _records(res.summary) if len(res.summary) else []
    doc = {"models": models, "metrics": records, "summary": summary, "fallbacks": fallbacks}
    if "hierarchy" in res.info:
        doc["hierarchy"] = _hierarchy_info(res)
        doc["summary_by_level"] = _records(pd.DataFrame(res.info.get("summary_by_level") or []))
    return _open_json(doc)


def run_forecast_body(body: dict[str, Any], progress: ProgressCallback | None = None) -> bytes:
    """``POST /v1/runs/{id}/forecast``: the new series forecast by what forecast run ``run_id`` kept: its
    saved network (no training: the new history goes through the network as it is), the pretrained or
    fine-tuned weights, or a statistical model refit with the run's exact settings."""
    from forecasting.store import open_workspace
    from forecasting.store.models import forecast_with_kept, kept_models, network_meta

    ws = open_workspace(body["workspace"], create=False)
    rec = ws.get_run(body["run_id"])
    model = body["model"]
    kept = kept_models(ws, rec.id).get(model, {})
    if kept.get("kind") == "network":       # the library checks these too; here each error names its field
        meta = network_meta(ws, rec.id, model)
        trained = set(meta["series_ids"])
        for k, s in enumerate(body["series"]):
            if str(s["id"]) not in trained:
                raise RequestError(f"'{s['id']}' is not among the {len(trained)} series the run's {model} network "
                                   f"was trained on; it forecasts those series only (e.g. "
                                   f"{', '.join(sorted(trained)[:3])})", f"series[{k}].id")
        if int(body["horizon"]) > int(meta["horizon"]):
            raise RequestError(f"the run's {model} network was trained for {meta['horizon']} periods ahead; "
                               f"ask for at most {meta['horizon']} (or run a new forecast)", "horizon")
        if meta["cov_names"]:
            for k, s in enumerate(body["series"]):
                missing = [c for c in meta["cov_names"] if c not in (s.get("covariates") or {})]
                if missing:
                    raise RequestError(f"the run's {model} network uses covariates {meta['cov_names']}; "
                                       f"give {missing}", f"series[{k}].covariates")
    dataset = build_dataset(body, progress)
    if kept.get("kind") == "network":
        want = pd.tseries.frequencies.to_offset(meta["freq"])
        if pd.tseries.frequencies.to_offset(dataset.freq) != want:
            raise RequestError(f"the series are '{dataset.freq}' data; the run's {model} network was trained on "
                               f"'{meta['freq']}' data", "freq")
    res = forecast_with_kept(ws, rec.id, model, dataset, int(body["horizon"]), body["levels"],
                             _future_covariates(body, dataset), progress)
    if hierarchical(body):      # a run of every node: the answer covers every node, as /v1/forecast's does
        from forecasting.hierarchy.data import hierarchical_dataset
        from forecasting.store.execute import hierarchy_of

        hier = hierarchical_dataset(dataset, hierarchy_of(rec.config).levels)[1]
        return _forecast_doc(body, model, res, _nodes(body, hier))
    return _forecast_doc(body, model, res)


TASKS = {"forecast": forecast_body, "backtest": backtest_body, "run_forecast": run_forecast_body}


def run_task(kind: str, body: dict[str, Any], progress: ProgressCallback | None = None) -> tuple[str, Any]:
    """One request, with every outcome as a picklable tuple: ``("ok", bytes)``, ``("error", status, body)``
    or ``("cancelled", None)``."""
    import sys
    import traceback

    from forecasting.progress import Cancelled

    t0 = time.perf_counter()
    try:
        return "ok", TASKS[kind](body, progress)
    except RequestError as exc:
        return "error", exc.status, exc.body()
    except SalesCastError as exc:      # the library names the setting; here it is a field
        field = {"freq": "freq"}.get(exc.setting or "")
        return "error", 422, {"error": str(exc) + (f' with "{field}"' if field else ""), "detail": []}
    except Cancelled:
        return "cancelled", None
    except MemoryError:
        return "error", 413, {"error": "out of memory: the request is too large for this service; send fewer series",
                              "detail": []}
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input: logged with its traceback, answered 500
        traceback.print_exc(file=sys.stderr)
        return "error", 500, {"error": f"internal error ({type(exc).__name__}) after {time.perf_counter() - t0:.1f}s; "
                                       "see the service's log", "detail": []}
