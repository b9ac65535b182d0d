"""The policy backtest, and the calibration of the service level on the backtest.

At each rolling-origin cutoff of a series the backtest holds the forecast made then (mean and interval
bounds) and the demand that followed. From these:

1. **Probability vectors** (:func:`probability_pool`): where each window's actual values fell under its
   forecast, period by period; pooled over series they shape the lead-time demand
   (:mod:`forecasting.planning.leadtime`).
2. **Window draws** (:func:`window_draws`): the lead-time demand each cutoff's forecast implied, sampled with
   the vectors of the *other* windows, and the probability at which the actual lead-time demand fell in it.
3. **Calibrated level** (:func:`calibrated_level`): split-conformal on those probabilities. The reorder
   point is read at level ``α'`` = the ⌈(n + 1)·α⌉-th smallest of the n probabilities, so that past lead-time
   demands stayed at or below their reorder points in a share α of cycles; the order-up-to level likewise at
   the level calibrated on the demand over lead time + review period, the period it must cover (one level for
   both over-stocked smooth series at short lead times: at L = 1 that period is twice the lead time). It corrects what the bootstrap of
   period-by-period vectors leaves (series whose errors differ from the pool's). With fewer than
   :data:`MIN_CALIBRATION` probabilities, ``α' = α``.
   **The tail** (α ≥ :data:`~forecasting.planning.policy.TAIL_LEVEL`, 98 %): a level α' near 1 reads an
   extreme sample — past the model's widest bounds, where the sampled tail is extrapolated — and the
   calibration pushes it there (at 99 % on 150 M3 series, 1.3–1.6× the stock a calibrated normal needed for the
   same service). So the tail is calibrated on scaled errors instead (:func:`calibration`): each past cycle's
   ``(actual − median) / spread`` of its sampled demand, and the target is ``median + q × spread`` with ``q``
   the ⌈(n + 1)·α⌉-th smallest score (split conformal); where α asks beyond the largest score (few cycles), an
   exponential tail (a generalised Pareto with shape 0) fitted to the top scores extends it
   (:func:`tail_quantile`).
4. **Policy backtest** (:func:`policy_backtest`): at each of the last ``windows`` cutoffs, the targets computed
   then — sampled without that window's vectors, at a level calibrated without that window — against the
   demand that followed: achieved cycle service level, units short, the average stock the ``(R, S)`` policy
   implies, beside the textbook normal approximation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.data.contract import DS, ID
from forecasting.models.base import bound_column
from forecasting.planning.leadtime import (QUANTILE_LEVELS, Marginals, draw_lead_times, knots_from_bounds,
                                           lead_time_demand, max_lead_time)
from forecasting.planning.policy import TAIL_LEVEL, Reading, center_scale, shortfall

MIN_CALIBRATION = 30


def marginals(g: pd.DataFrame, P: int, non_negative: bool) -> Marginals:
    """The first ``P`` periods of a forecast frame (``lo_L``/``hi_L`` at the planning levels) as quantile functions."""
    lo = {l: g[bound_column("lo", l)].to_numpy(float)[:P] for l in QUANTILE_LEVELS}
    hi = {l: g[bound_column("hi", l)].to_numpy(float)[:P] for l in QUANTILE_LEVELS}
    probs, q = knots_from_bounds(lo, hi)
    return Marginals.from_knots(probs, q, non_negative)


def sigma_one_step(g: pd.DataFrame) -> float:
    """The forecast's one-step standard deviation, read from its 80 % interval (for the normal baseline)."""
    return float(max(g["hi_80"].iloc[0] - g["lo_80"].iloc[0], 0.0) / (2 * norm.ppf(0.9)))


def backtest_groups(bt: pd.DataFrame, P: int) -> dict[str, list[tuple[pd.Timestamp, pd.DataFrame]]]:
    """Backtest forecasts per series and cutoff (oldest first); windows shorter than ``P`` periods left out."""
    groups: dict[str, list] = {}
    for (uid, cutoff), g in bt.groupby([ID, "cutoff"], sort=True):
        if len(g) >= P:
            groups.setdefault(uid, []).append((pd.Timestamp(cutoff), g.sort_values(DS)))
    return groups


