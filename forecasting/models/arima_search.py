"""Automatic ARIMA order selection (Hyndman & Khandakar 2008, as in R's ``forecast::auto.arima``).

- ``D`` (seasonal differences) from the STL seasonal strength ``F_s >= 0.64`` (R's default ``"seas"`` test);
- ``d`` by repeated KPSS tests (level stationarity, 5%, short lag truncation) on the seasonally differenced series;
- a stepwise search over ``(p, q)(P, Q)`` and the constant from four start models, moving to the first
  neighbour that lowers the information criterion (AICc by default), never fitting the same candidate twice.

By default (:class:`CssSearch`) candidates are fit by conditional sum of squares — a ``lfilter`` call per
evaluation instead of a Kalman filter — and only the winner is refit by exact maximum likelihood.

Speed (statsmodels' ``SARIMAX`` is the workhorse): every candidate is fit on the *differenced* series
(``simple_differencing=True``: a smaller state vector, an exact stationary likelihood), with the scale
concentrated out, no covariance matrix (``cov_type="none"``), ``low_memory=True`` and L-BFGS capped at
``maxiter`` iterations; start values of a neighbour come from the current best model's coefficients.
Because the differencing is the same for every candidate, their criteria are comparable.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Candidate:
    p: int
    q: int
    P: int
    Q: int
    constant: bool


def kpss_ndiffs(x: np.ndarray, max_d: int = 2, alpha: float = 0.05) -> int:
    """Number of first differences that make ``x`` level-stationary by the KPSS test."""
    from statsmodels.tsa.stattools import kpss

    d = 0
    x = np.asarray(x, dtype=float)
    while d < max_d and x.size > 4 and np.ptp(x) > 0:
        lags = int(4 * (x.size / 100) ** 0.25)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stat, pval, *_ = kpss(x, regression="c", nlags=max(lags, 1))
        if pval >= alpha:
            break
        x = np.diff(x)
        d += 1
    return d


def seasonal_strength(x: np.ndarray, m: int) -> float:
    """STL seasonal strength ``max(0, 1 - Var(R) / Var(S + R))`` (Wang, Smith & Hyndman 2006)."""
    from statsmodels.tsa.seasonal import STL

    x = np.asarray(x, dtype=float)
    if m < 2 or x.size < 2 * m + 1:
        return 0.0
    res = STL(x, period=m, robust=False).fit()
    sr = np.var(res.seasonal + res.resid)
    return float(max(0.0, 1 - np.var(res.resid) / sr)) if sr > 0 else 0.0


def seasonal_ndiffs(x: np.ndarray, m: int, threshold: float = 0.64) -> int:
    return int(seasonal_strength(x, m) >= threshold)


def fourier_terms(n_or_index: int | np.ndarray, m: int, k: int) -> np.ndarray:
    """``k`` sine/cosine pairs of period ``m`` at time points ``t`` (0-based)."""
    t = np.arange(n_or_index) if np.isscalar(n_or_index) else np.asarray(n_or_index)
    cols = []
    for j in range(1, k + 1):
        cols += [np.sin(2 * np.pi * j * t / m), np.cos(2 * np.pi * j * t / m)]
    return np.column_stack(cols) if cols else np.empty((t.size, 0))


class StepwiseSearch:
    """Fits candidates of one differencing ``(d, D)`` and remembers every result."""

    def __init__(self, y: np.ndarray, d: int, D: int, m: int, exog: np.ndarray | None = None,
                 ic: str = "aicc", method: str = "lbfgs", maxiter: int = 50, reuse_start: bool = True) -> None:
        if ic not in ("aicc", "aic", "bic"):
            raise ValueError(f"unknown information criterion '{ic}' (choose aicc, aic or bic)")
        self.y, self.d, self.D, self.m, self.exog = y, d, D, m, exog
        self.ic, self.method, self.maxiter, self.reuse_start = ic, method, maxiter, reuse_start
        self.results: dict[Candidate, tuple[float, Any]] = {}
        self.best: Candidate | None = None

    def model(self, c: Candidate, simple: bool = True):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        seasonal = (c.P, self.D, c.Q, self.m) if self.m > 1 else (0, 0, 0, 0)
        return SARIMAX(self.y, exog=self.exog, order=(c.p, self.d, c.q), seasonal_order=seasonal,
                       trend="c" if c.constant else None, simple_differencing=simple, concentrate_scale=True)

    def _start(self, mod) -> np.ndarray | None:
        if not self.reuse_start or self.best is None:
            return None
        best_res = self.results[self.best][1]
        known = dict(zip(best_res.model.param_names, best_res.params))
        if not any(n in known for n in mod.param_names):
            return None
        default = mod.start_params
        return np.array([known.get(n, v if not n.startswith(("ar.", "ma.")) else 0.0)
                         for n, v in zip(mod.param_names, default)])

    def fit(self, c: Candidate) -> float:
        if c in self.results:
            return self.results[c][0]
        value, res = np.inf, None
        try:
            mod = self.model(c)
            if mod.nobs <= len(mod.param_names) + 2:
                raise ValueError("too few observations")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    if not mod.param_names:   # nothing to estimate, e.g. (0,1,0) without constant
                        res = mod.filter(np.zeros(0))
                    else:
                        res = mod.fit(start_params=self._start(mod), method=self.method, maxiter=self.maxiter,
                                      disp=False, cov_type="none", low_memory=True)
            value = float(getattr(res, self.ic))
            if not np.isfinite(value):
                value = np.inf
        except Exception:  # noqa: BLE001 - a candidate that cannot be fit simply loses
            value = np.inf
        self.results[c] = (value, res)
        if value < np.inf and (self.best is None or value < self.results[self.best][0]):
            self.best = c
        return value

    def run(self, max_p: int = 5, max_q: int = 5, max_P: int = 2, max_Q: int = 2, max_order: int = 5,
            allow_constant: bool = True, max_models: int = 60, stepwise: bool = True) -> Candidate:
        seasonal = self.m > 1
        const = allow_constant and self.d + self.D <= 1

        def ok(c: Candidate) -> bool:
            return (0 <= c.p <= max_p and 0 <= c.q <= max_q and 0 <= c.P <= max_P and 0 <= c.Q <= max_Q
                    and c.p + c.q + c.P + c.Q <= max_order and (seasonal or c.P == c.Q == 0)
                    and (const or not c.constant))

        if not stepwise:
            for p in range(max_p + 1):
                for q in range(max_q + 1):
                    for P in range(max_P + 1 if seasonal else 1):
                        for Q in range(max_Q + 1 if seasonal else 1):
                            for k in ([True, False] if const else [False]):
                                c = Candidate(p, q, P, Q, k)
                                if ok(c):
                                    self.fit(c)
            if self.best is None:
                raise ValueError("no ARIMA candidate could be fit")
            return self.best
        s1 = 1 if seasonal else 0
        starts = [Candidate(2, 2, s1, s1, const), Candidate(0, 0, 0, 0, const),
                  Candidate(1, 0, s1, 0, const), Candidate(0, 1, 0, s1, const)]
        if const:
            starts.append(Candidate(0, 0, 0, 0, False))
        for c in starts:
            if ok(c):
                self.fit(c)
        if self.best is None:
            raise ValueError("no ARIMA candidate could be fit")
        moves = [(0, 0, -1, 0), (0, 0, 1, 0), (0, 0, 0, -1), (0, 0, 0, 1), (0, 0, -1, -1), (0, 0, 1, 1),
                 (-1, 0, 0, 0), (1, 0, 0, 0), (0, -1, 0, 0), (0, 1, 0, 0), (-1, -1, 0, 0), (1, 1, 0, 0),
                 (-1, 1, 0, 0), (1, -1, 0, 0), (0, 0, -1, 1), (0, 0, 1, -1)]
        improved = True
        while improved and len(self.results) < max_models:
            improved = False
            b = self.best
            cands = [Candidate(b.p + a, b.q + q, b.P + P, b.Q + Q, b.constant) for a, q, P, Q in moves]
            cands.append(Candidate(b.p, b.q, b.P, b.Q, not b.constant))
            for c in cands:
                if not ok(c) or c in self.results:
                    continue
                before = self.results[self.best][0]
                if self.fit(c) < before:
                    improved = True
                    break
                if len(self.results) >= max_models:
                    break
        return self.best


def _roots_ok(ar: np.ndarray, ma: np.ndarray, sar: np.ndarray, sma: np.ndarray, m: int, limit: float = 1.01) -> bool:
    """Like R's auto.arima: reject a fit whose AR or MA polynomial has a root within ``limit`` of the unit
    circle (near-unit roots make the likelihood and the intervals unreliable)."""
    for coef, lag, sign in ((ar, 1, -1.0), (sar, m, -1.0), (ma, 1, 1.0), (sma, m, 1.0)):
        if coef.size and np.any(coef != 0):
            poly = np.zeros(coef.size * lag + 1)
            poly[0] = 1.0
            poly[lag::lag] = sign * coef
            roots = np.roots(poly[::-1])
            if roots.size and np.min(np.abs(roots)) < limit:
                return False
    return True


class CssSearch(StepwiseSearch):
    """The same stepwise search, but each candidate is fit by conditional sum of squares (CSS).

    Kalman-free: residuals of the multiplicative seasonal ARMA come from one ``scipy.signal.lfilter``
    call, the coefficients are kept stationary/invertible by the partial-autocorrelation transform
    statsmodels uses, and Levenberg–Marquardt (``scipy.optimize.least_squares``) finds them. Every
    candidate conditions on the same number of leading residuals so their criteria compare. This is the
    ``approximation=TRUE`` path of R's ``auto.arima``; the chosen model is then refit by exact ML
    (:meth:`refine`)."""

    def __init__(self, *args: Any, max_cond: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        w = np.asarray(self.y, dtype=float)
        X = None if self.exog is None else np.asarray(self.exog, dtype=float).reshape(w.size, -1)
        for _ in range(self.d):
            w = np.diff(w)
            X = None if X is None else np.diff(X, axis=0)
        if self.D:
            w = w[self.m:] - w[:-self.m]
            X = None if X is None else X[self.m:] - X[:-self.m]
        self.w, self.X = w, X
        self.n_cond = int(min(max_cond, w.size // 3))

    @staticmethod
    def _poly(coef: np.ndarray, lag: int, sign: float) -> np.ndarray:
        poly = np.zeros(coef.size * lag + 1)
        poly[0] = 1.0
        poly[lag::lag] = sign * coef
        return poly

    def _unpack(self, c: Candidate, u: np.ndarray):
        from statsmodels.tsa.statespace.tools import constrain_stationary_univariate as cs

        i = 0
        mu = u[i] if c.constant else 0.0
        i += int(c.constant)
        kx = 0 if self.X is None else self.X.shape[1]
        beta = u[i:i + kx]
        i += kx
        parts = []
        for k, sign in ((c.p, 1.0), (c.q, -1.0), (c.P, 1.0), (c.Q, -1.0)):
            v = u[i:i + k]
            i += k
            parts.append(sign * cs(v) if k else v)
        return mu, beta, parts

    def _resid(self, c: Candidate, u: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter

        mu, beta, (ar, ma, sar, sma) = self._unpack(c, u)
        x = self.w - mu
        if beta.size:
            x = x - self.X @ beta
        arp = np.convolve(self._poly(ar, 1, -1.0), self._poly(sar, self.m, -1.0))
        map_ = np.convolve(self._poly(ma, 1, 1.0), self._poly(sma, self.m, 1.0))
        return lfilter(arp, map_, x)[self.n_cond:]

    def fit(self, c: Candidate) -> float:
        from scipy.optimize import least_squares

        if c in self.results:
            return self.results[c][0]
        value, sol = np.inf, None
        kx = 0 if self.X is None else self.X.shape[1]
        k = int(c.constant) + kx + c.p + c.q + c.P + c.Q
        n = self.w.size - self.n_cond
        try:
            if n <= k + 2:
                raise ValueError("too few observations")
            u0 = np.zeros(k)
            if kx:
                A = self.X if not c.constant else np.column_stack([np.ones(self.w.size), self.X])
                coef = np.linalg.lstsq(A, self.w, rcond=None)[0]
                u0[:int(c.constant) + kx] = coef
            elif c.constant:
                u0[0] = self.w.mean()
            if k:
                with np.errstate(all="ignore"):
                    sol = least_squares(lambda u: self._resid(c, u), u0, method="lm", max_nfev=100 * (k + 1))
                u = sol.x
            else:
                u = u0
            if not _roots_ok(*self._unpack(c, u)[2], m=self.m):
                raise ValueError("root too close to the unit circle")
            e = self._resid(c, u)
            sigma2 = float(np.mean(e ** 2))
            if not np.isfinite(sigma2) or sigma2 <= 0:
                raise ValueError("degenerate fit")
            ll = -0.5 * n * (np.log(2 * np.pi * sigma2) + 1)
            kk = k + 1
            value = {"aic": -2 * ll + 2 * kk, "bic": -2 * ll + np.log(n) * kk,
                     "aicc": -2 * ll + 2 * kk + (2 * kk * (kk + 1) / (n - kk - 1) if n - kk - 1 > 0 else np.inf)}[self.ic]
            sol = u
        except Exception:  # noqa: BLE001 - a candidate that cannot be fit simply loses
            value, sol = np.inf, None
        self.results[c] = (value, sol)
        if value < np.inf and (self.best is None or value < self.results[self.best][0]):
            self.best = c
        return value

    def ml_start(self, c: Candidate, mod) -> np.ndarray:
        """SARIMAX start values from the CSS solution (intercept converted to the state intercept)."""
        mu, beta, (ar, ma, sar, sma) = self._unpack(c, self.results[c][1])
        vals = {}
        if c.constant:
            vals["intercept"] = mu * (1 - ar.sum()) * (1 - sar.sum())
        for j, name in enumerate(n for n in mod.param_names if not n.startswith(("ar.", "ma.", "intercept"))):
            if j < beta.size:
                vals[name] = beta[j]
        for prefix, coef in (("ar.L", ar), ("ma.L", ma)):
            for j, v in enumerate(coef, 1):
                vals[f"{prefix}{j}"] = v
        for prefix, coef in (("ar.S.L", sar), ("ma.S.L", sma)):
            for j, v in enumerate(coef, 1):
                vals[f"{prefix}{j * self.m}"] = v
        return np.array([vals.get(n, s) for n, s in zip(mod.param_names, mod.start_params)])

    def refine(self, c: Candidate, ml: bool = True):
        """The chosen candidate's final fit; returns (criterion, results on the differenced series).

        ``ml=True``: exact maximum likelihood started from the CSS estimates. ``ml=False``: the CSS
        estimates as they are (one Kalman filter pass for the likelihood and the scale)."""
        mod = self.model(c)
        if not ml:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = mod.filter(self.ml_start(c, mod))
            return float(getattr(res, self.ic)), res
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                try:
                    start = self.ml_start(c, mod)
                except Exception:  # noqa: BLE001
                    start = None
                if not mod.param_names:
                    res = mod.filter(np.zeros(0))
                else:
                    res = mod.fit(start_params=start, method=self.method, maxiter=self.maxiter, disp=False,
                                  cov_type="none", low_memory=True)
        return float(getattr(res, self.ic)), res
