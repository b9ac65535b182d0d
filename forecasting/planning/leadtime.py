"""Lead-time demand as a distribution, from sample paths.

A model gives, for each future period, a forecast distribution (its mean and the bounds of its prediction
intervals). The demand over a lead time is the *sum* of several periods, and the quantile of a sum is not
the sum of the quantiles: adding the periods' 95 % bounds assumes every period is high together
(perfect dependence) and overstates the stock needed; treating the periods as independent understates it
when errors persist (a level that was forecast too low stays too low). So SalesCast draws sample paths:

1. **Marginals** — each period's quantile function, read from the model's interval bounds at
   :data:`QUANTILE_LEVELS` and interpolated linearly in normal scores (exact for a normal forecast; beyond
   the outermost bounds the last slope continues, i.e. a normal tail), clipped at zero for non-negative
   series.
2. **Dependence** — a path is one vector of probabilities ``u_1 … u_P`` (one per period), mapped through
   the marginals. The vectors come from the rolling-origin backtest: each backtest window of each series
   gives the probabilities at which its *actual* values fell under the forecast made at that cutoff
   (probability integral transforms, randomised on atoms such as a zero). Resampling those whole vectors
   (pooled over series) is a bootstrap of backtest residuals on the probability scale: it keeps how errors
   in successive periods move together *and* corrects intervals that are too narrow or too wide on this
   data (``method = "bootstrap"``). With fewer than :data:`MIN_POOL` vectors (short data, no backtest)
   the periods are joined by a Gaussian copula with one correlation ``rho`` between every two periods
   (``method = "copula"``): ``rho = 0`` independent periods, ``rho = 1`` the sum of quantiles; the default
   :data:`DEFAULT_RHO` is a stated middle ground whose coverage the policy backtest measures.
3. **Lead time** — fixed, or variable (mean and standard deviation): each path draws its own whole number
   of periods (a normal rounded to whole periods, at least 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

# interval levels asked of the model: the bounds give 16 quantiles between 1 % and 99 %
QUANTILE_LEVELS: tuple[int, ...] = (10, 20, 40, 60, 80, 90, 95, 98)
MIN_POOL = 30          # probability vectors needed before the bootstrap replaces the copula
DEFAULT_RHO = 0.5      # copula correlation between periods when the backtest gives too few vectors
U_CLIP = 5e-4          # pooled probabilities kept inside (U_CLIP, 1 - U_CLIP): no infinite tails


def knot_probs(levels=QUANTILE_LEVELS) -> np.ndarray:
    p = sorted({0.5 - l / 200.0 for l in levels} | {0.5 + l / 200.0 for l in levels})
    return np.asarray(p, dtype=float)


def knots_from_bounds(lo: dict[int, np.ndarray], hi: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Quantile knots per period from interval bounds ``{level: array(P)}``: (probabilities (K,), values (P, K))."""
    levels = sorted(lo)
    probs = knot_probs(levels)
    cols = {0.5 - l / 200.0: np.asarray(lo[l], float) for l in levels}
    cols.update({0.5 + l / 200.0: np.asarray(hi[l], float) for l in levels})
    q = np.column_stack([cols[p] for p in probs])
    return probs, np.maximum.accumulate(q, axis=1)


