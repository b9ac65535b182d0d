"""Anomalies: dates whose decomposition residual is extreme on a robust z-score.

z = (resid − median) / scale, a robust z-score (Iglewicz & Hoaglin) whose scale is floored by a trimmed
standard deviation (see :func:`robust_z`); |z| above the threshold (3.5 by default)
is an anomaly. Interpolated points are never flagged. For a multiplicative decomposition the
residual is a ratio, so its logarithm is scored. For intermittent demand (more than 30% zero periods)
the zeros would make every sale look extreme, so only the non-zero periods are scored, among themselves."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.explore.decompose import Decomposition

ZERO_SHARE = 0.3   # above this share of zero periods, only non-zero demands are scored


def robust_z(resid: pd.Series) -> pd.Series:
    """(resid - median) / scale, the scale being the larger of MAD / 0.6745 and the standard deviation
    of the 95% of points nearest the median / 0.871 (both estimate sigma for normal noise).

    The MAD alone is too small when a robust decomposition fits most points tightly or when many
    values are equal (intermittent demand): ordinary noise would then look extreme."""
    r = resid.astype("float64")
    med = r.median()
    dev = (r - med).abs()
    mad = dev.median() / 0.6745
    kept = dev[dev <= dev.quantile(0.95)]
    trimmed = float(np.sqrt((kept ** 2).mean()) / 0.871) if len(kept) else 0.0
    scale = max(mad, trimmed)
    if not np.isfinite(scale) or scale == 0:
        return pd.Series(0.0, index=r.index)
    return (r - med) / scale


def find_anomalies(dec: Decomposition, threshold: float = 3.5) -> pd.DataFrame:
    """Columns: ds, y, expected (y without the residual), resid, score (robust z); largest |score| first."""
    f = dec.frame
    ok = f["resid"].notna() & ~f["imputed"]
    if (f.loc[ok, "y"] == 0).mean() > ZERO_SHARE:
        ok &= f["y"] != 0   # intermittent demand: score the non-zero demands among themselves
    resid = f.loc[ok, "resid"]
    if dec.multiplicative:
        resid = np.log(resid.where(resid > 0))
    z = robust_z(resid.dropna())
    hit = z[z.abs() > threshold].index
    rows = f.loc[hit]
    expected = rows["y"] / rows["resid"] if dec.multiplicative else rows["y"] - rows["resid"]
    out = pd.DataFrame({"ds": hit, "y": rows["y"].to_numpy(), "expected": expected.to_numpy(),
                        "resid": rows["resid"].to_numpy(), "score": z.loc[hit].to_numpy()})
    return out.reindex(out["score"].abs().sort_values(ascending=False).index).reset_index(drop=True)
