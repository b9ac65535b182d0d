"""Forecasting with a trained deep model: last lookback window of every series -> quantiles -> intervals."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID
from forecasting.errors import ConfigError
from forecasting.models.deep.calibrate import interval_bounds
from forecasting.models.deep.data import future_features


def network_outputs(model, h: int, futr_df: pd.DataFrame | None) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """(n, H, Q) sorted quantile predictions in series-scaled units, and the (n * H) forecast dates."""
    import torch

    from forecasting.models.deep.device import autocast, torch_threads

    st, cfg = model.state_, model.config_
    fo, dates = future_features(st["last_ds"], st["series_ids"], st["freq"], st["horizon"], futr_df,
                                st["cov_names"], st["cov_stats"], cfg["holiday_country"], h,
                                bool(cfg.get("calendar", True)))
    dev = model.device_
    net = model.net_.eval()
    with torch_threads(cfg["num_threads"]), torch.no_grad():
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), device=dev)  # noqa: E731
        with autocast(dev, bool(cfg["amp"])):
            out = net(t(st["tail_y"]), t(st["tail_m"]), t(st["tail_f"]), t(fo),
                      torch.arange(len(st["series_ids"]), device=dev))
        pred = out.float().cpu().numpy()
    return np.sort(pred, axis=-1), dates


def forecast(model, h: int, futr_df: pd.DataFrame | None, levels: Sequence[int]) -> pd.DataFrame:
    from forecasting.models.deep.loop import TrainingError

    st, cfg = model.state_, model.config_
    pred, dates = network_outputs(model, h, futr_df)
    n, H, _ = pred.shape
    qs = list(st["quantiles"])
    cols: dict[str, np.ndarray] = {"mean": pred[..., qs.index(0.5)]}
    for l in levels:
        if not 0 < float(l) < 100:
            raise ConfigError(f"interval level must lie between 0 and 100, got {l}")
        lo, hi = interval_bounds(pred, qs, int(l), st["validation"], bool(cfg["conformal"]))
        cols[f"lo-{int(l)}"] = np.minimum(lo, cols["mean"])
        cols[f"hi-{int(l)}"] = np.maximum(hi, cols["mean"])
    loc, scale = st["scale"][:, 0][:, None], st["scale"][:, 1][:, None]
    out = pd.DataFrame({ID: np.repeat(np.asarray(st["series_ids"], dtype=object), h),
                        DS: pd.DatetimeIndex(dates).values.reshape(n, H)[:, :h].reshape(-1)})
    for k, v in cols.items():
        vals = (v * scale + loc)[:, :h].reshape(-1)
        if not np.isfinite(vals).all():
            raise TrainingError(f"{model.name} produced non-finite forecasts; retrain with a lower learning_rate")
        out[k] = vals
    return out
