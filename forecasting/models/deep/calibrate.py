"""Conformal calibration of the intervals on the validation windows (split conformal).

For a level learnt as a quantile pair (lo, hi), conformalised quantile regression (CQR): the score of a
validation target is ``max(lo - y, y - hi)``; the intervals widen (or narrow) by the score's conformal
quantile. For any other level, intervals are the median plus/minus the conformal quantile of ``|y - median|``.
Scores are in series-scaled units, so one set serves every series. Computed per horizon step when there
are at least ``MIN_PER_STEP`` validation windows, pooled over steps otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecasting.errors import ConfigError

MIN_PER_STEP = 100


@dataclass
class ValidationSet:
    pred: np.ndarray     # (n, H, Q) quantile predictions, sorted along Q, series-scaled
    target: np.ndarray   # (n, H)
    mask: np.ndarray     # (n, H), 1 where the target is observed

    @property
    def size(self) -> int:
        return int(self.pred.shape[0])


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest score (the largest when there are too few)."""
    s = np.sort(scores[np.isfinite(scores)])
    if len(s) == 0:
        return 0.0
    k = min(len(s), math.ceil((len(s) + 1) * level))
    return float(s[k - 1])


def _per_step(scores: np.ndarray, mask: np.ndarray, level: float) -> np.ndarray:
    H = scores.shape[1]
    if scores.shape[0] >= MIN_PER_STEP:
        return np.array([conformal_quantile(scores[mask[:, j] > 0, j], level) for j in range(H)])
    return np.full(H, conformal_quantile(scores[mask > 0], level))


def interval_bounds(pred: np.ndarray, quantiles: list[float], level: int, val: ValidationSet | None,
                    conformal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (n, H) for ``level`` from quantile predictions ``pred`` (n, H, Q)."""
    lo_q, hi_q = round(0.5 - level / 200, 6), round(0.5 + level / 200, 6)
    med = pred[..., quantiles.index(0.5)]
    have = val is not None and val.size > 0
    if lo_q in quantiles and hi_q in quantiles:
        lo, hi = pred[..., quantiles.index(lo_q)], pred[..., quantiles.index(hi_q)]
        if not (conformal and have):
            return lo, hi
        vlo, vhi = val.pred[..., quantiles.index(lo_q)], val.pred[..., quantiles.index(hi_q)]
        adj = _per_step(np.maximum(vlo - val.target, val.target - vhi), val.mask, level / 100)
        return lo - adj, hi + adj
    if not have:
        raise ConfigError(f"interval level {level} was not learnt (train_levels) and the series are too short "
                          "for validation windows to calibrate it; add it to train_levels")
    vmed = val.pred[..., quantiles.index(0.5)]
    adj = _per_step(np.abs(val.target - vmed), val.mask, level / 100)
    return med - adj, med + adj
