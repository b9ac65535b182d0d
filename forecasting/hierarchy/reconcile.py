"""Reconciliation: base forecasts of every node -> coherent forecasts (aggregates equal the sums of their parts).

Every method gives bottom-level forecasts ``b`` and returns ``S @ b``, so the result adds up exactly
(to floating-point rounding) whatever the method:

- ``bottom_up``: ``b`` = the bottom series' own base forecasts.
- ``top_down``: the total's base forecast split down a *nested* hierarchy, either level by level in
  proportion to the base forecasts of the children (``forecast_proportions``, Athanasopoulos et al. 2009)
  or with each bottom series' historical average share of the total (``average_proportions``,
  Gross & Sohl 1990: mean over time of ``y_bottom / y_total``).
- ``middle_out``: bottom-up above a chosen level, top-down (forecast proportions) below it.
- ``mint_ols``, ``mint_wls``, ``mint_shrink``: trace minimisation (Wickramasuriya, Athanasopoulos &
  Hyndman 2019), ``b = (S' W^-1 S)^-1 S' W^-1 y_hat``, computed in the equivalent form
  ``b = y_b - J W U (U' W U)^-1 U' y_hat`` with ``U' = [I, -A]``: only a system the size of the number
  of *aggregate* nodes is solved, and ``W`` is never formed as a dense matrix. ``W`` is the identity
  (ols), diagonal (wls: the number of bottom series under each node, ``struct``, or the mean squared
  in-sample residual, ``var``) or the Schäfer-Strimmer shrunk covariance of the residuals (shrink:
  off-diagonal covariances shrunk toward zero with the estimated optimal intensity, kept as
  diagonal + low rank). The constants follow Nixtla's hierarchicalforecast (``wls_var`` adds ``2e-8`` to
  each variance) so both give the same numbers (see ``benchmarks/bench_hierarchy.py``).

``non_negative=True``: bottom forecasts below zero are set to zero before summing (the simple
set-negatives-to-zero heuristic of Wickramasuriya et al. 2020, not their quadratic programme: it is exact
for non-negative inputs, keeps coherence, scales to 100,000 series, and never gives a negative value).

Intervals (:func:`reconcile_intervals`): each bottom series keeps its base interval's distances below and
above its mean, moved to the reconciled mean; every aggregate's bounds are the sums of its bottom series'
bounds. Bounds therefore add up exactly, like the means (the "everything low" and "everything high"
scenarios of a plan), and are nested around the mean. Summing bounds assumes the bottom errors move
together, so aggregate intervals are conservative (wider than a calibrated interval of the aggregate
alone); the benchmark reports their coverage per level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from forecasting.errors import ConfigError
from forecasting.hierarchy.structure import Hierarchy

METHODS = ("bottom_up", "top_down", "middle_out", "mint_ols", "mint_wls", "mint_shrink")
TOP_DOWN_METHODS = ("forecast_proportions", "average_proportions")
WLS_WEIGHTS = ("var", "struct")
RESIDUALS = ("backtest", "in_sample", "fitted")   # where mint_wls (var) and mint_shrink take the errors' covariance from
NEEDS_RESIDUALS = ("mint_shrink",)
DENSE_SOLVE_MAX = 4000        # aggregates up to this count: one dense solve; above: sparse LU + Woodbury
WLS_VAR_RIDGE = 2e-8


@dataclass
class ReconcileSettings:
    method: str = "mint_shrink"
    top_down: str = "forecast_proportions"   # or average_proportions (top_down only)
    middle_level: str | None = None          # level name for middle_out; default the middle aggregate level
    wls: str = "var"                         # mint_wls weights: var (residual variance) or struct
    non_negative: bool = False
    residuals: str = "backtest"              # backtest (the base model's own out-of-sample errors), in_sample
                                             # (seasonal naive) or fitted (the base model's one-step fit errors)

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown reconciliation method '{self.method}'; choose from none, {', '.join(METHODS)}")
        if self.top_down not in TOP_DOWN_METHODS:
            raise ConfigError(f"top-down proportions must be one of {', '.join(TOP_DOWN_METHODS)} (got '{self.top_down}')")
        if self.wls not in WLS_WEIGHTS:
            raise ConfigError(f"mint_wls weights must be 'var' or 'struct' (got '{self.wls}')")
        if self.residuals not in RESIDUALS:
            raise ConfigError(f"residuals must be one of {', '.join(RESIDUALS)} (got '{self.residuals}')")

    @property
    def needs_residuals(self) -> bool:
        return self.method == "mint_shrink" or (self.method == "mint_wls" and self.wls == "var")

    @property
    def needs_history(self) -> bool:
        return self.method == "top_down" and self.top_down == "average_proportions"


def seasonal_naive_residuals(history: np.ndarray, season_length: int) -> np.ndarray:
    """In-sample one-step errors of the seasonal naive forecast, ``(T - m, n_nodes)`` from ``(n_nodes, T)``.

    The residuals the pipeline gives ``mint_wls`` (var) and ``mint_shrink``: the same for every model and
    engine (global networks have no in-sample residuals), cheap for 100,000 series, and computed only from
    the history up to the cutoff. NaN (gaps) become zero."""
    h = np.asarray(history, dtype=float)
    m = int(season_length) if h.shape[1] > int(season_length) + 2 else 1
    r = (h[:, m:] - h[:, :-m]).T
    return np.nan_to_num(r, nan=0.0)


def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Schäfer-Strimmer shrinkage of the residual covariance toward its diagonal, in factored form.

    ``residuals``: ``(T, n)``. Returns ``(d, V, lam)`` with ``W = diag(d) + V @ V.T`` equal to
    ``lam * diag(C) + (1 - lam) * C`` where ``C`` is the sample covariance (``ddof=1``). The intensity
    ``lam = sum_{i!=j} Var(r_ij) / sum_{i!=j} r_ij^2`` (on standardised residuals) is computed from
    ``T x T`` Gram matrices, never the ``n x n`` covariance, so it costs ``O(T^2 n)``."""
    R = np.asarray(residuals, dtype=float)
    T, n = R.shape
    if T < 3:
        raise ConfigError(f"mint_shrink needs at least 3 residuals per series (got {T}); use mint_ols or mint_wls")
    Rc = R - R.mean(axis=0)
    var = (Rc ** 2).sum(axis=0) / (T - 1)
    std = np.sqrt(var)
    ok = std > 0
    Z = np.zeros_like(Rc)
    Z[:, ok] = Rc[:, ok] / std[ok]
    G = Z @ Z.T                                    # T x T
    Z2 = Z ** 2
    g2 = Z2.sum(axis=1)                            # per t: sum_i z_ti^2
    zz_diag = Z2.sum(axis=0)                       # per i: (Z'Z)_ii
    # sum over i != j of (Z'Z)_ij^2 and of (Z2'Z2)_ij
    sum_w_sq = float((G ** 2).sum() - (zz_diag ** 2).sum())
    sum_w2 = float((g2 ** 2).sum() - (Z2 ** 2).sum())
    v = T / (T - 1) ** 3 * (sum_w2 - sum_w_sq / T)
    d = sum_w_sq / (T - 1) ** 2                    # sum over i != j of corr_ij^2
    lam = 1.0 if d <= 0 else float(min(max(v / d, 0.0), 1.0))
    V = np.sqrt((1.0 - lam) / (T - 1)) * Rc.T      # n x T
    return lam * var, V, lam


