"""Save and load a trained deep model as plain tensors, numbers and strings (a state dict plus config).

Loading uses ``torch.load(weights_only=True)``: no user file is ever unpickled into code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from forecasting.errors import ConfigError, DataError

FORMAT = "salescast-deep/1"
_ARRAYS = ("scale", "cov_stats", "tail_y", "tail_m", "tail_f")


def _check_savable(model) -> None:
    """Only a fitted global network can be saved."""
    if model.local_ is not None:
        raise DataError(f"saving a {model.name} model fitted with local=True (one network per series) "
                        "is not supported; save a global model")
    if model.net_ is None:
        raise DataError(f"{model.name} is not fitted; nothing to save")


def save(model, path: str | Path) -> None:
    import torch

    _check_savable(model)
    st = model.state_
    val = st["validation"]
    blob: dict[str, Any] = {
        "format": FORMAT, "model": model.name, "season_length": int(model.season_length),
        "config": json.dumps(model.config_, default=str), "fitted": json.dumps(model.fitted_, default=str),
        "state_dict": {k: v.detach().cpu() for k, v in model.net_.state_dict().items()},
        "freq": st["freq"], "horizon": int(st["horizon"]), "lookback": int(st["lookback"]),
        "quantiles": [float(q) for q in st["quantiles"]], "series_ids": list(st["series_ids"]),
        "cov_names": list(st["cov_names"]), "cal_names": list(st["cal_names"]), "n_feats": int(st["n_feats"]),
        "last_ds": torch.as_tensor(st["last_ds"].astype("datetime64[ns]").astype(np.int64)),
        "val_pred": torch.as_tensor(val.pred), "val_target": torch.as_tensor(val.target),
        "val_mask": torch.as_tensor(val.mask),
    }
    for k in _ARRAYS:
        blob[k] = torch.as_tensor(np.ascontiguousarray(st[k]))
    torch.save(blob, Path(path))


def load(cls, path: str | Path):
    import torch

    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear message
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"cannot read a saved model from '{path}': {first}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DataError(f"'{path}' is not a SalesCast deep model file")
    try:
        return _from_blob(cls, blob, path)
    except (DataError, ConfigError):
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: " + \
            (str(exc).splitlines() or [""])[0][:160]
        raise DataError(f"'{path}' is not a valid SalesCast model file ({what})") from None


_BOUNDS = {"lookback": 100_000, "horizon": 100_000, "n_feats": 10_000, "series_ids": 10_000_000}


def _from_blob(cls, blob: dict, path):
    """Check a loaded file's structure and sizes, then build the network: first without memory (on
    torch's ``meta`` device) to compare its shapes with the saved weights, so that a crafted config
    cannot make SalesCast allocate a network the file's own weights do not fill."""
    import torch

    from forecasting.models.deep.calibrate import ValidationSet
    from forecasting.models.deep.device import choose_device

    if cls.name != "deep" and blob["model"] != cls.name:
        raise DataError(f"'{path}' holds a {blob['model']} model, not a {cls.name} model")
    if cls.name == "deep":
        from forecasting.models.registry import get_model_class

        cls = get_model_class(str(blob["model"]))
    try:
        config = json.loads(blob["config"])
        fitted = json.loads(blob["fitted"])
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{path}' is not a valid SalesCast model file (its settings are not JSON: "
                        f"{str(exc)[:120]})") from None
    if not isinstance(config, dict) or not isinstance(fitted, dict):
        raise DataError(f"'{path}' is not a valid SalesCast model file (its settings are not a mapping)")
    sizes = {"lookback": blob["lookback"], "horizon": blob["horizon"], "n_feats": blob["n_feats"],
             "series_ids": len(blob["series_ids"])}
    for k, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or not (0 <= v <= _BOUNDS[k]) or (k != "n_feats" and v < 1):
            raise DataError(f"'{path}' is not a valid SalesCast model file ({k} = {v!r} is out of range)")
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise DataError(f"'{path}' is not a valid SalesCast model file (no weights)")
    # the saved settings, so that the checks on creation see them together (n_heads with hidden_size)
    settings = {k: v for k, v in config.items() if k in cls.setting_names() and k != "progress"}
    model = cls(int(blob["season_length"]), **settings)
    model.resolved()                                   # value checks and upper bounds, before any network exists
    cfg = {**config, "train_levels": tuple(config["train_levels"])}
    with torch.device("meta"):
        shape_net = model.build_net(cfg, blob["lookback"], blob["horizon"], blob["n_feats"], len(blob["series_ids"]))
    want = {k: tuple(v.shape) for k, v in shape_net.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    if want != have:
        diff = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have.get(k)]
        raise DataError(f"'{path}' is not a valid SalesCast model file (its weights do not match its settings: "
                        f"{', '.join(diff[:3])})")
    dev = choose_device(config.get("device", "auto"))
    net = model.build_net(cfg, blob["lookback"], blob["horizon"], blob["n_feats"], len(blob["series_ids"]))
    net.load_state_dict(state)
    model.net_ = net.to(dev).eval()
    model.device_ = dev
    model.config_ = cfg
    model.fitted_ = fitted
    model.state_ = dict(
        freq=blob["freq"], horizon=blob["horizon"], lookback=blob["lookback"], quantiles=blob["quantiles"],
        series_ids=blob["series_ids"], cov_names=blob["cov_names"], cal_names=blob["cal_names"],
        n_feats=blob["n_feats"], last_ds=blob["last_ds"].numpy().astype("datetime64[ns]"),
        validation=ValidationSet(blob["val_pred"].numpy(), blob["val_target"].numpy(), blob["val_mask"].numpy()),
        **{k: blob[k].numpy() for k in _ARRAYS})
    return model


