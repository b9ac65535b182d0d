"""Stock targets from sampled lead-time demand.

For a cycle service level ``α`` (the probability that a replenishment cycle ends without a stock-out):

- **reorder point** ``s`` = the α-quantile of demand over the lead time ``L``;
- **safety stock** = ``s`` − mean lead-time demand;
- **order-up-to level** ``S`` = the α-quantile of demand over ``L + R`` (periodic review every ``R``
  periods: an order placed now must cover demand until the order after it arrives);
- **the tail** (α ≥ :data:`TAIL_LEVEL`): past the model's widest interval (98 %) a quantile read from the
  samples is an extreme order statistic of paths built from extrapolated tails — noisy and, calibrated on the
  backtest, far above what keeps the promise. There a target is ``median + q × spread`` of the sampled demand
  (:func:`center_scale`), ``q`` the α-quantile of past scaled errors (:class:`Reading`,
  :mod:`forecasting.planning.backtest`);
- **order quantity** = ``max(0, S − (on hand + on order))``, never negative;
- **expected fill rate** of the ``(R, S)`` policy = ``1 − E[(D_{L+R} − S)⁺ − (D_L − S)⁺] / E[D_R]``: the
  share of demand served from stock (units short in a cycle over units demanded in it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from forecasting.planning.leadtime import LeadTimeDemand

TAIL_LEVEL = 0.98   # service levels at or above: targets from scaled backtest errors (see Reading)


@dataclass
class Targets:
    lead_time_demand: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    fill_rate: float
    protection_demand: float    # mean demand over L + R


def quantile(x: np.ndarray, alpha: float) -> float:
    """The smallest sampled value at or below which at least ``alpha`` of the samples fall."""
    return float(np.quantile(np.asarray(x, float), alpha, method="inverted_cdf"))


def center_scale(x: np.ndarray) -> tuple[float, float]:
    """The median and spread of sampled demand: the 10–90 % range (the standard deviation where that range is
    0, e.g. mostly-zero demand; 0 when every sample is the same). Both come from the body of the distribution,
    which the model's intervals cover, not from its extreme samples."""
    x = np.asarray(x, float)
    lo, med, hi = np.quantile(x, (0.1, 0.5, 0.9))
    spread = float(hi - lo)
    if not spread > 0:
        spread = float(np.std(x))
    return float(med), spread


@dataclass(frozen=True)
class Reading:
    """How a target is read from sampled demand: the quantile at ``level`` (α, or α calibrated on the
    backtest), or, with a ``score`` (the tail), ``median + score × spread`` (:func:`center_scale`)."""
    level: float
    score: float | None = None

    def read(self, x: np.ndarray, cs: tuple[float, float] | None = None) -> float:
        if self.score is None:
            return quantile(x, self.level)
        med, spread = cs if cs is not None else center_scale(x)
        return med + self.score * spread


def shortfall(lead: np.ndarray, protection: np.ndarray, S: float) -> np.ndarray:
    """Units short in a review cycle with order-up-to ``S``: (D_{L+R} − S)⁺ − (D_L − S)⁺."""
    return np.maximum(protection - S, 0.0) - np.maximum(lead - S, 0.0)


def fill_rate(ltd: LeadTimeDemand, S: float) -> float:
    demand = float(np.mean(ltd.review))
    if demand <= 0:
        return 1.0
    return float(np.clip(1.0 - float(np.mean(shortfall(ltd.lead, ltd.protection, S))) / demand, 0.0, 1.0))


def targets(ltd: LeadTimeDemand, alpha: float | Reading, alpha_protection: float | Reading | None = None) -> Targets:
    """Targets read at level ``alpha`` (the reorder point, over the lead time) and ``alpha_protection`` (the
    order-up-to level, over lead time + review period; default ``alpha``): each calibrated on its own period.
    A level is a number (the quantile read there) or a :class:`Reading`."""
    read = alpha if isinstance(alpha, Reading) else Reading(float(alpha))
    read_p = read if alpha_protection is None else (
        alpha_protection if isinstance(alpha_protection, Reading) else Reading(float(alpha_protection)))
    mean = float(np.mean(ltd.lead))
    rop = read.read(ltd.lead)
    S = max(read_p.read(ltd.protection), rop)
    return Targets(mean, rop - mean, rop, S, fill_rate(ltd, S), float(np.mean(ltd.protection)))


def order_quantity(order_up_to: float, on_hand: float, on_order: float = 0.0) -> float:
    """What to order now to bring the inventory position up to ``order_up_to``; never negative."""
    position = float(on_hand) + float(on_order if on_order == on_order else 0.0)
    return max(0.0, float(order_up_to) - position)


def normal_targets(mean_per_period: np.ndarray, sigma_one_step: float, lead_time: int, review_period: int,
                   alpha: float) -> tuple[float, float]:
    """The textbook baseline: normal lead-time demand, ``σ_L = σ₁·√L`` (independent periods).
    Returns (reorder point, order-up-to level)."""
    z = norm.ppf(alpha)
    m = np.asarray(mean_per_period, float)
    rop = float(m[:lead_time].sum() + z * sigma_one_step * np.sqrt(lead_time))
    S = float(m[:lead_time + review_period].sum() + z * sigma_one_step * np.sqrt(lead_time + review_period))
    return max(rop, 0.0), max(S, 0.0)
