"""The one registry pages and the CLI read: stable name -> where the model lives and what it can do.

Entries name a module and a class; the module is imported only when the model is created, so listing
models (``python -m forecasting models``, the Models page) never imports statsmodels or torch.
A new model is one small file plus one line here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from forecasting.errors import ConfigError
from forecasting.models.capabilities import Capabilities
from forecasting.models.defaults import DEFAULT_MODEL  # noqa: F401  (re-exported for pages)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    module: str
    cls: str
    capabilities: Capabilities
    description: str
    per_series_cls: str = ""     # a per-series variant in the same module (a global model usable in an ensemble)


_C = Capabilities
MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("naive", "forecasting.models.baselines", "Naive", _C(), "last value carried forward"),
    ModelSpec("seasonal_naive", "forecasting.models.baselines", "SeasonalNaive", _C(), "value one season ago"),
    ModelSpec("drift", "forecasting.models.baselines", "Drift", _C(), "line from first to last value"),
    ModelSpec("moving_average", "forecasting.models.baselines", "MovingAverage", _C(), "mean of the last k values"),
    ModelSpec("croston", "forecasting.models.intermittent", "Croston", _C(intermittent=True), "Croston (SBA) for intermittent demand"),
    ModelSpec("tsb", "forecasting.models.intermittent", "TSB", _C(intermittent=True), "Teunter-Syntetos-Babai for intermittent demand"),
    ModelSpec("arima", "forecasting.models.arima", "AutoARIMA", _C(covariates=True), "automatic non-seasonal ARIMA"),
    ModelSpec("sarima", "forecasting.models.arima", "AutoSARIMA", _C(covariates=True), "automatic seasonal ARIMA (Fourier terms for long seasons)"),
    ModelSpec("ets", "forecasting.models.ets", "AutoETS", _C(), "exponential smoothing, form chosen by AICc"),
    ModelSpec("theta", "forecasting.models.theta", "Theta", _C(), "Theta method"),
    ModelSpec("ensemble", "forecasting.models.ensemble", "Ensemble", _C(), "mean or median of chosen models"),
    ModelSpec("auto", "forecasting.models.auto", "AutoSelect", _C(), "combination weighted per series by backtest error (or the best model)"),
    ModelSpec("lstm", "forecasting.models.deep.recurrent", "LSTMForecaster", _C(covariates=True, global_model=True, needs_torch=True), "LSTM network (PyTorch)"),
    ModelSpec("gru", "forecasting.models.deep.recurrent", "GRUForecaster", _C(covariates=True, global_model=True, needs_torch=True), "GRU network (PyTorch)"),
    ModelSpec("transformer", "forecasting.models.deep.transformer", "TransformerForecaster", _C(covariates=True, global_model=True, needs_torch=True), "Transformer encoder (PyTorch)"),
    ModelSpec("pretrained", "forecasting.models.pretrained.model", "PretrainedForecaster", _C(global_model=True, needs_torch=True), "SalesCast's pretrained patch transformer, zero-shot (no training)", per_series_cls="PretrainedPerSeries"),
    ModelSpec("finetuned", "forecasting.models.pretrained.model", "FinetunedForecaster", _C(global_model=True, needs_torch=True), "the pretrained transformer fine-tuned on your series"),
]}


def model_names() -> list[str]:
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model '{name}'; known models: {', '.join(MODELS)}") from None


def get_model_class(name: str, per_series: bool = False) -> type:
    """The model's class; with ``per_series``, its per-series variant when it has one (``per_series_cls``)."""
    spec = get_spec(name)
    module = importlib.import_module(spec.module)
    return getattr(module, spec.per_series_cls if per_series and spec.per_series_cls else spec.cls)


def create_model(name: str, **settings: Any):
    return get_model_class(name)(**settings)


def check_settings(name: str, settings: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` now for settings ``name`` refuses (an unknown name, a bad value), before
    any work: the model is created with them (that is where models check their settings), and a network's
    ``device`` is checked against this machine."""
    cls = get_model_class(name)
    try:
        model = cls(season_length=1, **settings)
        if "device" in settings and hasattr(model, "check_device"):
            model.check_device()     # a GPU asked for where there is none
    except (ConfigError, ValueError) as exc:
        raise ConfigError(str(exc) if str(exc).startswith(name) else f"{name}: {exc}") from None


def settings_of(name: str) -> list[dict[str, Any]]:
    """What model ``name`` declares about each of its settings (name, default, accepts, doc, label …)."""
    from forecasting.models.settings import describe

    return describe(get_model_class(name))
