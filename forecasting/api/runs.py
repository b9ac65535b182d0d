"""``/v1/runs``: the runs recorded in the workspace (``serve --workspace DIR``, else ``SALESCAST_WORKSPACE``),
as ``python -m forecasting runs list|show|export`` shows them. Reads only; the store's own calls run in a
thread so a slow disk never holds the event loop."""
from __future__ import annotations

import os
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.exceptions import HTTPException

from forecasting.api.settings import ApiSettings


def _workspace(s: ApiSettings):
    from forecasting.store import StoreError, open_workspace

    folder = s.workspace or os.environ.get("SALESCAST_WORKSPACE")
    if not folder:
        raise HTTPException(404, "no workspace: start the service with --workspace DIR (or set SALESCAST_WORKSPACE)")
    try:
        return open_workspace(folder, create=False)
    except StoreError as exc:
        raise HTTPException(404, str(exc)) from None


def _run(ws, run_id: str):
    from forecasting.store import UnknownRun

    try:
        return ws.get_run(run_id)
    except UnknownRun as exc:
        raise HTTPException(404, str(exc)) from None


def _series_lists(frame, keys: list[str], values: list[str]) -> list[dict[str, Any]]:
    """Long rows -> one item per ``keys`` group with lists (the shape of /v1/forecast's ``forecasts``)."""
    from forecasting.api.work import _floats, _stamps
    from forecasting.data.contract import DS, ID

    out = []
    for key, g in frame.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        item: dict[str, Any] = {}
        for k, v in zip(keys, key):
            item["id" if k == ID else k] = _stamps([v])[0] if k == "cutoff" else str(v)
        item["timestamps"] = _stamps(g[DS].to_numpy())
        for c in values:
            item["mean" if c == "forecast" else c] = _floats(g[c].to_numpy())
        out.append(item)
    return out


def add_routes(app: FastAPI, s: ApiSettings, responses: dict) -> None:
    @app.get("/v1/runs", summary="the runs recorded in the workspace (as `runs list --json`)", responses=responses)
    async def list_runs(kind: str | None = None) -> dict[str, Any]:
        def work():
            ws = _workspace(s)
            return {"runs": [r.to_json() for r in ws.list_runs(kind)]}

        return await anyio.to_thread.run_sync(work)

    @app.get("/v1/runs/{run_id}", summary="one run: settings, status, timings, versions (as `runs show --json`)",
             responses=responses)
    async def show_run(run_id: str) -> dict[str, Any]:
        def work():
            ws = _workspace(s)
            rec = _run(ws, run_id)
            from forecasting.store.models import kept_models

            kept = {name: doc.get("kind") for name, doc in kept_models(ws, rec.id).items()}
            return {**rec.to_json(), "config": rec.config, "timings": rec.timings, "versions": rec.versions,
                    "fallbacks": int(len(ws.fallbacks(rec.id))), "notes": rec.info.get("notes", []),
                    "kept_models": kept}

        from fastapi.encoders import jsonable_encoder

        return jsonable_encoder(await anyio.to_thread.run_sync(work))

    @app.get("/v1/runs/{run_id}/forecasts", responses=responses,
             summary="a run's forecasts: per series and model (a backtest: also per cutoff, with the actuals)")
    async def run_forecasts(run_id: str) -> dict[str, Any]:
        def work():
            from forecasting.data.contract import ID

            ws = _workspace(s)
            rec = _run(ws, run_id)
            frame = ws.run_forecasts(rec.id)
            if frame is None:
                raise HTTPException(409, f"run {rec.id} is {rec.status} with {rec.series_done}/{rec.n_series} "
                                         "series and no results yet")
            bounds = [c for c in frame.columns if c.startswith(("lo_", "hi_"))]
            if rec.kind == "backtest":
                items = _series_lists(frame, [ID, "model", "cutoff"], ["actual", "forecast", *bounds])
            else:     # "mean" is the statistical forecast; "override" and "final" the planners' changes
                from forecasting.store.overrides import final_forecasts

                frame = final_forecasts(ws, rec.id, frame)
                items = _series_lists(frame, [ID, "model"], ["forecast", *bounds, "override", "final"])
            return {"id": rec.id, "kind": rec.kind, "status": rec.status, "forecasts": items}

        return await anyio.to_thread.run_sync(work)


def forecast_target(s: ApiSettings, run_id: str, model: str | None, levels: list[int] | None) -> dict[str, Any]:
    """What ``POST /v1/runs/{id}/forecast`` forecasts with (checked before any work): 404 for no workspace or
    run, 409 for a run that is not a finished forecast or kept no usable model, 422 for a model not in the run."""
    from forecasting.api.work import RequestError
    from forecasting.models.registry import get_spec
    from forecasting.store.models import kept_models

    ws = _workspace(s)
    rec = _run(ws, run_id)
    if rec.kind != "forecast":
        raise HTTPException(409, f"run {rec.id} is a {rec.kind}; only forecast runs keep their fitted models")
    if rec.status != "finished":
        raise HTTPException(409, f"run {rec.id} is {rec.status} ({rec.series_done}/{rec.n_series} series); "
                                 "only a finished run's models are kept")
    name = model or (rec.models[0] if rec.models else None)
    if name not in rec.models:
        raise RequestError(f"'{name}' is not a model of run {rec.id} ({', '.join(rec.models)})", "model")
    kept = kept_models(ws, rec.id).get(name)
    if get_spec(name).capabilities.global_model and kept is None:
        raise HTTPException(409, f"run {rec.id} kept no {name} model (it was made before runs kept their "
                                 "networks); run the forecast again to keep one")
    if kept is not None and kept.get("kind") == "not kept":
        raise HTTPException(409, f"run {rec.id} did not keep its {name} model: {kept.get('why')}")
    run_levels = (rec.info.get("config") or {}).get("levels") or rec.config.get("levels") or [80, 95]
    out = {"workspace": str(ws.path), "run_id": rec.id, "model": name,
           "levels": list(levels) if levels else [int(l) for l in run_levels]}
    from forecasting.store.execute import hierarchy_of

    hcfg = hierarchy_of(rec.config)
    if hcfg is not None:     # every node of a hierarchy: the series need their keys (the run's id columns)
        out.update(reconcile=hcfg.reconcile, hierarchy=hcfg.levels)
    return out
