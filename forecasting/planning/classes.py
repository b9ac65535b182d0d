"""ABC and XYZ classes, beside the Syntetos–Boylan demand class of :mod:`forecasting.explore.profile`.

- **ABC** ranks series by value (units × price where a price is known, else units) over the basis
  periods (the last year of history, or the horizon when longer). Walking down the ranking, a series is ``A`` while the share of total value of the series ranked
  above it is below the first threshold (default 80 %), ``B`` below the second (default 95 %), else ``C``:
  the series that crosses 80 % is still ``A``. No value at all: every series is ``C``.
- **XYZ** is the coefficient of variation (standard deviation / mean) of the per-period demand over the same
  basis periods: ``X`` up to the first threshold (default 0.5), ``Y`` up to the second (default 1.0), else
  ``Z`` (and ``Z`` for a series with no demand).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

ABC_THRESHOLDS: tuple[float, float] = (0.80, 0.95)
XYZ_THRESHOLDS: tuple[float, float] = (0.5, 1.0)


def check_thresholds(name: str, t: Sequence[float], upper: float | None) -> tuple[float, float]:
    from forecasting.errors import ConfigError

    if len(t) != 2:
        raise ConfigError(f"{name} thresholds are two numbers (got {list(t)})")
    a, b = float(t[0]), float(t[1])
    if not (0 < a < b) or (upper is not None and b >= upper):
        lim = f" and below {upper:g}" if upper is not None else ""
        raise ConfigError(f"{name} thresholds must be increasing, above 0{lim} (got {a:g}, {b:g})")
    return a, b


def abc_classes(value: pd.Series, thresholds: Sequence[float] = ABC_THRESHOLDS) -> pd.Series:
    """``A``/``B``/``C`` per series (index kept) from each series' value."""
    a, b = thresholds
    v = value.astype(float).fillna(0.0).clip(lower=0.0)
    total = float(v.sum())
    if total <= 0:
        return pd.Series("C", index=value.index)
    order = v.sort_values(ascending=False, kind="stable")
    before = (order.cumsum() - order) / total
    cls = np.where(before < a - 1e-12, "A", np.where(before < b - 1e-12, "B", "C"))
    cls = pd.Series(cls, index=order.index)
    cls[order == 0] = "C"
    return cls.reindex(value.index)


def xyz_class(cv: float, thresholds: Sequence[float] = XYZ_THRESHOLDS) -> str:
    x, y = thresholds
    if not np.isfinite(cv):
        return "Z"
    return "X" if cv <= x else "Y" if cv <= y else "Z"


def coefficient_of_variation(y: np.ndarray) -> float:
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    if y.size < 2 or y.mean() <= 0:
        return float("nan") if y.size < 2 else float("inf")
    return float(y.std(ddof=1) / y.mean())


def demand_class(y: np.ndarray) -> str:
    from forecasting.explore.profile import demand_profile

    return demand_profile(y).demand_class
