"""Request and response bodies of the HTTP API (pydantic; they are also the OpenAPI schema at /openapi.json).

Types are strict: a string where a number belongs, a float horizon or an unknown field is a 422 naming the
field (``series[0].values[3]``). Values may be ``null`` (a missing observation, as an empty cell in a file);
NaN and infinities are refused. What depends on the service's limits or on the data (lengths, dates,
horizon range, model names) is checked by :mod:`forecasting.api.work` with the same error shape.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from forecasting.models.defaults import DEFAULT_MODEL

from forecasting.hierarchy.reconcile import METHODS

RECONCILE = ("none",) + METHODS          # the CLI's --reconcile choices

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Int = Annotated[int, Field(strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesIn(_Strict):
    id: Annotated[str, Field(strict=True, min_length=1, max_length=200)] | Int
    timestamps: list[Annotated[str, Field(strict=True)]] = Field(
        description="ISO 8601 dates or times (2024-01-01, 2024-01-01T09:00), oldest first or in any order")
    values: list[Number | None] = Field(description="one per timestamp; null = missing")
    covariates: dict[str, list[Number | None]] | None = Field(
        None, description="name -> one value per timestamp (price, promotion …)")
    future_covariates: dict[str, list[Number | None]] | None = Field(
        None, description="name -> one value per forecast period (the covariates' planned future)")
    keys: dict[str, Annotated[str, Field(strict=True, min_length=1, max_length=200)]] | None = Field(
        None, description='the series\' place in a hierarchy, id column -> value ({"store": "North", "sku": "A1"}); '
                          "needed on every series with reconcile or hierarchy")


class ForecastRequest(_Strict):
    series: list[SeriesIn] = Field(min_length=1)
    horizon: Int = Field(description="periods to forecast after each series' last timestamp")
    freq: Annotated[str, Field(strict=True)] | None = Field(None, description="pandas alias (D, W-SUN, MS …); inferred when omitted")
    model: Annotated[str, Field(strict=True)] = Field(DEFAULT_MODEL, description=f"a name from GET /v1/models; default {DEFAULT_MODEL} (the app's default)")
    levels: list[Int] = Field([80, 95], description="prediction interval levels in %")
    season_length: Int | None = None
    settings: dict[str, dict[str, Any]] | None = Field(
        None, description='model settings, as the CLI\'s --set: {"ets": {"damped": true}}')
    seed: Int = 0
    allow_negative: bool = Field(False, description="do not clip forecasts at zero for non-negative series")
    intervals: Literal["model", "conformal"] = Field(
        "conformal", description="conformal (default, as the CLI and the app: calibrated on a backtest of the "
                                 "history) or model (each model's own, faster)")
    reconcile: Literal[RECONCILE] = Field(
        "none", description="reconcile the forecasts of every node of the hierarchy so they add up (the CLI's "
                            "--reconcile); other than none, the answer covers every node, with level and keys")
    hierarchy: list[list[Annotated[str, Field(strict=True)]]] | None = Field(
        None, description='the levels, each a list of key names, [] = the total (the CLI\'s --levels ";store;store,sku"'
                          ' is [[], ["store"], ["store", "sku"]]); default: nested in the order of the keys')
    proportions: Literal["forecast_proportions", "average_proportions"] = Field(
        "forecast_proportions", description="top_down's split (the CLI's --proportions)")
    middle_level: list[Annotated[str, Field(strict=True)]] | None = Field(
        None, description="middle_out's level as key names (the CLI's --middle-level); default the middle level")
    wls: Literal["var", "struct"] = Field("var", description="mint_wls weights (the CLI's --wls)")


class BacktestRequest(ForecastRequest):
    windows: Int = Field(3, description="backtest windows (rolling origins)")
    step: Int | None = Field(None, description="periods between cutoffs (default: the horizon)")
    models: list[Annotated[str, Field(strict=True)]] | None = Field(
        None, description="several models to compare (default: [model])")
    window_type: Literal["expanding", "sliding"] = "expanding"


class RunForecastRequest(_Strict):
    series: list[SeriesIn] = Field(min_length=1, description="new history of the series (a kept network: of the "
                                                              "series it was trained on)")
    horizon: Int = Field(description="periods to forecast after each series' last timestamp (a kept network: at "
                                     "most the horizon it was trained for)")
    freq: Annotated[str, Field(strict=True)] | None = Field(None, description="pandas alias; inferred when omitted")
    model: Annotated[str, Field(strict=True)] | None = Field(None, description="one of the run's models (default: its first)")
    levels: list[Int] | None = Field(None, description="prediction interval levels in % (default: the run's)")


class JobRequest(_Strict):
    kind: Literal["forecast", "backtest"]
    request: dict[str, Any] = Field(description="the body of POST /v1/forecast or /v1/backtest")


# ---- responses (documentation; the service writes them as JSON directly)


class SeriesForecast(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    timestamps: list[str]
    mean: list[float | None]
    lo_80: list[float | None] | None = None
    hi_80: list[float | None] | None = None
    lo_95: list[float | None] | None = None
    hi_95: list[float | None] | None = None
    level: str | None = Field(None, description="with reconcile or hierarchy: the node's level (total, store, store,sku)")
    keys: dict[str, str | None] | None = Field(None, description="with reconcile or hierarchy: the node's keys "
                                                                 "(null where the level sums over a key)")


class Fallback(BaseModel):
    id: str
    model: str
    model_used: str | None = Field(None, description="what forecast the series instead (forecasts only)")
    reason: str


class HierarchyInfo(BaseModel):
    levels: list[str]
    n_nodes: int
    reconcile: str


class ForecastResponse(BaseModel):
    model: str
    forecasts: list[SeriesForecast]
    fallbacks: list[Fallback]
    elapsed_ms: float
    hierarchy: HierarchyInfo | None = Field(None, description="with reconcile or hierarchy only")


class BacktestResponse(BaseModel):
    models: list[str]
    metrics: list[dict[str, Any]] = Field(description="one row per series × model: id, model, mae, rmse, mape, "
                                                      "smape, mase, rmsse, wape, bias, r2, coverage_L …, settings, fallback")
    summary: list[dict[str, Any]] = Field(description="one row per model: mean metrics over the series (with a "
                                                      "hierarchy: over the bottom series)")
    fallbacks: list[Fallback]
    elapsed_ms: float
    hierarchy: HierarchyInfo | None = Field(None, description="with reconcile or hierarchy only")
    summary_by_level: list[dict[str, Any]] | None = Field(
        None, description="with reconcile or hierarchy: mean metrics per level and model (every level's leaderboard)")


class Progress(BaseModel):
    done: float
    total: float | None
    fraction: float | None
    stage: str = ""


class JobStatus(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: Progress
    created: str
    finished: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    error: str
    detail: list[ErrorItem] = []