@dataclass
class Marginals:
    """Quantile functions of P periods, piecewise linear in the normal score ``z = Φ⁻¹(p)``."""
    z: np.ndarray          # (K,) increasing normal scores of the knots
    q: np.ndarray          # (P, K) non-decreasing values
    floor: float | None    # 0.0 for non-negative series (values clipped), else None

    @classmethod
    def from_knots(cls, probs: np.ndarray, q: np.ndarray, non_negative: bool = True) -> "Marginals":
        q = np.maximum.accumulate(np.atleast_2d(np.asarray(q, float)), axis=1)
        return cls(norm.ppf(np.asarray(probs, float)), q, 0.0 if non_negative else None)

    @property
    def periods(self) -> int:
        return self.q.shape[0]

    def _slopes(self) -> tuple[np.ndarray, np.ndarray]:
        z, q = self.z, self.q
        return (q[:, 1] - q[:, 0]) / (z[1] - z[0]), (q[:, -1] - q[:, -2]) / (z[-1] - z[-2])

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u`` of shape (n, P) (column j through period j's quantile function)."""
        u = np.clip(np.asarray(u, float), 1e-12, 1 - 1e-12)
        zz = norm.ppf(u)
        lo_s, hi_s = self._slopes()
        out = np.empty_like(zz)
        for j in range(self.periods):
            qj = self.q[j]
            v = np.interp(zz[:, j], self.z, qj)
            below, above = zz[:, j] < self.z[0], zz[:, j] > self.z[-1]
            v[below] = qj[0] + (zz[below, j] - self.z[0]) * lo_s[j]
            v[above] = qj[-1] + (zz[above, j] - self.z[-1]) * hi_s[j]
            out[:, j] = v
        if self.floor is not None:
            out = np.maximum(out, self.floor)
        return out

    def pit(self, actual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Probability at which each period's actual value fell, (P,); uniform between the ends of a flat
        stretch of the quantile function (an atom, e.g. a forecast clipped at zero)."""
        a = np.asarray(actual, float)
        lo_s, hi_s = self._slopes()
        u = np.empty(self.periods)
        for j in range(self.periods):
            qj, x = self.q[j], a[j]
            if not np.isfinite(x):
                u[j] = np.nan
                continue
            z_lo = self._z_at(qj, x, lo_s[j], hi_s[j], first=True)
            z_hi = self._z_at(qj, x, lo_s[j], hi_s[j], first=False)
            if self.floor is not None and x <= self.floor:
                z_lo = -np.inf
            u_lo, u_hi = norm.cdf(z_lo), norm.cdf(z_hi)
            u[j] = u_lo + rng.uniform() * (u_hi - u_lo)
        return u

    def _z_at(self, qj: np.ndarray, x: float, lo_s: float, hi_s: float, first: bool) -> float:
        z = self.z
        if x < qj[0]:
            return z[0] - (qj[0] - x) / lo_s if lo_s > 0 else -np.inf
        if x > qj[-1]:
            return z[-1] + (x - qj[-1]) / hi_s if hi_s > 0 else np.inf
        if x == qj[0] and first:
            return -np.inf if lo_s <= 0 else z[0]
        if x == qj[-1] and not first:
            return np.inf if hi_s <= 0 else z[-1]
        # the first (last) knot at or above (below) x, then linear between the two knots around it
        k = int(np.searchsorted(qj, x, side="left" if first else "right"))
        if first:
            if qj[k] == x:
                return float(z[k])
            k0, k1 = k - 1, k
        else:
            if qj[k - 1] == x:
                return float(z[k - 1])
            k0, k1 = k - 1, k
        return float(z[k0] + (x - qj[k0]) * (z[k1] - z[k0]) / (qj[k1] - qj[k0]))


def copula_uniforms(n: int, periods: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """(n, periods) probabilities from a Gaussian copula with correlation ``rho`` between every two periods."""
    rho = float(np.clip(rho, 0.0, 1.0))
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, periods))
    return norm.cdf(np.sqrt(rho) * common + np.sqrt(1.0 - rho) * own)


def pooled_uniforms(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` whole probability vectors drawn with replacement from the backtest's (m, P) pool."""
    idx = rng.integers(0, pool.shape[0], size=n)
    return np.clip(pool[idx], U_CLIP, 1 - U_CLIP)


def rho_from_pool(pool: np.ndarray) -> float:
    """The mean rank correlation between the periods of the pooled vectors, as a Gaussian-copula correlation."""
    if pool.shape[0] < 3 or pool.shape[1] < 2:
        return DEFAULT_RHO
    z = norm.ppf(np.clip(pool, U_CLIP, 1 - U_CLIP))
    r = np.corrcoef(np.argsort(np.argsort(z, axis=0), axis=0), rowvar=False)
    iu = np.triu_indices(pool.shape[1], 1)
    rs = float(np.nanmean(r[iu])) if np.isfinite(r[iu]).any() else DEFAULT_RHO
    return float(np.clip(2 * np.sin(np.pi * rs / 6), 0.0, 1.0))


def draw_lead_times(n: int, mean: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Whole lead times per path: ``mean`` when ``sd`` is 0, else a normal rounded to whole periods, >= 1."""
    if sd <= 0:
        return np.full(n, int(round(mean)), dtype=int)
    return np.maximum(1, np.rint(rng.normal(mean, sd, n))).astype(int)


def max_lead_time(mean: float, sd: float) -> int:
    return int(round(mean)) if sd <= 0 else int(np.ceil(mean + 4 * sd))


@dataclass
class LeadTimeDemand:
    """Sampled demand over the lead time (``lead``) and over lead time + review period (``protection``)."""
    lead: np.ndarray          # (n,)
    protection: np.ndarray    # (n,)
    review: np.ndarray        # (n,) demand in the review period after the lead time
    method: str               # "bootstrap" or "copula"


def lead_time_demand(marg: Marginals, lead_time: float, review_period: int = 1, *, lead_time_sd: float = 0.0,
                     pool: np.ndarray | None = None, rho: float | None = None, n_paths: int = 2000,
                     rng: np.random.Generator | None = None) -> LeadTimeDemand:
    """Sample paths of the periods after the cutoff, summed over each path's lead time (and review period).

    ``marg`` must cover ``max_lead_time(lead_time, lead_time_sd) + review_period`` periods. ``pool``:
    backtest probability vectors (m, >= that many periods) for the bootstrap; else ``rho`` (default
    :data:`DEFAULT_RHO`) for the copula."""
    rng = rng if rng is not None else np.random.default_rng(0)
    P = max_lead_time(lead_time, lead_time_sd) + int(review_period)
    if marg.periods < P:
        raise ValueError(f"the forecast covers {marg.periods} period(s); {P} are needed")
    sub = Marginals(marg.z, marg.q[:P], marg.floor)
    if pool is not None and pool.shape[0] >= MIN_POOL and pool.shape[1] >= P:
        u, method = pooled_uniforms(pool[:, :P], n_paths, rng), "bootstrap"
    else:
        u, method = copula_uniforms(n_paths, P, DEFAULT_RHO if rho is None else rho, rng), "copula"
    x = sub.ppf(u)
    cum = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(x, axis=1)], axis=1)
    L = np.minimum(draw_lead_times(n_paths, lead_time, lead_time_sd, rng), P - int(review_period))
    rows = np.arange(n_paths)
    lead = cum[rows, L]
    prot = cum[rows, L + int(review_period)]
    return LeadTimeDemand(lead, prot, prot - lead, method)
