"""Moving averages and a least-squares trend line."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError


def sma(y: pd.Series, window: int, center: bool = False) -> pd.Series:
    """Simple moving average over ``window`` periods; gaps are skipped (needs half the window present)."""
    if int(window) < 1:
        raise ConfigError(f"the moving-average window must be at least 1 (got {window})")
    window = int(window)
    return y.rolling(window, min_periods=max(1, (window + 1) // 2), center=center).mean()


def ema(y: pd.Series, span: int) -> pd.Series:
    """Exponential moving average with ``span`` (alpha = 2 / (span + 1)); gaps are skipped."""
    if int(span) < 1:
        raise ConfigError(f"the exponential-average span must be at least 1 (got {span})")
    return y.ewm(span=int(span), adjust=False, ignore_na=True).mean().where(y.ffill().notna())


@dataclass
class TrendLine:
    fitted: pd.Series      # the line at every date of the series
    slope: float           # change in y per period
    intercept: float       # value at the first period
    r2: float              # share of the variance the line explains


def trend_line(y: pd.Series) -> TrendLine:
    """Ordinary least-squares line through the observed points, against the period number."""
    t = np.arange(len(y), dtype="float64")
    v = y.to_numpy(dtype="float64")
    ok = np.isfinite(v)
    if ok.sum() < 2:
        level = float(v[ok][0]) if ok.any() else float("nan")
        return TrendLine(pd.Series(level, index=y.index), 0.0, level, float("nan"))
    slope, intercept = np.polyfit(t[ok], v[ok], 1)
    fitted = intercept + slope * t
    ss_tot = float(((v[ok] - v[ok].mean()) ** 2).sum())
    r2 = 1 - float(((v[ok] - fitted[ok]) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return TrendLine(pd.Series(fitted, index=y.index), float(slope), float(intercept), r2)
