"""One network per series (``local=True``): the same model class trained on each series alone."""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from forecasting.data.contract import ID
from forecasting.progress import report


def fit_local(model, df: pd.DataFrame, freq: str) -> dict[str, Any]:
    settings = {k: v for k, v in model.settings.items() if k not in ("local", "progress")}
    outer = model.settings.get("progress")
    ids = list(pd.unique(df[ID].astype(str)))
    models = {}
    for i, uid in enumerate(ids):
        def relay(ev, i=i, uid=uid):
            if outer is not None:
                outer(type(ev)(ev.stage, i + (ev.fraction or 0), len(ids), f"{uid}: {ev.message}",
                               {**ev.extra, "series": uid}))
        sub = type(model)(model.season_length, **settings, progress=relay)
        models[uid] = sub.fit(df[df[ID].astype(str) == uid], freq)
        report(outer, "train", i + 1, len(ids), f"{model.name}: series {i + 1}/{len(ids)} trained")
    return models


def local_settings(models: dict[str, Any]) -> dict[str, Any]:
    """What the per-series networks were trained with, read when asked: without a horizon they train at
    the first forecast, after ``fit``. Shared settings from the first network; epochs and validation loss
    per series."""
    first = next(iter(models.values()), None)
    if first is None:
        return {"local": True, "series": 0}
    return {**first.fitted_settings(), "local": True, "series": len(models),
            "epochs_run": {u: m.fitted_.get("epochs_run") for u, m in models.items()},
            "best_val_loss": {u: m.fitted_.get("best_val_loss") for u, m in models.items()}}


def predict_local(models: dict[str, Any], h: int, futr_df: pd.DataFrame | None, levels: Sequence[int]) -> pd.DataFrame:
    parts = []
    for uid, m in models.items():
        fut = None if futr_df is None else futr_df[futr_df[ID].astype(str) == uid]
        parts.append(m.predict(h, fut, levels))
    return pd.concat(parts, ignore_index=True)