def _weights(hier: Hierarchy, s: ReconcileSettings, residuals: np.ndarray | None):
    """``W`` as (diagonal, low-rank factor or None)."""
    n = hier.n_nodes
    if s.method == "mint_ols":
        return np.ones(n), None
    if s.method == "mint_wls" and s.wls == "struct":
        return np.asarray(hier.S.sum(axis=1)).ravel().astype(float), None
    if residuals is None:
        raise ConfigError(f"{s.method} needs in-sample residuals of every node")
    R = np.asarray(residuals, dtype=float)
    if R.ndim != 2 or R.shape[1] != n:
        raise ConfigError(f"residuals must be (observations, {n} nodes); got {R.shape}")
    R = np.nan_to_num(R, nan=0.0)
    if s.method == "mint_wls":
        return (R ** 2).sum(axis=0) / R.shape[0] + WLS_VAR_RIDGE, None
    d, V, _ = shrunk_covariance(R)
    return d, V


def _mint_bottom(hier: Hierarchy, base: np.ndarray, d: np.ndarray, V: np.ndarray | None) -> np.ndarray:
    na = hier.n_aggregate
    A = hier.A
    y_a, y_b = base[:na], base[na:]
    d_a, d_b = d[:na], d[na:]
    D = y_a - A @ y_b                                      # incoherence U' y_hat, (na, h)
    C = (A @ sp.diags(d_b) @ A.T + sp.diags(d_a)).tocsc()  # U' diag(d) U
    Q = None if V is None else V[:na] - A @ V[na:]         # U' V, (na, r)
    if na <= DENSE_SOLVE_MAX:
        M = C.toarray()
        if Q is not None:
            M += Q @ Q.T
        try:
            X = np.linalg.solve(M, D)
        except np.linalg.LinAlgError:
            X = np.linalg.lstsq(M, D, rcond=None)[0]
    else:
        lu = spla.splu(C)
        X = lu.solve(np.ascontiguousarray(D))
        if Q is not None:                                 # Woodbury: (C + QQ')^-1
            CiQ = lu.solve(np.ascontiguousarray(Q))
            core = np.eye(Q.shape[1]) + Q.T @ CiQ
            X = X - CiQ @ np.linalg.solve(core, Q.T @ X)
    b = y_b + d_b[:, None] * (A.T @ X)
    if V is not None:
        b = b - V[na:] @ (Q.T @ X)
    return b