# ---- a folder of safetensors + JSON (the workspace's saved networks) ------------------------------------
# The weights and the arrays a forecast needs are tensors in ``model.safetensors`` (a format that holds
# tensors and nothing else); the settings, sizes and series ids are JSON in ``model.json``. Loading goes
# through the same checks as :func:`load` (sizes bounded, shapes compared before anything is allocated).

FOLDER_FORMAT = "salescast-deep-safetensors/1"
_TENSORS = ("last_ds", "val_pred", "val_target", "val_mask", *_ARRAYS)


def save_folder(model, folder: str | Path) -> None:
    """Write a trained global network to ``folder`` (``model.safetensors`` + ``model.json``)."""
    import torch
    from safetensors.torch import save_file

    _check_savable(model)
    st = model.state_
    val = st["validation"]
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net_.state_dict().items()}
    arrays = {"last_ds": np.asarray(st["last_ds"]).astype("datetime64[ns]").astype(np.int64),
              "val_pred": val.pred, "val_target": val.target, "val_mask": val.mask,
              **{k: st[k] for k in _ARRAYS}}
    for k, a in arrays.items():
        tensors[f"arr.{k}"] = torch.as_tensor(np.ascontiguousarray(a)).contiguous()
    meta = {"format": FOLDER_FORMAT, "model": model.name, "season_length": int(model.season_length),
            "config": json.dumps(model.config_, default=str), "fitted": json.dumps(model.fitted_, default=str),
            "freq": st["freq"], "horizon": int(st["horizon"]), "lookback": int(st["lookback"]),
            "quantiles": [float(q) for q in st["quantiles"]], "series_ids": [str(s) for s in st["series_ids"]],
            "cov_names": list(st["cov_names"]), "cal_names": list(st["cal_names"]), "n_feats": int(st["n_feats"])}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": FOLDER_FORMAT})
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")


def read_folder_meta(folder: str | Path) -> dict:
    """The JSON half of a saved network (model, freq, horizon, series ids, covariates): cheap checks of a
    request before the weights are read."""
    path = Path(folder) / "model.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read a saved model from '{folder}': {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FOLDER_FORMAT:
        raise DataError(f"'{folder}' is not a saved SalesCast network")
    return meta


def load_folder(folder: str | Path, cls=None):
    """The network saved by :func:`save_folder` (its class from the file when ``cls`` is None)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_folder_meta(folder)
    try:
        tensors = load_file(str(folder / "model.safetensors"), device="cpu")
    except (OSError, SafetensorError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"cannot read the weights in '{folder}': {first}") from None
    if cls is None:
        from forecasting.models.registry import get_model_class

        cls = get_model_class(str(meta.get("model")))
    try:
        blob = {k: meta[k] for k in ("model", "season_length", "config", "fitted", "freq", "horizon", "lookback",
                                     "quantiles", "series_ids", "cov_names", "cal_names", "n_feats")}
        blob["state_dict"] = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        for k in _TENSORS:
            blob[k] = tensors[f"arr.{k}"]
        return _from_blob(cls, blob, folder)
    except (DataError, ConfigError):
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: " + \
            (str(exc).splitlines() or [""])[0][:160]
        raise DataError(f"'{folder}' is not a valid saved SalesCast network ({what})") from None


def with_history(model, df, freq: str):
    """A copy of trained ``model`` that forecasts after ``df`` (a long frame of series it was trained on):
    each series' last lookback window is read from ``df`` and scaled as in training; the network itself is
    unchanged (no training). Series of the model that ``df`` lacks keep their old history."""
    import copy

    import pandas as pd

    from forecasting.data.contract import ID
    from forecasting.models.deep.data import prepare
    from forecasting.models.deep.windows import last_windows

    st, cfg = model.state_, model.config_
    if pd.tseries.frequencies.to_offset(freq) != pd.tseries.frequencies.to_offset(st["freq"]):
        raise DataError(f"{model.name} was trained on '{st['freq']}' data; this data is '{freq}'")
    known = {str(u): i for i, u in enumerate(st["series_ids"])}
    ids = [str(u) for u in pd.unique(df[ID].astype(str))]
    unknown = [u for u in ids if u not in known]
    if unknown:
        raise DataError(f"{model.name} was not trained on series {unknown[:5]}; a saved network forecasts "
                        "the series it was trained on")
    L = int(st["lookback"])
    prep = prepare(df, freq, lookback=L, horizon=1, covariates=list(st["cov_names"]) or False, scaler="none",
                   holiday_country=cfg.get("holiday_country"), val_size=0, calendar=bool(cfg.get("calendar", True)),
                   fixed_scale={u: np.asarray(st["scale"][known[u]]) for u in ids},
                   fixed_cov_stats=np.asarray(st["cov_stats"]))
    if list(prep.cal_names) != list(st["cal_names"]):
        raise DataError(f"{model.name}: the calendar features differ from training ({prep.cal_names})")
    panel = prep.panel
    rows = np.asarray([known[u] for u in panel.series_ids], dtype=np.int64)
    tail = last_windows(panel)[:, None] + np.arange(L)[None, :]
    new = dict(st)
    new["tail_y"], new["tail_m"], new["tail_f"] = (np.array(st["tail_y"]), np.array(st["tail_m"]),
                                                   np.array(st["tail_f"]))
    new["last_ds"] = np.array(st["last_ds"]).astype("datetime64[ns]")
    new["tail_y"][rows], new["tail_m"][rows], new["tail_f"][rows] = panel.y[tail], panel.mask[tail], panel.feats[tail]
    new["last_ds"][rows] = np.asarray(prep.last_ds).astype("datetime64[ns]")
    other = copy.copy(model)
    other.__dict__ = dict(model.__dict__)
    other.state_ = new
    other._pending = None
    other.only_ids_ = list(panel.series_ids)
    return other
