"""The fitted models a forecast run keeps, so a later forecast reuses them (``POST /v1/runs/{id}/forecast``).

One folder per model under ``runs/<id>/models/<name>/`` with a ``kept.json`` saying what it holds:

* ``network`` (lstm, gru, transformer trained on all series): the weights and the arrays a forecast needs
  in ``model.safetensors`` and the settings in ``model.json`` (:func:`forecasting.models.deep.persist.save_folder`).
  Reused without training: the new history of the series it was trained on goes through the same
  scaling, and the network forecasts from its last lookback window.
* ``finetuned``: the fine-tuned transformer's weights (safetensors), forecasting any series zero-shot.
* ``zero-shot`` (pretrained): its settings; the shipped weights need nothing kept.
* ``refit`` (the statistical models, fitted per series): their settings, the season length, the seed and
  the dataset version (a content hash) the run used; a forecast on new data refits them with exactly those
  settings, which is deterministic.
* ``not kept``: why (a network trained per series with ``local=True``, or a failed save).

Nothing here is pickled: safetensors and JSON only. Written atomically (temp folder + rename), so a model
folder exists whole or not at all.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from forecasting.store.files import write_folder_atomic
from forecasting.store.workspace import StoreError, Workspace

KEPT = "kept.json"


def models_dir(ws: Workspace, run_id: str) -> Path:
    return ws.path / "runs" / run_id / "models"


def _clean(params: dict | None) -> dict:
    return {k: v for k, v in (params or {}).items() if k != "progress"}


def keep_model(ws: Workspace, run_id: str, name: str, model: Any) -> dict:
    """Keep a global model a forecast run trained (called as soon as it has forecast). Never raises: a
    model that cannot be kept is recorded as ``not kept`` with the reason."""
    from forecasting.models.registry import get_spec

    folder = models_dir(ws, run_id) / name
    doc: dict[str, Any] = {"model": name, "class": type(model).__name__}

    def write(tmp: Path) -> None:
        (tmp / KEPT).write_text(json.dumps(doc, default=str), encoding="utf-8")

    try:
        if name == "finetuned":
            doc.update(kind="finetuned", settings=_clean(getattr(model, "cfg", {})), files=["model.safetensors"],
                       season_length=int(model.season_length))   # its series were deseasonalised at this one
            doc["settings"].pop("weights", None)

            def write(tmp: Path) -> None:  # noqa: F811
                model.save(tmp)
                (tmp / KEPT).write_text(json.dumps(doc, default=str), encoding="utf-8")
        elif name == "pretrained":
            doc.update(kind="zero-shot", settings=_clean(getattr(model, "cfg", {})), season_length=int(model.season_length))
        elif get_spec(name).capabilities.needs_torch and getattr(model, "local_", None) is not None:
            doc.update(kind="not kept", why="trained one network per series (local=True); only a network "
                                            "trained on all series is kept")
        elif hasattr(model, "net_") and hasattr(model, "state_"):
            from forecasting.models.deep.persist import save_folder

            doc.update(kind="network", freq=model.state_["freq"], horizon=int(model.state_["horizon"]),
                       n_series=len(model.state_["series_ids"]), covariates=list(model.state_["cov_names"]),
                       files=["model.safetensors", "model.json"])

            def write(tmp: Path) -> None:  # noqa: F811
                save_folder(model, tmp)
                (tmp / KEPT).write_text(json.dumps(doc, default=str), encoding="utf-8")
        else:
            doc.update(kind="not kept", why=f"{name} has no saved form")
        write_folder_atomic(folder, write)
    except Exception as exc:  # noqa: BLE001 - keeping a model never fails the run it belongs to
        doc = {"model": name, "kind": "not kept", "why": f"saving failed: {type(exc).__name__}: {str(exc)[:300]}"}
        write_folder_atomic(folder, lambda tmp: (tmp / KEPT).write_text(json.dumps(doc), encoding="utf-8"))
    return doc


def keep_settings(ws: Workspace, run_id: str, models: list[str], config: dict, dataset_id: str,
                  season_length: int | None) -> None:
    """Record the per-series (statistical) models of a finished forecast run as what refits them."""
    from forecasting.models.registry import get_spec

    for name in models:
        if get_spec(name).capabilities.global_model or (models_dir(ws, run_id) / name / KEPT).exists():
            continue
        doc = {"model": name, "kind": "refit", "settings": _clean((config.get("model_params") or {}).get(name)),
               "season_length": season_length, "seed": int(config.get("seed") or 0),
               "non_negative": bool(config.get("non_negative", True)), "dataset_id": dataset_id}
        write_folder_atomic(models_dir(ws, run_id) / name,
                            lambda tmp, doc=doc: (tmp / KEPT).write_text(json.dumps(doc, default=str), encoding="utf-8"))


def kept_models(ws: Workspace, run_id: str) -> dict[str, dict]:
    """Model name -> its ``kept.json`` (empty for a run that kept nothing, e.g. one from before this)."""
    out = {}
    folder = models_dir(ws, run_id)
    if folder.is_dir():
        for f in sorted(folder.glob(f"*/{KEPT}")):
            try:
                out[f.parent.name] = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
    return out


def network_meta(ws: Workspace, run_id: str, name: str) -> dict:
    """A kept network's settings (freq, horizon, series ids, covariates), read without its weights."""
    from forecasting.models.deep.persist import read_folder_meta

    return read_folder_meta(models_dir(ws, run_id) / name)