def _split_down(hier: Hierarchy, rec: np.ndarray, base: np.ndarray, start: int) -> None:
    """Fill levels below ``start`` of ``rec`` (in place) in proportion to the children's base forecasts."""
    for k in range(start + 1, len(hier.levels)):
        rows = hier.rows_of_level(k)
        par = hier.parents(k)
        up, inv = np.unique(par, return_inverse=True)
        G = sp.csr_matrix((np.ones(len(rows)), (inv, np.arange(len(rows)))), shape=(len(up), len(rows)))
        child = base[rows]
        tot = np.asarray(G @ child)[inv]                       # sum of each node's siblings (itself included)
        counts = np.bincount(inv).astype(float)[inv][:, None]
        small = np.abs(tot) < 1e-8
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(small, 1.0 / counts, child / np.where(small, 1.0, tot))
        rec[rows] = share * rec[par]


def reconcile_bottom(hier: Hierarchy, base: np.ndarray, settings: ReconcileSettings, *,
                     residuals: np.ndarray | None = None, history: np.ndarray | None = None) -> np.ndarray:
    """Coherent bottom-level forecasts ``(n_bottom, h)`` from base forecasts of every node ``(n_nodes, h)``.

    ``residuals`` ``(T, n_nodes)``: in-sample residuals (mint_wls var, mint_shrink).
    ``history`` ``(n_nodes, T)``: actuals up to the cutoff (top_down with average_proportions)."""
    s = settings
    s.validate()
    base = np.asarray(base, dtype=float)
    if base.ndim == 1:
        base = base[:, None]
    if base.shape[0] != hier.n_nodes:
        raise ConfigError(f"base forecasts must have one row per node ({hier.n_nodes}); got {base.shape[0]}")
    if not np.isfinite(base).all():
        raise ConfigError("base forecasts hold missing or infinite values; every node needs a forecast")
    na = hier.n_aggregate
    if s.method == "bottom_up":
        b = base[na:].copy()
    elif s.method in ("top_down", "middle_out"):
        check_structure(hier, s)
        if s.method == "top_down" and s.top_down == "average_proportions":
            if history is None:
                raise ConfigError("top_down with average_proportions needs the history of every node")
            hist = np.asarray(history, dtype=float)
            top, bot = hist[0], hist[na:]
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / top
                prop = (bot @ inv) / len(inv)          # mean over time of bot / top, as one product
                if not np.isfinite(prop).all():          # gaps or a zero total: the elementwise rule
                    share = bot * inv[None, :]
                    nan = np.isnan(share)
                    prop = np.nanmean(share, axis=1) if nan.any() else share.mean(axis=1)
            b = np.nan_to_num(prop)[:, None] * base[0][None, :]
        else:
            rec = np.zeros_like(base)
            if s.method == "top_down":
                start = 0
                rec[hier.rows_of_level(0)] = base[hier.rows_of_level(0)]
            else:
                start = _middle_level(hier, s.middle_level)
                rows = hier.rows_of_level(start)
                rec[rows] = base[rows]
            _split_down(hier, rec, base, start)
            b = rec[na:]
    else:
        d, V = _weights(hier, s, residuals)
        b = _mint_bottom(hier, base, d, V)
    if s.non_negative:
        b = np.maximum(b, 0.0)
    return b


