"""Stock targets from sampled lead-time demand.

For a cycle service level ``α`` (the probability that a replenishment cycle ends without a stock-out):

- **reorder point** ``s`` = the α-quantile of demand over the lead time ``L``;
- **safety stock** = ``s`` − mean lead-time demand;
- **order-up-to level** ``S`` = the α-quantile of demand over ``L + R`` (periodic review every ``R``
  periods: an order placed now must cover demand until the order after it arrives);
- **order quantity** = ``max(0, S − (on hand + on order))``, never negative;
- **expected fill rate** of the ``(R, S)`` policy = ``1 − E[(D_{L+R} − S)⁺ − (D_L − S)⁺] / E[D_R]``: the
  share of demand served from stock (units short in a cycle over units demanded in it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from forecasting.planning.leadtime import LeadTimeDemand


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


def shortfall(lead: np.ndarray, protection: np.ndarray, S: float) -> np.ndarray:
    """Units short in a review cycle with order-up-to ``S``: (D_{L+R} − S)⁺ − (D_L − S)⁺."""
    return np.maximum(protection - S, 0.0) - np.maximum(lead - S, 0.0)


def fill_rate(ltd: LeadTimeDemand, S: float) -> float:
    demand = float(np.mean(ltd.review))
    if demand <= 0:
        return 1.0
    return float(np.clip(1.0 - float(np.mean(shortfall(ltd.lead, ltd.protection, S))) / demand, 0.0, 1.0))


def targets(ltd: LeadTimeDemand, alpha: float, alpha_protection: float | None = None) -> Targets:
    """Targets read at level ``alpha`` (the reorder point, over the lead time) and ``alpha_protection`` (the
    order-up-to level, over lead time + review period; default ``alpha``): each calibrated on its own period."""
    mean = float(np.mean(ltd.lead))
    rop = quantile(ltd.lead, alpha)
    S = max(quantile(ltd.protection, alpha if alpha_protection is None else alpha_protection), rop)
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
