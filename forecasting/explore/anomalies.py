"""Anomalies of one series: SalesCast's one outlier rule (:func:`forecasting.data.outliers.seasonal_outliers`)
applied to the series behind a decomposition, so Explore flags what the Data page's quality report and its
treatments flag.

The scale is chosen from the data, per series: additive, sqrt or log (multiplicative) — a growing business
whose December peak grows with it is scored on the log scale, where the regular peaks are ordinary. A
robust z-score of the residual above the threshold (4.5 by default) is an anomaly. Interpolated points are
never flagged. Intermittent demand (more than 30% zero periods): only the non-zero periods are scored,
among themselves; runs of zeros in a series that is not intermittent (stock-outs) are not scored. ``flags``
(a date-indexed frame of the series' 0/1 covariates: promotion, holiday) makes the effects they explain
expected, as in the quality report."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y
from forecasting.data.outliers import THRESHOLD, ZERO_SHARE, flag_columns, robust_z, seasonal_outliers  # noqa: F401
from forecasting.explore.decompose import Decomposition

SCALE_TEXT = {"additive": "additive", "sqrt": "square root (Box-Cox 0.5)", "multiplicative": "multiplicative (log)"}


def score_series(y: pd.Series, season_length: int, threshold: float = THRESHOLD,
                 flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`seasonal_outliers` on one series on a regular grid (NaN: not scored); indexed like ``y``.
    ``flags``: date-indexed covariate columns (the 0/1 ones are used; dates missing there count as off)."""
    frame = pd.DataFrame({"unique_id": 0, "ds": y.index, "y": y.to_numpy(dtype="float64")})
    cols: list[str] = []
    if flags is not None and len(flags.columns):
        f = flags[~flags.index.duplicated(keep="first")].reindex(y.index)
        cols = [c for c in f.columns if c not in frame.columns]
        for c in cols:
            frame[c] = f[c].to_numpy()
    out = seasonal_outliers(frame, None, max(int(season_length), 1), threshold, period=np.arange(len(y)),
                            covariates=cols)
    out.index = y.index
    return out


def find_anomalies(dec: Decomposition, threshold: float = THRESHOLD, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Columns: ds, y, expected, resid (y - expected, or y / expected on the log scale), score (robust z);
    largest |score| first. ``attrs["scale"]`` names the scale used (additive | sqrt | multiplicative)."""
    f = dec.frame
    y = f["y"].where(~f["imputed"])
    scored = score_series(y, dec.periods[0] if dec.periods else 1, threshold, flags)
    scale = str(scored["scale"].iloc[0]) if len(scored) else "additive"
    hit = scored.index[scored["outlier"].to_numpy()]
    rows, exp = f.loc[hit, "y"], scored.loc[hit, "expected"]
    resid = rows / exp if scale == "multiplicative" else rows - exp
    out = pd.DataFrame({"ds": hit, "y": rows.to_numpy(), "expected": exp.to_numpy(), "resid": resid.to_numpy(),
                        "score": scored.loc[hit, "score"].to_numpy()})
    out = out.reindex(out["score"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    out.attrs["scale"] = scale
    return out


def anomaly_flags(dec: Decomposition, threshold: float = THRESHOLD,
                  flags: pd.DataFrame | None = None) -> tuple[pd.Series, str]:
    """One bool per row of ``dec.frame`` (the ``decompose`` command's ``anomaly`` column) and the scale."""
    f = dec.frame
    scored = score_series(f["y"].where(~f["imputed"]), dec.periods[0] if dec.periods else 1, threshold, flags)
    return scored["outlier"].astype(bool), (str(scored["scale"].iloc[0]) if len(scored) else "additive")


def series_flags(frame: pd.DataFrame, uid: str | None = None) -> pd.DataFrame | None:
    """The 0/1 covariate columns (promotion, holiday) of one series of a long frame, indexed by date; None
    when it has none."""
    if uid is not None and ID in frame.columns:
        frame = frame[frame[ID] == uid]
    cols = flag_columns(frame, [c for c in frame.columns if c not in (ID, DS, Y)])
    if not cols or DS not in frame.columns:
        return None
    return frame.set_index(pd.DatetimeIndex(frame[DS]))[cols]
