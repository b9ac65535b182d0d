"""Save and load a trained deep model as plain tensors, numbers and strings (a state dict plus config).

Loading uses ``torch.load(weights_only=True)``: no user file is ever unpickled into code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from forecasting.errors import DataError

FORMAT = "salescast-deep/1"
_ARRAYS = ("scale", "cov_stats", "tail_y", "tail_m", "tail_f")


def save(model, path: str | Path) -> None:
    import torch

    if model.local_ is not None:
        raise DataError(f"saving a {model.name} model fitted with local=True (one network per series) "
                        "is not supported; save a global model")
    if model.net_ is None:
        raise DataError(f"{model.name} is not fitted; nothing to save")
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

    from forecasting.models.deep.calibrate import ValidationSet
    from forecasting.models.deep.device import choose_device

    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear message
        raise DataError(f"cannot read a saved model from '{path}': {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DataError(f"'{path}' is not a SalesCast deep model file")
    if cls.name != "deep" and blob["model"] != cls.name:
        raise DataError(f"'{path}' holds a {blob['model']} model, not a {cls.name} model")
    if cls.name == "deep":
        from forecasting.models.registry import get_model_class

        cls = get_model_class(blob["model"])
    config = json.loads(blob["config"])
    # the saved settings, so that the checks on creation see them together (n_heads with hidden_size)
    settings = {k: v for k, v in config.items() if k in cls.setting_names() and k != "progress"}
    model = cls(blob["season_length"], **settings)
    dev = choose_device(config.get("device", "auto"))
    cfg = {**config, "train_levels": tuple(config["train_levels"])}
    net = model.build_net(cfg, blob["lookback"], blob["horizon"], blob["n_feats"], len(blob["series_ids"]))
    net.load_state_dict(blob["state_dict"])
    model.net_ = net.to(dev).eval()
    model.device_ = dev
    model.config_ = cfg
    model.fitted_ = json.loads(blob["fitted"])
    model.state_ = dict(
        freq=blob["freq"], horizon=blob["horizon"], lookback=blob["lookback"], quantiles=blob["quantiles"],
        series_ids=blob["series_ids"], cov_names=blob["cov_names"], cal_names=blob["cal_names"],
        n_feats=blob["n_feats"], last_ds=blob["last_ds"].numpy().astype("datetime64[ns]"),
        validation=ValidationSet(blob["val_pred"].numpy(), blob["val_target"].numpy(), blob["val_mask"].numpy()),
        **{k: blob[k].numpy() for k in _ARRAYS})
    return model