def probability_pool(bt_groups: dict, P: int, nonneg: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The probability vectors of every backtest window (m, P) and each one's window (0 = a series' latest)."""
    rng = np.random.default_rng(seed)
    pool_u, pool_w = [], []
    for uid, wins in bt_groups.items():
        for k, (cutoff, g) in enumerate(wins):
            u = marginals(g, P, nonneg.get(uid, True)).pit(g["actual"].to_numpy(float)[:P], rng)
            if np.isfinite(u).all():
                pool_u.append(u)
                pool_w.append(len(wins) - 1 - k)
    return np.asarray(pool_u, dtype=float).reshape(-1, P), np.asarray(pool_w, dtype=int)


@dataclass
class WindowDraw:
    uid: str
    cutoff: pd.Timestamp
    back: int                  # 0 = the series' latest window
    lead: np.ndarray           # sorted samples of lead-time demand (float32)
    protection: np.ndarray     # samples of demand over lead time + review period, path by path with ``lead``
    actual_lead: float
    actual_protection: float
    u: float                   # where the actual lead-time demand fell among the samples
    u_protection: float        # … and the actual demand over lead time + review period among ``protection``
    method: str
    normal: tuple[float, float, float]   # for the normal baseline: Σ mean over L, over L + R, σ₁


def window_draws(bt_groups: dict, pool: np.ndarray, pool_w: np.ndarray, nonneg: dict, *, lead_time: float,
                 review_period: int, lead_time_sd: float = 0.0, n_paths: int = 2000, seed: int = 0) -> list[WindowDraw]:
    """Every backtest window's lead-time demand, sampled with the other windows' probability vectors."""
    L, R = float(lead_time), int(review_period)
    P = max_lead_time(L, lead_time_sd) + R
    out = []
    for i, (uid, wins) in enumerate(bt_groups.items()):
        for k, (cutoff, g) in enumerate(wins):
            back = len(wins) - 1 - k
            actual = g["actual"].to_numpy(float)[:P]
            if not np.isfinite(actual).all():
                continue
            rng = np.random.default_rng([seed, i, back])
            ltd = lead_time_demand(marginals(g, P, nonneg.get(uid, True)), L, R, lead_time_sd=lead_time_sd,
                                   pool=pool[pool_w != back] if len(pool) else None, n_paths=n_paths, rng=rng)
            Lr = min(int(draw_lead_times(1, L, lead_time_sd, rng)[0]), P - R)
            a_lead, a_prot = float(actual[:Lr].sum()), float(actual[:Lr + R].sum())
            order = np.argsort(ltd.lead, kind="stable")
            lead, prot = ltd.lead[order], ltd.protection[order]
            below = np.searchsorted(lead, a_lead, side="left")
            ties = np.searchsorted(lead, a_lead, side="right") - below
            u = (below + rng.uniform() * ties) / lead.size
            ps = np.sort(prot)
            below = np.searchsorted(ps, a_prot, side="left")
            ties = np.searchsorted(ps, a_prot, side="right") - below
            u_p = (below + rng.uniform() * ties) / ps.size
            f = g["forecast"].to_numpy(float)
            out.append(WindowDraw(uid, cutoff, back, lead.astype(np.float32), prot.astype(np.float32), a_lead,
                                  a_prot, float(u), float(u_p), ltd.method,
                                  (float(f[:int(round(L))].sum()), float(f[:int(round(L)) + R].sum()), sigma_one_step(g))))
    return out


def calibrated_level(us: np.ndarray, alpha: float) -> float:
    """Split-conformal level: the ⌈(n + 1)·α⌉-th smallest of ``us`` (α itself with fewer than
    :data:`MIN_CALIBRATION` values)."""
    us = np.sort(np.asarray(us, float)[np.isfinite(us)])
    n = us.size
    if n < MIN_CALIBRATION:
        return float(alpha)
    k = math.ceil((n + 1) * float(alpha))
    return 1.0 if k > n else float(np.clip(us[k - 1], 1e-6, 1.0))


def tail_quantile(scores: np.ndarray, alpha: float) -> float | None:
    """The α-quantile of scaled errors, split conformal: the ⌈(n + 1)·α⌉-th smallest; beyond the largest, the
    peaks over a threshold (the top fifth of the scores, at least 10) fitted with an exponential tail (a
    generalised Pareto with shape 0: threshold + mean excess × ln(share above / (1 − α))). None with fewer than
    :data:`MIN_CALIBRATION` scores."""
    s = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    n = s.size
    if n < MIN_CALIBRATION:
        return None
    k = math.ceil((n + 1) * float(alpha))
    if k <= n:
        return float(s[k - 1])
    m = min(max(10, math.ceil(0.2 * n)), n - 1)
    u = float(s[n - m - 1])
    beta = float(np.mean(s[n - m:] - u))
    return u + beta * math.log((m / (n + 1)) / (1.0 - float(alpha)))


def scaled_errors(x: list[np.ndarray], actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each past cycle's (median, spread) of its sampled demand (n, 2), and its scaled error
    ``(actual − median) / spread`` (NaN where the samples have no spread)."""
    cs = np.array([center_scale(v) for v in x], dtype=float).reshape(-1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(cs[:, 1] > 0, (np.asarray(actual, float) - cs[:, 0]) / cs[:, 1], np.nan)
    return cs, sc


def calibration(us: np.ndarray, score: np.ndarray, alpha: float, calibrate: bool = True,
                tail: bool = True) -> Reading:
    """How targets at service level α are read: below :data:`TAIL_LEVEL` at the level calibrated on the
    probabilities ``us`` (:func:`calibrated_level`); at or above it, median + q × spread with ``q`` the
    α-quantile of the scaled errors ``score`` (:func:`tail_quantile`). ``calibrate=False`` (or too few cycles):
    the quantile at α itself. ``tail=False``: the calibrated level at every α (as before the tail had its own
    reading; the benchmark's before/after)."""
    alpha = float(alpha)
    if not calibrate:
        return Reading(alpha)
    if tail and alpha >= TAIL_LEVEL:
        q = tail_quantile(score, alpha)
        return Reading(alpha) if q is None else Reading(alpha, q)
    return Reading(calibrated_level(us, alpha))


def policy_backtest(draws: list[WindowDraw], *, service_level: float, lead_time: float, review_period: int,
                    windows: int, calibrate: bool = True, tail: bool = True) -> pd.DataFrame:
    """One row per series × cutoff of the last ``windows`` cutoffs: the targets then, and what happened."""
    K = int(windows)
    if not K or not draws:
        return pd.DataFrame()
    alpha, R, Lr = float(service_level), int(review_period), int(round(float(lead_time)))
    us = np.array([d.u for d in draws])
    us_p = np.array([d.u_protection for d in draws])
    backs = np.array([d.back for d in draws])
    cs, sc = scaled_errors([d.lead for d in draws], np.array([d.actual_lead for d in draws]))
    cs_p, sc_p = scaled_errors([d.protection for d in draws], np.array([d.actual_protection for d in draws]))
    level = {b: calibration(us[backs != b], sc[backs != b], alpha, calibrate, tail) for b in range(K)}
    level_p = {b: calibration(us_p[backs != b], sc_p[backs != b], alpha, calibrate, tail) for b in range(K)}
    z = norm.ppf(alpha)
    # the normal baseline calibrated the same way (its z from the other windows' standardised errors):
    # the stock a normal approximation needs to keep the same promise
    scores = np.array([(d.actual_lead - d.normal[0]) / max(d.normal[2] * math.sqrt(Lr), 1e-9) for d in draws])
    zc = {b: _conformal(scores[backs != b], alpha, z) for b in range(K)}
    # … and on the protection period L + R, which sets the order-up-to level and so the stock (the normal's
    # √(L + R) assumes independent periods around the forecast)
    scores_p = np.array([(d.actual_protection - d.normal[1]) / max(d.normal[2] * math.sqrt(Lr + R), 1e-9)
                         for d in draws])
    zp = {b: _conformal(scores_p[backs != b], alpha, z) for b in range(K)}
    rows = []
    for i, d in enumerate(draws):
        if d.back >= K:
            continue
        a = level[d.back]
        rop = a.read(d.lead, tuple(cs[i]))
        S = max(level_p[d.back].read(d.protection, tuple(cs_p[i])), rop)
        mean = float(np.mean(d.lead))
        short = float(shortfall(np.array([d.actual_lead]), np.array([d.actual_protection]), S)[0])
        sum_l, sum_lr, s1 = d.normal
        n_rop = max(sum_l + z * s1 * math.sqrt(Lr), 0.0)
        n_S = max(sum_lr + z * s1 * math.sqrt(Lr + R), n_rop)
        c_rop = max(sum_l + zc[d.back] * s1 * math.sqrt(Lr), 0.0)
        c_S = max(sum_lr + zc[d.back] * s1 * math.sqrt(Lr + R), c_rop)
        p_S = max(sum_lr + zp[d.back] * s1 * math.sqrt(Lr + R), c_rop)
        rows.append({ID: d.uid, "cutoff": d.cutoff, "level_used": a.level, "tail_score": np.nan if a.score is None else a.score, "lead_demand": d.actual_lead,
                     "review_demand": d.actual_protection - d.actual_lead, "lead_time_demand": mean,
                     "reorder_point": rop, "order_up_to": S, "hit": float(d.actual_lead <= rop),
                     "stockout": int(d.actual_lead > rop), "shortfall": short,
                     "average_stock": (max(S - d.actual_lead, 0) + max(S - d.actual_protection, 0)) / 2,
                     "normal_reorder_point": n_rop, "normal_order_up_to": n_S,
                     "normal_hit": float(d.actual_lead <= n_rop),
                     "normal_shortfall": float(shortfall(np.array([d.actual_lead]), np.array([d.actual_protection]), n_S)[0]),
                     "normal_average_stock": (max(n_S - d.actual_lead, 0) + max(n_S - d.actual_protection, 0)) / 2,
                     "calibrated_normal_hit": float(d.actual_lead <= c_rop),
                     "calibrated_normal_average_stock": (max(c_S - d.actual_lead, 0) + max(c_S - d.actual_protection, 0)) / 2,
                     "protection_hit": float(d.actual_protection <= S),
                     "calibrated_normal_protection_hit": float(d.actual_protection <= c_S),
                     "protection_normal_hit": float(d.actual_protection <= p_S),
                     "protection_normal_average_stock": (max(p_S - d.actual_lead, 0) + max(p_S - d.actual_protection, 0)) / 2,
                     "method": d.method})
    return pd.DataFrame(rows)


def _conformal(scores: np.ndarray, alpha: float, default: float) -> float:
    s = np.sort(scores[np.isfinite(scores)])
    if s.size < MIN_CALIBRATION:
        return float(default)
    k = math.ceil((s.size + 1) * alpha)
    return float(s[min(k, s.size) - 1])


def policy_summary(policy: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Target vs achieved service level and fill rate, overall and per ABC, XYZ and demand class."""
    cols = ["group", "class", "series", "cycles", "target_service_level", "achieved_service_level",
            "achieved_fill_rate", "stockouts", "average_stock", "normal_service_level", "normal_average_stock",
            "calibrated_normal_service_level", "calibrated_normal_average_stock", "protection_service_level",
            "calibrated_normal_protection_service_level", "protection_normal_service_level",
            "protection_normal_average_stock"]
    if policy is None or not len(policy):
        return pd.DataFrame(columns=cols)

    def one(g: pd.DataFrame, group: str, cls: str) -> dict:
        dem = float(g["review_demand"].sum())
        return {"group": group, "class": cls, "series": int(g[ID].nunique()), "cycles": len(g),
                "target_service_level": alpha, "achieved_service_level": float(g["hit"].mean()),
                "achieved_fill_rate": 1 - float(g["shortfall"].sum()) / dem if dem > 0 else 1.0,
                "stockouts": int(g["stockout"].sum()), "average_stock": float(g["average_stock"].mean()),
                "normal_service_level": float(g["normal_hit"].mean()),
                "normal_average_stock": float(g["normal_average_stock"].mean()),
                "calibrated_normal_service_level": float(g["calibrated_normal_hit"].mean()),
                "calibrated_normal_average_stock": float(g["calibrated_normal_average_stock"].mean()),
                "protection_service_level": float(g["protection_hit"].mean()),
                "calibrated_normal_protection_service_level": float(g["calibrated_normal_protection_hit"].mean()),
                "protection_normal_service_level": float(g["protection_normal_hit"].mean()),
                "protection_normal_average_stock": float(g["protection_normal_average_stock"].mean())}

    out = [one(policy, "all", "all")]
    for group in ("abc", "xyz", "demand_class"):
        if group in policy.columns:
            out += [one(g, group, str(c)) for c, g in policy.groupby(group, sort=True)]
    return pd.DataFrame(out, columns=cols)