def check_structure(hier: Hierarchy, s: ReconcileSettings) -> None:
    """Refuse a method the levels cannot support (before any model is fit)."""
    s.validate()
    if s.method not in ("top_down", "middle_out"):
        return
    if not hier.is_nested():
        raise ConfigError(f"{s.method} needs nested levels (each level extending the one above, e.g. "
                          "';store;store,sku'); grouped levels have several parents: use bottom_up or mint_*")
    if s.method == "top_down" and hier.levels[0]:
        raise ConfigError("top_down needs the total among the levels")
    if s.method == "middle_out":
        _middle_level(hier, s.middle_level)


def _middle_level(hier: Hierarchy, name: str | None) -> int:
    if name is None:
        return max(0, (len(hier.levels) - 1) // 2)
    k = hier.level_index(name)
    if k == len(hier.levels) - 1:
        raise ConfigError("middle_out's level must be above the bottom level")
    return k


def reconcile(hier: Hierarchy, base: np.ndarray, settings: ReconcileSettings, *,
              residuals: np.ndarray | None = None, history: np.ndarray | None = None) -> np.ndarray:
    """Coherent forecasts of every node ``(n_nodes, h)``: ``S @ reconcile_bottom(...)``."""
    b = reconcile_bottom(hier, base, settings, residuals=residuals, history=history)
    return np.asarray(hier.S @ b)


def reconcile_intervals(hier: Hierarchy, bottom_mean: np.ndarray, base_mean: np.ndarray,
                        base_lo: np.ndarray, base_hi: np.ndarray, non_negative: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Coherent bounds of every node from the reconciled bottom means and the base bounds (see module doc).

    ``bottom_mean`` ``(n_bottom, h)``; ``base_*`` ``(n_nodes, h)``. Returns ``(lo, hi)`` of shape
    ``(n_nodes, h)`` with ``lo <= S @ bottom_mean <= hi`` and ``lo = S @ lo_bottom``, ``hi = S @ hi_bottom``."""
    na = hier.n_aggregate
    below = np.maximum(np.asarray(base_mean, float)[na:] - np.asarray(base_lo, float)[na:], 0.0)
    above = np.maximum(np.asarray(base_hi, float)[na:] - np.asarray(base_mean, float)[na:], 0.0)
    lo_b, hi_b = bottom_mean - below, bottom_mean + above
    if non_negative:
        lo_b, hi_b = np.maximum(lo_b, 0.0), np.maximum(hi_b, 0.0)
    return np.asarray(hier.S @ lo_b), np.asarray(hier.S @ hi_b)