def reuse_for(ws: Workspace, run_id: str, name: str, settings: dict | None = None) -> Callable | None:
    """``f(train_df, freq)`` giving the kept model ready to forecast after ``train_df`` (no training), for
    :func:`~forecasting.pipeline.run_forecast`'s ``reuse``; None for a model that is refit."""
    kept = kept_models(ws, run_id).get(name)
    if kept is None:
        raise StoreError(f"run {run_id} kept no '{name}' model")
    kind = kept.get("kind")
    folder = models_dir(ws, run_id) / name
    if kind == "refit":
        return None
    if kind == "not kept":
        raise StoreError(f"run {run_id} did not keep its {name} model: {kept.get('why')}")
    if kind == "network":
        def reuse(train_df, freq):
            from forecasting.models.deep.persist import load_folder, with_history

            return with_history(load_folder(folder), train_df, freq)
        return reuse
    if kind in ("finetuned", "zero-shot"):
        from forecasting.models.pretrained.model import PretrainedForecaster

        opts = {k: v for k, v in {**kept.get("settings", {}), **(settings or {})}.items()
                if k in PretrainedForecaster.DEFAULTS and k != "weights"}
        if kind == "finetuned":
            opts["weights"] = str(folder)

        season_length = int(kept.get("season_length", 1))   # runs kept before deseasonalising: 1 (raw series)

        def reuse(train_df, freq):
            return PretrainedForecaster(season_length, **opts).fit(train_df, freq)
        return reuse
    raise StoreError(f"run {run_id}: unknown kept model kind '{kind}'")


def usable_run(ws: Workspace, run_id: str, model: str | None = None):
    """The run and model name a forecast with a kept model uses (``model`` None: the run's first), or
    :class:`StoreError` saying why the run cannot serve one."""
    from forecasting.models.registry import get_spec

    rec = ws.get_run(run_id)
    if rec.kind != "forecast":
        raise StoreError(f"run {rec.id} is a {rec.kind}; only forecast runs keep their fitted models")
    if rec.status != "finished":
        raise StoreError(f"run {rec.id} is {rec.status} ({rec.series_done}/{rec.n_series} series); only a finished "
                         "run's models are kept")
    name = model or (rec.models[0] if rec.models else None)
    if name not in rec.models:
        raise StoreError(f"'{name}' is not a model of run {rec.id} ({', '.join(rec.models)})")
    kept = kept_models(ws, rec.id).get(name)
    if get_spec(name).capabilities.global_model and kept is None:
        raise StoreError(f"run {rec.id} kept no {name} model (it was made before runs kept their networks); run the "
                         "forecast again to keep one")
    if kept is not None and kept.get("kind") == "not kept":
        raise StoreError(f"run {rec.id} did not keep its {name} model: {kept.get('why')}")
    return rec, name


