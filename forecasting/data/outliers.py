"""Seasonal outliers on the scale the data asks for: the one anomaly rule of SalesCast.

The quality report (``seasonal`` method), the outlier treatments, the Explore page and the ``decompose``
command's ``anomaly`` column all call :func:`seasonal_outliers`, so they flag the same points.

1. **Scale, per series.** A business whose seasonal swing grows with its level (December +30% of a growing
   total) is multiplicative: on the raw scale each new December is larger than the seasonal profile
   expects and looks like an outlier. The swing is measured per block of whole seasons (about a year):
   the spread of the block (its 10-90% quantile range, so one spike does not move it) against its level
   (median). The slope of log(spread) on log(level) is 1 - lambda of Guerrero's (1993) Box-Cox choice:
   ~1 means the swing is proportional to the level, ~0 that it does not grow. The Box-Cox lambda nearest
   to 1 - slope among 0 (log: ``multiplicative``), 0.5 (``sqrt``: counts whose noise grows like a
   Poisson's) and 1 (``additive``) is used, when the level changes by at least 20% (otherwise additive)
   and the values allow it (log needs positive values, sqrt non-negative ones). Zeros of a series that is
   not intermittent (stock-outs) are left out of this measure.
2. **Expected value** on that scale, in two stages. First a robust seasonal decomposition (a rolling
   median of one season for the level, a moving median of each season position over 7 seasons for the
   seasonal part, the level re-estimated on the seasonally adjusted values so the ends are not biased).
   Medians resist spikes but are noisy estimates (a median of 7 values has the variance of a mean of
   about 4.5) and follow each point's own noise: on the bundled daily sample that fit was off the true
   expected value by 0.33 on the sqrt scale where the Poisson noise itself is 0.5, so real anomalies
   scored low and the noise band was set by the fit's own error. Then a refit with means, STL's way
   (robustness by down-weighting, smoothing by averages): the values are winsorized at the first fit
   plus/minus 2 robust standard deviations (a spike keeps the weight of an ordinary large point, so it
   cannot pull the fit), the level is a centred moving mean over about two seasons (STL's default trend
   window, 1.5 m / (1 - 1.5 / 7)), the seasonal part a moving mean of each season position over 7 seasons;
   two rounds. Daily data with a weekly season (m = 7) thus has its yearly swing carried by a 15-day level.
   Runs of zeros in a series that is not intermittent (stock-outs, closures) are left out of the fit and not
   scored: the quality report's ``zeros`` finding covers them, and they no longer drag the expected value of
   their days down to zero.
   Known on/off covariates (0/1 columns: promotion, holiday) are fitted with it, per series — each one's
   effect is the median residual of the periods it is on minus that of the periods it is off, removed
   before the decomposition is redone, in both stages — so a promotion's spike or a holiday's dip is
   expected, not an outlier, and promotions do not lift the level around them (which hid real spikes).
3. **Score**: the residual's robust z-score (:func:`robust_z`); ``|z| > threshold`` (4.5) is an outlier.
   At 4.5, 0.28% of M3's monthly points and none of the clean daily sample's are flagged, and every planted
   anomaly of the sample that stands out of its Poisson noise by the threshold is found (at 3.5, the
   textbook cut for normal noise, 0.81% of M3: sales residuals have heavy tails; benchmarks/bench_anomalies.py).
   Intermittent series (more than 30% zero periods) score their non-zero demands among themselves.
   The bounds ``lo``/``hi`` are the expected value plus/minus threshold x scale, back on the data's scale
   (for a multiplicative series they are asymmetric: a ratio up or down).

Everything is vectorised over the series of a long frame (group codes), so a million rows take seconds.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y
from forecasting.data.frequency import period_index

THRESHOLD = 4.5           # robust z; chosen on clean data (benchmarks/bench_anomalies.py): <= 1% flagged
ZERO_SHARE = 0.3          # above this share of zero periods, only non-zero demands are scored
SLOPE = 0.5               # log-spread vs log-level slope above which a series is multiplicative
MIN_LEVEL_RATIO = 1.2     # the level must change this much for the slope to mean anything
SCALES = ("additive", "sqrt", "multiplicative")
SEASON_WINDOW = 7         # seasons in the moving median of each season position (11: bench_anomalies.py)
MIN_FLAG_DAYS = 5         # a flag covariate needs this many "on" periods in a series for its effect
CLIP = 2.0                # the refit sees the values winsorized at the first fit +/- CLIP robust sd
TREND_SEASONS = 2.0       # the refit's level: a moving mean over about this many seasons (STL's default)


def robust_z(resid: pd.Series) -> pd.Series:
    """(resid - median) / scale, the scale being the larger of MAD / 0.6745 and the standard deviation
    of the 95% of points nearest the median / 0.871 (both estimate sigma for normal noise).

    The MAD alone is too small when a robust decomposition fits most points tightly or when many
    values are equal (intermittent demand): ordinary noise would then look extreme."""
    r = pd.Series(np.asarray(resid, dtype="float64"), index=getattr(resid, "index", None))
    z, _, _ = _robust_z_grouped(r.to_numpy(), np.zeros(len(r), dtype=np.int64))
    return pd.Series(z, index=r.index)


def _robust_z_grouped(r: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group robust z of ``r`` (NaN stays NaN); also the per-row median and scale."""
    s = pd.Series(r)
    g = s.groupby(codes, sort=False)
    med = g.transform("median").to_numpy()
    dev = np.abs(r - med)
    d = pd.Series(dev)
    gd = d.groupby(codes, sort=False)
    mad = gd.transform("median").to_numpy() / 0.6745
    q95 = gd.transform(lambda x: x.quantile(0.95)).to_numpy() if len(d) else dev
    kept = np.where(dev <= q95, dev ** 2, np.nan)
    trimmed = np.sqrt(pd.Series(kept).groupby(codes, sort=False).transform("mean").to_numpy()) / 0.871
    scale = np.fmax(mad, trimmed)
    ok = np.isfinite(scale) & (scale > 0)
    z = np.where(ok, (r - med) / np.where(ok, scale, 1.0), np.where(np.isnan(r), np.nan, 0.0))
    return z, med, np.where(ok, scale, 0.0)


