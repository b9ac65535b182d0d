"""The FastAPI application: routes, authentication, the body limit and the error shape.

Every error is JSON ``{"error": "<one readable line>", "detail": [{"field": …, "message": …}]}``: 422 for a
body that is not JSON or has a wrong type (the field named, e.g. ``series[0].values[3]``) and for data the
library refuses (lengths, dates, horizon, model); 413 for a body over the size limit or a request over
the series/points limits; 401 without a valid token; 503 when every queue slot is taken. Work runs in the
worker pool (:mod:`forecasting.api.pool`), never on the event loop.
"""
from __future__ import annotations

import hmac
import os
import re
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecasting import __version__
from forecasting.api.jobs import JobStore
from forecasting.api.pool import Busy, WorkerPool
from forecasting.api.schemas import (BacktestRequest, BacktestResponse, ErrorResponse, ForecastRequest,
                                     ForecastResponse, JobRequest, JobStatus, RunForecastRequest)
from forecasting.api.settings import ApiSettings
from forecasting.api.work import RequestError, check_shapes

ERRORS = {401: {"model": ErrorResponse, "description": "missing or invalid bearer token"},
          413: {"model": ErrorResponse, "description": "body or request over the service's limits"},
          422: {"model": ErrorResponse, "description": "malformed JSON, a wrong type, or data the models refuse"},
          503: {"model": ErrorResponse, "description": "every queue slot is taken; retry later"}}


def error(status: int, message: str, detail: list[dict] | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail or []}, status_code=status, headers=headers)


# ----------------------------------------------------------------------------------------------------
# validation errors -> the error shape

_UNION_TAG = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|constrained-.*|function-.*|"
                        r"json-or-python\[.*\]|is-instance\[.*\]|lax-.*|strict-.*|nullable\[.*\])$")


def _field(loc: tuple) -> str:
    parts = [p for p in loc if not (isinstance(p, str) and _UNION_TAG.match(p))]
    if parts and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def validation_items(errors: list[dict], prefix: str = "") -> list[dict[str, str]]:
    items, seen = [], set()
    for e in errors:
        if e.get("type") == "json_invalid":
            pos = e.get("loc", ("body", 0))[-1]
            why = (e.get("ctx") or {}).get("error", "not valid JSON")
            items.append({"field": "body", "message": f"malformed JSON at character {pos}: {why}"})
            continue
        f = _field(tuple(e.get("loc", ())))
        f = f"{prefix}.{f}" if prefix and f != "body" else (prefix or f)
        if f in seen:          # one message per field (a union reports each branch)
            continue
        seen.add(f)
        items.append({"field": f, "message": e.get("msg", "invalid")})
    return items


def validation_error(errors: list[dict], prefix: str = "") -> JSONResponse:
    items = validation_items(errors, prefix)
    head = f"{items[0]['field']}: {items[0]['message']}" if items else "invalid request"
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return error(422, head + more, items[:50])


# ----------------------------------------------------------------------------------------------------
# checks before any work (cheap; in the event loop)


def precheck(kind: str, body: dict[str, Any], s: ApiSettings) -> None:
    from forecasting.errors import ConfigError
    from forecasting.models.registry import get_spec

    n_series = len(body["series"])
    if n_series > s.max_series:
        raise RequestError(f"{n_series} series; this service takes at most {s.max_series} per request "
                           "(SALESCAST_API_MAX_SERIES)", "series", 413)
    points = sum(len(x["values"]) for x in body["series"])
    if points > s.max_points:
        raise RequestError(f"{points} observations; this service takes at most {s.max_points} per request "
                           "(SALESCAST_API_MAX_POINTS)", "series", 413)
    h = body["horizon"]
    if not 1 <= h <= s.max_horizon:
        raise RequestError(f"must be between 1 and {s.max_horizon} (got {h})", "horizon")
    models = (body.get("models") or [body["model"]]) if kind == "backtest" else [body["model"]]
    for i, m in enumerate(models):
        try:
            get_spec(m)
        except ConfigError as exc:
            raise RequestError(str(exc), "model" if kind == "forecast" or not body.get("models") else f"models[{i}]") from None
    if not body["levels"]:
        raise RequestError("give at least one level, e.g. [80, 95]", "levels")
    for i, lv in enumerate(body["levels"]):
        if not 1 <= lv <= 99:
            raise RequestError(f"interval levels are whole percentages between 1 and 99 (got {lv})", f"levels[{i}]")
    longest = max(len(x["values"]) for x in body["series"])
    if body.get("season_length") is not None and not 1 <= body["season_length"] <= longest:
        raise RequestError(f"must be between 1 and the longest series' length, {longest} (got {body['season_length']})",
                           "season_length")
    if not 0 <= body.get("seed", 0) < 2**32:
        raise RequestError(f"must be between 0 and 2**32 - 1 (got {body['seed']})", "seed")
    if kind == "backtest":
        if not 1 <= body["windows"] <= s.max_windows:
            raise RequestError(f"must be between 1 and {s.max_windows} (got {body['windows']})", "windows")
        if body.get("step") is not None and body["step"] < 1:
            raise RequestError(f"must be at least 1 (got {body['step']})", "step")
    check_shapes(body)