def check_network_data(ws: Workspace, run_id: str, model: str, series_ids: list[str], horizon: int,
                       covariates: list[str], freq: str | None = None) -> None:
    """For a kept network: the new data's series, horizon, covariates and frequency must be what it was trained
    on (:class:`~forecasting.errors.ConfigError` otherwise); nothing to check for other kept models."""
    from forecasting.errors import ConfigError

    if kept_models(ws, run_id).get(model, {}).get("kind") != "network":
        return
    meta = network_meta(ws, run_id, model)
    trained = set(meta["series_ids"])
    other = [s for s in series_ids if s not in trained]
    if other:
        raise ConfigError(f"'{other[0]}' is not among the {len(trained)} series the run's {model} network was trained "
                          f"on; it forecasts those series only (e.g. {', '.join(sorted(trained)[:3])})")
    if int(horizon) > int(meta["horizon"]):
        raise ConfigError(f"the run's {model} network was trained for {meta['horizon']} periods ahead; ask for at "
                          f"most {meta['horizon']} (or run a new forecast)")
    missing = [c for c in meta["cov_names"] if c not in covariates]
    if missing:
        raise ConfigError(f"the run's {model} network uses covariates {meta['cov_names']}; give {missing}")
    if freq is not None:
        import pandas as pd

        if pd.tseries.frequencies.to_offset(freq) != pd.tseries.frequencies.to_offset(meta["freq"]):
            raise ConfigError(f"the series are '{freq}' data; the run's {model} network was trained on "
                              f"'{meta['freq']}' data")


def forecast_with_kept(ws: Workspace, run_id: str, model: str, dataset, horizon: int, levels: list[int] | None = None,
                       future_covariates=None, progress=None):
    """New data (``dataset``) forecast by what forecast run ``run_id`` kept for ``model``: its saved network
    without training (the new history goes through the network as it is), the pretrained or fine-tuned
    weights, or a statistical model refit with the run's exact settings. ``levels`` None: the run's. A run of
    every node of a hierarchy forecasts every node of the new data and reconciles them with the run's method
    and levels (the result then holds every node). The same for ``POST /v1/runs/{id}/forecast`` and
    ``runs forecast``; returns the :class:`~forecasting.pipeline.ForecastResult`."""
    from forecasting.models.registry import get_spec
    from forecasting.pipeline import ForecastConfig, run_forecast

    from forecasting.hierarchy.run import hierarchy_of

    rec, model = usable_run(ws, run_id, model)
    hcfg = hierarchy_of(rec.config)
    nodes = dataset
    if hcfg is not None:      # a run of every node of a hierarchy: the new data's nodes, reconciled as the run did
        from forecasting.errors import ConfigError
        from forecasting.hierarchy.data import hierarchical_dataset

        want = ((rec.info.get("hierarchy") or {}).get("levels") or [None])[-1]
        got = ",".join(dataset.id_cols or [])
        if want and got != want:
            raise ConfigError(f"run {rec.id} forecast a hierarchy over the id columns {want}; the new data's are "
                              f"{got or 'none'}")
        nodes = hierarchical_dataset(dataset, hcfg.levels)[0]
    check_network_data(ws, rec.id, model, nodes.series_ids, horizon, list(dataset.covariates), dataset.freq)
    params = {k: v for k, v in ((rec.config.get("model_params") or {}).get(model) or {}).items() if k != "progress"}
    reuse = reuse_for(ws, rec.id, model, {"num_threads": 1}) if get_spec(model).capabilities.global_model else None
    run_cfg = rec.info.get("config") or rec.config
    if not levels:
        levels = [int(l) for l in (run_cfg.get("levels") or rec.config.get("levels") or [80, 95])]
    cfg = ForecastConfig(horizon=int(horizon), model=[model], levels=sorted(set(int(l) for l in levels)),
                         model_params={model: params} if params and reuse is None else {},
                         season_length=run_cfg.get("season_length") or rec.config.get("season_length"),
                         seed=int(rec.config.get("seed") or 0), non_negative=bool(rec.config.get("non_negative", True)),
                         engine="serial", future_covariates=future_covariates,
                         # the run's intervals; a kept network its own (conformal would train it again)
                         intervals="model" if reuse else rec.config.get("intervals", "model"))
    if hcfg is not None:
        from forecasting.hierarchy.run import hierarchical_forecast

        return hierarchical_forecast(dataset, cfg, hcfg, progress=progress, reuse={model: reuse} if reuse else None)[0]
    return run_forecast(dataset, cfg, progress=progress, reuse={model: reuse} if reuse else None)