def block_length(m: int) -> int:
    """Whole seasons making about a year of observations (at least 12), for the spread-vs-level measure."""
    m = max(int(m), 1)
    return m * max(1, math.ceil(12 / m))


def choose_scales(y: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: (multiplicative?, slope) — see the module docstring. ``period``: integer period numbers."""
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    slope = np.full(n_groups, np.nan)
    mult = np.zeros(n_groups, dtype=bool)
    if not n_groups:
        return mult, slope
    frame = pd.DataFrame({"c": codes, "y": y})
    first = frame.assign(p=period).groupby("c", sort=True)["p"].transform("min").to_numpy()
    frame["b"] = (period - first) // block_length(m)
    pos = frame.dropna(subset=["y"])
    # zeros of a series that is not intermittent are stock-outs or closures, not the noise whose growth
    # with the level is measured: a block holding two of them would have its 10% quantile at 0
    zs = (pos["y"] == 0).groupby(pos["c"]).transform("mean")
    pos = pos[(pos["y"] != 0) | (zs > ZERO_SHARE)]
    positive = pos.groupby("c")["y"].min().reindex(range(n_groups)) > 0
    g = pos.groupby(["c", "b"], sort=True)["y"]
    stats = pd.DataFrame({"n": g.size(), "lo": g.quantile(0.1), "hi": g.quantile(0.9), "level": g.median()})
    stats = stats[(stats["n"] >= max(4, block_length(m) // 2)) & (stats["hi"] > stats["lo"]) & (stats["level"] > 0)]
    if len(stats):
        x = np.log(stats["level"])
        v = np.log(stats["hi"] - stats["lo"])
        c = stats.index.get_level_values(0)
        gx, gv = x.groupby(c), v.groupby(c)
        xm, vm = gx.transform("mean"), gv.transform("mean")
        sxx = ((x - xm) ** 2).groupby(c).sum()
        sxv = ((x - xm) * (v - vm)).groupby(c).sum()
        nb = gx.size()
        ratio = np.exp(gx.max() - gx.min())
        b = (sxv / sxx.where(sxx > 0)).where(nb >= 3)
        slope[b.index.to_numpy()] = b.to_numpy()
        ok = (b > SLOPE) & (ratio >= MIN_LEVEL_RATIO)
        mult[ok[ok].index.to_numpy()] = True
    mult &= positive.fillna(False).to_numpy()
    return mult, slope


def seasonal_outliers(df: pd.DataFrame, freq: str | None, season_length: int, threshold: float = THRESHOLD,
                      scale: str = "auto", period: np.ndarray | None = None,
                      covariates: list[str] | None = None) -> pd.DataFrame:
    """Per row of a long frame (``unique_id``, ``ds``, ``y``; sorted by series then date): ``scale``
    (additive | sqrt | multiplicative, per series), ``expected``, ``score`` (robust z on that scale), ``lo``,
    ``hi`` and ``outlier`` (|score| > threshold). NaN ``y`` is never flagged. ``scale`` forces one scale
    where the values allow it (log needs positive values, sqrt non-negative ones; otherwise additive).
    ``period`` gives the rows' integer period numbers instead of computing them from ``ds`` and ``freq``.
    ``covariates``: columns of ``df`` that may be known on/off effects (promotion, holiday); those holding
    only 0/1 (:func:`flag_columns`) are fitted, so a spike they explain is expected, not an outlier."""
    if scale not in ("auto", *SCALES):
        raise ValueError(f"scale must be auto or one of {', '.join(SCALES)} (got {scale!r})")
    m = max(int(season_length), 1)
    yv = df[Y].to_numpy(dtype="float64")
    codes = df.groupby(ID, sort=False).ngroup().to_numpy()
    if period is None:
        period = period_index(df[DS], freq) if len(df) else np.zeros(0, dtype=np.int64)
    period = np.asarray(period, dtype=np.int64)
    lam_g = choose_lambdas(yv, codes, period, m, None if scale == "auto" else scale)
    lam = lam_g[codes] if len(codes) else np.zeros(0)
    x = _forward(yv, lam)
    # stock-outs (runs of zeros in a series that is not intermittent) are left out of the fit and not scored
    x = np.where(zero_runs(yv, codes), np.nan, x)
    used = flag_columns(df, covariates or [])
    flags = np.column_stack([df[c].fillna(0).to_numpy() != 0 for c in used]) if used else None
    expected_x = _expectation_with(x, codes, period, m, flags)
    resid = x - expected_x
    # intermittent demand: zeros are ordinary; score the non-zero demands among themselves
    zero_share = (pd.Series(yv == 0).groupby(codes, sort=False).transform("sum").to_numpy()
                  / np.maximum(pd.Series(~np.isnan(yv)).groupby(codes, sort=False).transform("sum").to_numpy(), 1))
    intermittent = zero_share > ZERO_SHARE
    scored = np.where(intermittent & (yv == 0), np.nan, resid)
    if np.isfinite(scored).any():
        z, med, sc = _robust_z_grouped(scored, codes)
    else:
        z, med, sc = np.full(len(yv), np.nan), np.zeros(len(yv)), np.zeros(len(yv))
    out = pd.DataFrame({"scale": np.asarray(SCALES, dtype=object)[_scale_index(lam)] if len(lam) else
                        np.zeros(0, dtype=object),
                        "expected": _backward(expected_x, lam), "score": z,
                        "lo": _backward(expected_x + med - threshold * sc, lam),
                        "hi": _backward(expected_x + med + threshold * sc, lam)}, index=df.index)
    out["outlier"] = (sc > 0) & (np.abs(np.nan_to_num(z)) > threshold) & ~np.isnan(yv)
    return out


def zero_runs(y: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row: a zero next to another zero of the same series, in a series that is not intermittent (at
    most ZERO_SHARE zero periods) — a stock-out or a closure. The quality report's ``zeros`` finding and its
    treatment (zeros as missing) deal with those; scored as outliers they were flagged or not depending on
    whether the run was long enough to drag the expected value down with it."""
    z = y == 0
    same_prev = np.r_[False, codes[1:] == codes[:-1]]
    same_next = np.r_[codes[:-1] == codes[1:], False]
    nb = (np.r_[False, z[:-1]] & same_prev) | (np.r_[z[1:], False] & same_next)
    share = pd.Series(z).groupby(codes, sort=False).transform("mean").to_numpy()
    return z & nb & (share <= ZERO_SHARE)


LAMBDAS = {"additive": 1.0, "sqrt": 0.5, "multiplicative": 0.0}


def _scale_index(lam: np.ndarray) -> np.ndarray:
    return np.where(lam == 1.0, 0, np.where(lam == 0.5, 1, 2))


def choose_lambdas(y: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int,
                   forced: str | None = None) -> np.ndarray:
    """Box-Cox lambda per group: 1 (additive), 0.5 (sqrt) or 0 (log, multiplicative) — the one nearest to
    1 - slope (see the module docstring) that the values allow: log needs positive values, sqrt
    non-negative ones. ``forced`` asks for one scale (still only where the values allow it)."""
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    if not n_groups:
        return np.zeros(0)
    ymin = pd.Series(y).groupby(codes).min().reindex(range(n_groups)).to_numpy()
    if forced is None:
        _, slope = choose_scales(y, codes, period, m)
        want = np.where(np.isnan(slope), 1.0, np.clip(np.round(2 * (1 - slope)) / 2, 0.0, 1.0))
        want = np.where(_level_ratio(y, codes, period, m) >= MIN_LEVEL_RATIO, want, 1.0)
    else:
        want = np.full(n_groups, LAMBDAS[forced])
    want = np.where((want == 0.0) & ~(ymin > 0), 0.5, want)
    return np.where((want == 0.5) & ~(ymin >= 0), 1.0, want)


def _level_ratio(y: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int) -> np.ndarray:
    n_groups = int(codes.max()) + 1
    frame = pd.DataFrame({"c": codes, "y": y, "p": period})
    frame["b"] = (frame["p"] - frame.groupby("c")["p"].transform("min")) // block_length(m)
    lv = frame.dropna(subset=["y"]).groupby(["c", "b"])["y"].median()
    lv = lv[lv > 0]
    if not len(lv):
        return np.ones(n_groups)
    g = lv.groupby(level=0)
    return (g.max() / g.min()).reindex(range(n_groups)).fillna(1.0).to_numpy()


def _forward(y: np.ndarray, lam: np.ndarray) -> np.ndarray:
    out = y.astype("float64").copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out[lam == 0.0] = np.log(y[lam == 0.0])
        out[lam == 0.5] = np.sqrt(y[lam == 0.5])
    return out


def _backward(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    out = x.copy()
    with np.errstate(over="ignore"):
        out[lam == 0.0] = np.exp(x[lam == 0.0])
    r = x[lam == 0.5]
    out[lam == 0.5] = np.sign(r) * r ** 2      # a bound below zero on the sqrt scale stays below zero
    return out


def _robust_expectation(x: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int) -> np.ndarray:
    """Level + seasonal part on the chosen scale, robust to spikes, in two passes (see the module docstring)."""
    n = len(x)
    if not n:
        return x.copy()
    window = max(3, 2 * (m // 2) + 1) if m > 1 else 5
    s = pd.Series(x)

    def level(values: np.ndarray) -> np.ndarray:
        return (pd.Series(values).groupby(codes, sort=False).rolling(window, center=True, min_periods=1).median()
                .droplevel(0).sort_index().to_numpy())

    if m <= 1:
        return level(x)
    pos = period % m
    keys = codes.astype(np.int64) * m + pos

    def seasonal(detrended: np.ndarray) -> np.ndarray:
        d = pd.Series(detrended)
        sea = (d.groupby(keys, sort=False).rolling(SEASON_WINDOW, center=True, min_periods=1).median()
               .droplevel(0).sort_index().to_numpy())
        sea = np.where(np.isnan(sea), d.groupby(keys, sort=False).transform("median").to_numpy(), sea)
        sea = np.nan_to_num(sea, nan=0.0)
        # centre the seasonal part on zero per series, so the level carries the level
        centre = pd.Series(sea).groupby(codes, sort=False).transform("median").to_numpy()
        return sea - centre

    trend = level(x)
    sea = seasonal(x - trend)
    trend = level(s.to_numpy() - sea)
    sea = seasonal(x - trend)
    return trend + sea


def flag_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that are on/off flags: numeric, only 0 and 1 (NaN allowed), both seen."""
    out = []
    for c in columns:
        if c not in df.columns or c in (ID, DS, Y) or not pd.api.types.is_numeric_dtype(df[c]):
            continue
        v = pd.unique(df[c].dropna())
        if len(v) == 2 and set(np.asarray(v, dtype="float64").tolist()) == {0.0, 1.0}:
            out.append(c)
    return out


def _effects(resid: np.ndarray, codes: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Per row: the sum of the effects of the flags that are on — per series, the median residual of the
    periods a flag is on minus the median of those it is off (0 where it is on fewer than MIN_FLAG_DAYS)."""
    total = np.zeros(len(resid))
    for j in range(flags.shape[1]):
        on = flags[:, j]
        r = pd.Series(resid)
        m_on = r.where(on).groupby(codes, sort=False).transform("median").to_numpy()
        m_off = r.where(~on).groupby(codes, sort=False).transform("median").to_numpy()
        n_on = pd.Series(on & np.isfinite(resid)).groupby(codes, sort=False).transform("sum").to_numpy()
        eff = np.where(n_on >= MIN_FLAG_DAYS, np.nan_to_num(m_on - m_off), 0.0)
        total += np.where(on, eff, 0.0)
    return total


def _expectation_with(x: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int,
                      flags: np.ndarray | None) -> np.ndarray:
    """:func:`_robust_expectation` plus the effects of known on/off covariates (promotion, holiday), fitted
    by backfitting: the effects are estimated on the residual, removed from the values, the seasonal fit
    redone; two rounds. Then refitted with means on winsorized values (:func:`_refined`)."""
    if flags is None or not flags.shape[1]:
        first = _robust_expectation(x, codes, period, m)
        eff = np.zeros(len(x))
    else:
        eff = np.zeros(len(x))
        for _ in range(2):
            base = _robust_expectation(x - eff, codes, period, m)
            eff = _effects(x - base, codes, flags)
        first = base + eff
    return _refined(x, first, eff, codes, period, m, flags)


def _refined(x: np.ndarray, first: np.ndarray, eff: np.ndarray, codes: np.ndarray, period: np.ndarray, m: int,
             flags: np.ndarray | None) -> np.ndarray:
    """The expected value refitted with means instead of medians, on the values winsorized at the first fit
    plus/minus CLIP robust standard deviations (see the module docstring, step 2)."""
    r = x - first
    _, med, sc = _robust_z_grouped(r, codes)
    xw = np.clip(x, first + med - CLIP * sc, first + med + CLIP * sc)
    xw = np.where(np.isnan(x), np.nan, xw)
    w = max(3, 2 * int(TREND_SEASONS * m // 2) + 1) if m > 1 else 5

    def level(values: np.ndarray) -> np.ndarray:
        return (pd.Series(values).groupby(codes, sort=False).rolling(w, center=True, min_periods=1).mean()
                .droplevel(0).sort_index().to_numpy())
    if m <= 1:
        base = level(xw - eff)
        return base + eff
    keys = codes.astype(np.int64) * m + period % m

    def seasonal(det: np.ndarray) -> np.ndarray:
        d = pd.Series(det)
        sea = (d.groupby(keys, sort=False).rolling(SEASON_WINDOW, center=True, min_periods=1).mean()
               .droplevel(0).sort_index().to_numpy())
        sea = np.nan_to_num(sea, nan=0.0)
        return sea - pd.Series(sea).groupby(codes, sort=False).transform("mean").to_numpy()
    sea = first - eff - level(first - eff)
    sea = sea - pd.Series(sea).groupby(codes, sort=False).transform("mean").to_numpy()
    for _ in range(2):
        trend = level(xw - eff - sea)
        sea = seasonal(xw - eff - trend)
        if flags is not None and flags.shape[1]:
            eff = _effects(xw - trend - sea, codes, flags)
    return trend + sea + eff