def plain(body) -> dict[str, Any]:
    """The parsed body as dicts and lists for the worker, without pydantic's deep copy (large requests)."""
    out = dict(body.__dict__)
    out["series"] = [dict(x.__dict__) for x in body.series]
    return out


# ----------------------------------------------------------------------------------------------------
# authentication and the body limit (pure ASGI: before FastAPI reads anything)


class Guard:
    def __init__(self, app, settings: ApiSettings):
        self.app, self.s = app, settings
        self._tokens = [t.encode() for t in settings.tokens]

    def _authorised(self, scope) -> bool:
        for k, v in scope.get("headers", []):
            if k == b"authorization":
                scheme, _, token = v.partition(b" ")
                if scheme.lower() == b"bearer" and token.strip():
                    return any(hmac.compare_digest(token.strip(), t) for t in self._tokens)
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self._tokens and scope["path"].startswith("/v1") and not self._authorised(scope):
            return await error(401, "missing or invalid bearer token (Authorization: Bearer <token>)",
                               headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
        limit = self.s.max_body_bytes
        too_big = error(413, f"the body is over this service's limit of {limit / 2**20:g} MB "
                             "(SALESCAST_API_MAX_BODY_MB); send fewer series per request or use several")
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > limit:
                return await too_big(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:                     # read the body here, so a chunked upload cannot pass the limit
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await too_big(scope, receive, send)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return pending.pop() if pending else await receive()    # then: the client's disconnect

        return await self.app(scope, replay, send)


# ----------------------------------------------------------------------------------------------------
# the application


def create_app(settings: ApiSettings | None = None) -> Guard:
    s = settings or ApiSettings.from_env()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app):
        import anyio

        pool = WorkerPool(s.workers, s.max_queue)
        await anyio.to_thread.run_sync(pool.warm_up)
        jobs = JobStore(pool, s.max_jobs, s.workspace or os.environ.get("SALESCAST_WORKSPACE") or None)
        state["pool"], state["jobs"] = pool, jobs
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(jobs.close)
            pool.shutdown()

    from fastapi_offline import FastAPIOffline

    # /docs and /redoc from the package's own Swagger UI and ReDoc files: no CDN, so they work offline
    app = FastAPIOffline(title="SalesCast API", version=__version__, lifespan=lifespan,
                  description="Forecasts, backtests and jobs over SalesCast's models. "
                              + ("Every /v1 request needs `Authorization: Bearer <token>`." if s.auth else
                                 "No authentication (listening on 127.0.0.1 only)."))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        return validation_error(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestError)
    async def _bad(_request: Request, exc: RequestError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(Busy)
    async def _busy(_request: Request, _exc: Busy):
        return error(503, f"the service is busy ({s.max_queue} requests running or waiting); retry shortly",
                     headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception):
        return error(500, f"internal error ({type(exc).__name__}); see the service's log")

    @app.get("/health", summary="liveness: status and version")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/status", summary="the worker pool: workers, and requests or jobs running or waiting",
             responses=ERRORS)
    async def status() -> dict[str, int]:
        pool: WorkerPool = state["pool"]
        return {"workers": pool.workers, "busy": pool.in_use, "max_queue": pool.max_queue}

    @app.get("/v1/models", summary="the model registry with capabilities", responses=ERRORS)
    async def models() -> dict[str, Any]:
        from forecasting.models.registry import MODELS

        from forecasting.models.defaults import DEFAULT_MODEL

        return {"default": DEFAULT_MODEL,
                "models": [{"name": m.name, "description": m.description, "capabilities": asdict(m.capabilities)}
                           for m in MODELS.values()]}

    async def serve(kind: str, body, request: Request, extra: dict | None = None) -> Response:
        t0 = time.perf_counter()
        data = plain(body)
        if extra:
            data.update(extra)
        precheck("forecast" if kind == "run_forecast" else kind, data, s)
        pool: WorkerPool = state["pool"]
        slot = pool.acquire()
        out = await pool.run(kind, data, slot, disconnected=request.is_disconnected)
        if out[0] == "ok":
            elapsed = round((time.perf_counter() - t0) * 1000, 1)
            return Response(out[1] + b',"elapsed_ms":' + str(elapsed).encode() + b"}", media_type="application/json")
        if out[0] == "cancelled":
            return error(499, "cancelled: the client closed the connection")
        return JSONResponse(out[2], status_code=out[1])

    @app.post("/v1/forecast", response_model=ForecastResponse, responses=ERRORS,
              summary="forecast `horizon` periods after each series' last timestamp")
    async def forecast(body: ForecastRequest, request: Request):
        return await serve("forecast", body, request)

    @app.post("/v1/backtest", response_model=BacktestResponse, responses=ERRORS,
              summary="rolling-origin backtest: metrics per series and model")
    async def backtest(body: BacktestRequest, request: Request):
        return await serve("backtest", body, request)

    @app.post("/v1/jobs", status_code=202, response_model=JobStatus, responses=ERRORS,
              summary="run a forecast or backtest in the background; poll GET /v1/jobs/{id}")
    async def submit_job(job: JobRequest):
        from pydantic import ValidationError

        model = ForecastRequest if job.kind == "forecast" else BacktestRequest
        try:
            body = model.model_validate(job.request)
        except ValidationError as exc:
            return validation_error(list(exc.errors()), prefix="request")
        data = plain(body)
        try:
            precheck(job.kind, data, s)
        except RequestError as exc:
            exc.field = f"request.{exc.field}" if exc.field else "request"
            return JSONResponse(exc.body(), status_code=exc.status)
        import anyio

        jobs: JobStore = state["jobs"]
        j = await anyio.to_thread.run_sync(jobs.submit, job.kind, data)
        return JSONResponse(jobs.view(j), status_code=202, headers={"Location": f"/v1/jobs/{j.id}"})

    async def _job_view(job_id: str, cancel: bool = False) -> dict[str, Any]:
        """A job of this process (live), else one kept in the workspace by an earlier run of the service."""
        import anyio

        jobs: JobStore = state["jobs"]
        j = jobs.get(job_id)
        if j is not None:
            if cancel:
                jobs.cancel(j)
            return jobs.view(j)
        kept = await anyio.to_thread.run_sync(jobs.stored, job_id)
        if kept is None:
            where = ("kept in the workspace" if jobs.workspace() is not None else
                     "kept in memory only: start the service with --workspace DIR to keep them across restarts")
            raise StarletteHTTPException(404, f"no job '{job_id}' (the last {s.max_jobs} finished jobs are {where})")
        return kept              # finished (or interrupted): nothing left to cancel

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus, responses=ERRORS,
             summary="a job's status, progress, and its result when done")
    async def get_job(job_id: str):
        return JSONResponse(await _job_view(job_id))

    @app.delete("/v1/jobs/{job_id}", response_model=JobStatus, responses=ERRORS, summary="cancel a job")
    async def cancel_job(job_id: str):
        return JSONResponse(await _job_view(job_id, cancel=True))

    @app.post("/v1/runs/{run_id}/forecast", response_model=ForecastResponse, responses={
                  **ERRORS, 404: {"model": ErrorResponse, "description": "no workspace, or no such run"},
                  409: {"model": ErrorResponse, "description": "not a finished forecast run, or its model was not kept"}},
              summary="forecast new data with what a forecast run kept: its saved network without retraining "
                      "(the series it was trained on), or its statistical model refit with the run's settings")
    async def run_forecast(run_id: str, body: RunForecastRequest, request: Request):
        import anyio

        from forecasting.api.runs import forecast_target

        extra = await anyio.to_thread.run_sync(forecast_target, s, run_id, body.model, body.levels)
        return await serve("run_forecast", body, request, extra)

    from forecasting.api.runs import add_routes

    add_routes(app, s, ERRORS)
    app.state.settings = s
    return Guard(app, s)
