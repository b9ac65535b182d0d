"""Decomposition components of many series as one long table (the CLI output and the page download)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from forecasting.data.contract import ID, Dataset
from forecasting.explore.anomalies import anomaly_flags, series_flags
from forecasting.explore.decompose import decompose
from forecasting.explore.prep import to_series
from forecasting.progress import Cancelled, ProgressCallback, report


@dataclass
class Components:
    frame: pd.DataFrame                            # unique_id, date, y, trend, seasonal…, resid, imputed, anomaly
    periods: dict[str, list[int]]                  # series -> periods used
    notes: dict[str, list[str]] = field(default_factory=dict)   # series -> what happened (fallbacks…)
    detected: bool = False                         # periods were detected, not given
    scales: dict[str, str] = field(default_factory=dict)        # series -> anomaly scale (additive|sqrt|multiplicative)


def components(frame: pd.DataFrame, freq: str | None, method: str = "stl", periods: list[float] | None = None,
               model: str = "additive", robust: bool = False,
               progress: ProgressCallback | None = None) -> Components:
    """Decompose every series of a long frame; the seasonal columns are the union over series. ``anomaly``
    flags a row by SalesCast's one outlier rule (:func:`~forecasting.explore.anomalies.anomaly_flags`), the
    frame's 0/1 covariates (promotion, holiday) being expected effects."""
    parts, used, notes, scales = [], {}, {}, {}
    ids = list(pd.unique(frame[ID]))
    try:
        for i, uid in enumerate(ids):
            dec = decompose(to_series(frame, uid), freq, method, periods, model, robust)
            flags, scales[uid] = anomaly_flags(dec, flags=series_flags(frame, uid))
            f = dec.frame.assign(anomaly=flags.to_numpy()).reset_index().rename(columns={"ds": "date"})
            f.insert(0, ID, uid)
            parts.append(f)
            used[uid] = dec.periods
            notes[uid] = [n for n in dec.notes if not n.startswith("detected period")]
            report(progress, "decompose", i + 1, len(ids), f"series {i + 1}/{len(ids)} · {dec.method}")
    except Cancelled:
        pass
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[ID, "date", "y", "trend", "resid", "imputed", "anomaly"])
    seasonal = sorted({c for c in out.columns if c.startswith("seasonal")},
                      key=lambda c: (c != "seasonal", int(c.split("_")[1]) if "_" in c else 0))
    out = out[[ID, "date", "y", "trend", *seasonal, "resid", "imputed", "anomaly"]]
    out["anomaly"] = out["anomaly"].astype(bool)
    # a series without one of the periods (too short for it) has no such seasonal part: 0, so that
    # every row still adds up to y
    has = out["trend"].notna()
    for c in seasonal:
        out.loc[has & out[c].isna(), c] = 0.0
    return Components(out, used, notes, periods is None, scales)


def dataset_components(dataset: Dataset, series: str | None = None, **kwargs) -> Components:
    """:func:`components` on a dataset (one series of it when ``series`` is given), ids restored."""
    frame = dataset.df
    if series is not None:
        frame = frame[frame[ID] == series]
    comp = components(frame, dataset.freq, **kwargs)
    comp.frame = dataset.restore_ids(comp.frame)
    return comp
