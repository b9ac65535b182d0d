"""Forecasting with a trained deep model: last lookback window of every series -> quantiles -> intervals."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID
from forecasting.errors import ConfigError
from forecasting.models.base import bound_key
from forecasting.models.deep.calibrate import interval_bounds
from forecasting.models.deep.data import future_features


def rows_of(model, ids: Sequence[str] | None) -> np.ndarray:
    """Positions of ``ids`` among the trained series (all series when None)."""
    known = list(model.state_["series_ids"])
    if ids is None:
        return np.arange(len(known))
    pos = {u: i for i, u in enumerate(known)}
    missing = [u for u in ids if u not in pos]
    if missing:
        raise ConfigError(f"{model.name} was not trained on series {missing[:5]}")
    return np.asarray([pos[u] for u in ids], dtype=np.int64)


def network_outputs(model, h: int, futr_df: pd.DataFrame | None,
                    rows: np.ndarray | None = None) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """(n, H, Q) sorted quantile predictions in series-scaled units, and the (n * H) forecast dates, for
    the trained series at positions ``rows`` (all when None)."""
    import torch

    from forecasting.models.deep.device import autocast, torch_threads

    st, cfg = model.state_, model.config_
    rows = np.arange(len(st["series_ids"])) if rows is None else rows
    ids = [st["series_ids"][i] for i in rows]
    fo, dates = future_features(np.asarray(st["last_ds"])[rows], ids, st["freq"], st["horizon"], futr_df,
                                st["cov_names"], st["cov_stats"], cfg["holiday_country"], h,
                                bool(cfg.get("calendar", True)))
    dev = model.device_
    net = model.net_.eval()
    with torch_threads(cfg["num_threads"]), torch.no_grad():
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), device=dev)  # noqa: E731
        with autocast(dev, bool(cfg["amp"])):
            out = net(t(st["tail_y"][rows]), t(st["tail_m"][rows]), t(st["tail_f"][rows]), t(fo),
                      torch.as_tensor(rows, device=dev))
        pred = out.float().cpu().numpy()
    return np.sort(pred, axis=-1), dates


def forecast(model, h: int, futr_df: pd.DataFrame | None, levels: Sequence[int],
             ids: Sequence[str] | None = None) -> pd.DataFrame:
    from forecasting.models.deep.loop import TrainingError

    st, cfg = model.state_, model.config_
    rows = rows_of(model, ids)
    pred, dates = network_outputs(model, h, futr_df, rows)
    n, H, _ = pred.shape
    qs = list(st["quantiles"])
    cols: dict[str, np.ndarray] = {"mean": pred[..., qs.index(0.5)]}
    for l in levels:
        if not 0 < float(l) < 100:
            raise ConfigError(f"interval level must lie between 0 and 100, got {l}")
        lo, hi = interval_bounds(pred, qs, int(l), st["validation"], bool(cfg["conformal"]))
        cols[bound_key("lo", l)] = np.minimum(lo, cols["mean"])
        cols[bound_key("hi", l)] = np.maximum(hi, cols["mean"])
    loc, scale = st["scale"][rows, 0][:, None], st["scale"][rows, 1][:, None]
    out = pd.DataFrame({ID: np.repeat(np.asarray(st["series_ids"], dtype=object)[rows], h),
                        DS: pd.DatetimeIndex(dates).values.reshape(n, H)[:, :h].reshape(-1)})
    for k, v in cols.items():
        vals = (v * scale + loc)[:, :h].reshape(-1)
        if not np.isfinite(vals).all():
            raise TrainingError(f"{model.name} produced non-finite forecasts; retrain with a lower learning_rate")
        out[k] = vals
    return out
