"""Demand profile of a series and its Syntetos–Boylan demand class.

ADI (average demand interval) = periods / periods with non-zero demand; CV² = squared coefficient of
variation of the non-zero demand sizes. Cut-offs 1.32 and 0.49 (Syntetos, Boylan & Croston 2005):

- smooth (ADI < 1.32, CV² < 0.49): regular demand, most models work;
- erratic (ADI < 1.32, CV² >= 0.49): regular timing, very variable size;
- intermittent (ADI >= 1.32, CV² < 0.49): many zeros, steady sizes: Croston/TSB;
- lumpy (ADI >= 1.32, CV² >= 0.49): many zeros and variable sizes: hardest to forecast.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

ADI_CUT, CV2_CUT = 1.32, 0.49
ADVICE = {
    "smooth": "regular demand: most models work (ETS, ARIMA, theta)",
    "erratic": "regular timing but very variable size: robust models, wide intervals",
    "intermittent": "many zero periods with steady sizes: Croston or TSB",
    "lumpy": "many zero periods and variable sizes: Croston/TSB, expect large errors",
    "no demand": "no non-zero values: nothing to forecast",
    "unknown": "too few values to classify",
}


@dataclass
class DemandProfile:
    n: int                 # observed (non-missing) periods
    mean: float
    std: float
    cv: float              # std / mean
    skewness: float
    kurtosis: float        # excess kurtosis (0 for a normal distribution)
    zero_share: float      # share of periods with zero demand
    adi: float
    cv2: float
    demand_class: str

    @property
    def advice(self) -> str:
        return ADVICE[self.demand_class]

    def as_dict(self) -> dict:
        return asdict(self)


def classify(adi: float, cv2: float) -> str:
    if math.isnan(adi):
        return "unknown"
    if math.isinf(adi):
        return "no demand"
    cv2 = 0.0 if math.isnan(cv2) else cv2
    if adi < ADI_CUT:
        return "smooth" if cv2 < CV2_CUT else "erratic"
    return "intermittent" if cv2 < CV2_CUT else "lumpy"


def demand_profile(y: pd.Series | np.ndarray) -> DemandProfile:
    """Profile of the observed values of ``y`` (missing values are left out, never counted as zero)."""
    from scipy import stats

    x = np.asarray(y, dtype="float64")
    x = x[np.isfinite(x)]
    n = len(x)
    nan = float("nan")
    if n == 0:
        return DemandProfile(0, nan, nan, nan, nan, nan, nan, nan, nan, "unknown")
    mean, std = float(x.mean()), float(x.std(ddof=1)) if n > 1 else 0.0
    cv = std / abs(mean) if mean != 0 else nan
    flat = n < 3 or std == 0
    skew = 0.0 if flat else float(stats.skew(x, bias=False))
    kurt = 0.0 if flat else float(stats.kurtosis(x, bias=False))
    nz = x[x != 0]
    adi = n / len(nz) if len(nz) else math.inf
    if len(nz) > 1 and nz.mean() != 0:
        cv2 = float((nz.std(ddof=1) / abs(nz.mean())) ** 2)
    else:
        cv2 = 0.0 if len(nz) == 1 else nan
    cls = classify(adi, cv2) if n >= 2 else "unknown"
    return DemandProfile(n, mean, std, cv, skew, kurt, float((x == 0).mean()), adi, cv2, cls)
