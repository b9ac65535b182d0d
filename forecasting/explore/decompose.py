"""Classical, STL and MSTL decompositions that never crash on gaps or short histories.

``decompose`` returns a :class:`Decomposition`: one row per date with ``y``, ``trend``, the seasonal
component(s) and ``resid``. Additive components add up to ``y``; multiplicative (classical only)
multiply to it. Interior gaps are interpolated first (flagged in ``imputed``); a period needs two full
seasons, and when the data has fewer the seasonal part is left out and a note says so.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError
from forecasting.explore.prep import prepare, regular
from forecasting.explore.seasonality import detect_periods, fmt_period, periods_per_year

METHODS = ("stl", "mstl", "classical")
MODELS = ("additive", "multiplicative")


@dataclass
class Decomposition:
    frame: pd.DataFrame          # index: date; columns y, trend, seasonal | seasonal_<P>…, resid, imputed
    method: str                  # the method used: stl | mstl | classical | trend (seasonal part left out)
    requested: str               # the method asked for
    periods: list[int]           # seasonal periods in the result
    model: str = "additive"      # multiplicative only for classical on positive data
    notes: list[str] = field(default_factory=list)

    @property
    def seasonal_cols(self) -> list[str]:
        return [c for c in self.frame.columns if c == "seasonal" or c.startswith("seasonal_")]

    @property
    def multiplicative(self) -> bool:
        return self.model == "multiplicative"

    @property
    def seasonal(self) -> pd.Series:
        """All seasonal components combined (a sum, or a product for multiplicative)."""
        cols = self.seasonal_cols
        if not cols:
            return pd.Series(1.0 if self.multiplicative else 0.0, index=self.frame.index).where(
                self.frame["trend"].notna())
        s = self.frame[cols]
        return s.prod(axis=1, min_count=1) if self.multiplicative else s.sum(axis=1, min_count=1)

    @property
    def adjusted(self) -> pd.Series:
        """The seasonally adjusted series: y without its seasonal component(s)."""
        y = self.frame["y"]
        return (y / self.seasonal) if self.multiplicative else (y - self.seasonal)

    def strengths(self) -> tuple[float, float]:
        """(trend strength, seasonal strength), each in [0, 1] (Wang, Smith & Hyndman 2006):
        1 - Var(resid) / Var(component + resid). Seasonal strength is NaN without a seasonal part."""
        f = self.frame.dropna(subset=["trend", "resid"])
        t, r, s = f["trend"].to_numpy(), f["resid"].to_numpy(), self.seasonal.loc[f.index].to_numpy()
        if self.multiplicative:
            if (t <= 0).any() or (r <= 0).any() or (s <= 0).any():
                return float("nan"), float("nan")
            t, r, s = np.log(t), np.log(r), np.log(s)
        return _strength(t, r), (_strength(s, r) if self.seasonal_cols else float("nan"))


def _strength(component: np.ndarray, resid: np.ndarray) -> float:
    if len(resid) < 3:
        return float("nan")
    total = np.var(component + resid)
    if total <= 0:
        return 0.0
    return float(max(0.0, min(1.0, 1 - np.var(resid) / total)))


def hp_lambda(freq: str | None) -> float:
    """Ravn–Uhlig smoothing for the Hodrick–Prescott filter: 1600 × (periods per quarter)^4."""
    ppy = periods_per_year(freq) or 4.0
    return 1600.0 * (ppy / 4.0) ** 4


def parse_periods(value: str | list | tuple | int | float | None) -> list[float] | None:
    """``"7,365.25"`` / ``[7, 365.25]`` / ``12`` -> list of floats; None or "" -> None (detect)."""
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else (value if isinstance(value, (list, tuple)) else [value])
    out = []
    for item in items:
        try:
            p = float(str(item).strip())
        except ValueError:
            raise ConfigError(f"period {str(item).strip()!r} is not a number; give e.g. 12 or 7,365.25") from None
        if not np.isfinite(p) or p < 2:
            raise ConfigError(f"a seasonal period must be at least 2 (got {item})")
        out.append(p)
    return out


def decompose(y: pd.Series, freq: str | None = None, method: str = "stl", periods: list[float] | None = None,
              model: str = "additive", robust: bool = False) -> Decomposition:
    """Decompose one series into trend, seasonal component(s) and residual.

    ``periods`` None detects them (:func:`~forecasting.explore.seasonality.detect_periods`); STL and
    classical use the shortest, MSTL all of them. ``model`` applies to classical only."""
    method = method.lower()
    if method not in METHODS:
        raise ConfigError(f"unknown decomposition method {method!r}; choose one of {', '.join(METHODS)}")
    if model not in MODELS:
        raise ConfigError(f"unknown decomposition model {model!r}; choose additive or multiplicative")
    if not isinstance(y, pd.Series):
        y = pd.Series(np.asarray(y, dtype="float64"))
    grid = regular(y, freq)
    prep = prepare(grid, freq)
    notes = list(prep.notes)
    x = prep.y.to_numpy(dtype="float64")
    usable = _usable_periods(prep.y, freq, method, periods, notes)
    if model == "multiplicative" and method != "classical":
        notes.append("the multiplicative model applies to classical decomposition only; additive used")
        model = "additive"
    elif model == "multiplicative" and (x <= 0).any():
        notes.append("multiplicative decomposition needs positive values; additive used instead")
        model = "additive"
    if usable:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "classical":
                comp = _classical(prep.y, usable[0], model)
            elif method == "stl":
                comp = _stl(prep.y, usable[0], robust)
            else:
                comp = _mstl(prep.y, usable, robust)
        used = method
    else:
        comp = pd.DataFrame({"trend": _trend_only(x, freq)}, index=prep.y.index)
        comp["resid"] = x - comp["trend"].to_numpy()
        used, model = "trend", "additive"
        if len(x):
            notes.append("seasonal component not estimated: trend and residual only")
    out = comp.reindex(grid.index)
    out.insert(0, "y", prep.y.reindex(grid.index))
    out["imputed"] = prep.imputed.reindex(grid.index, fill_value=False).astype(bool)
    out.index.name = "ds"
    return Decomposition(out, used, method, usable, model, notes)


def _usable_periods(y: pd.Series, freq: str | None, method: str, periods: list[float] | None,
                    notes: list[str]) -> list[int]:
    """The whole periods the method can estimate on ``y`` (detected when None); says why others are left out."""
    n = len(y)
    given = periods is not None
    if periods is None:
        det = detect_periods(y, freq)
        periods = list(det.periods)
        notes += [m for m in det.notes if m not in notes]
        text = ", ".join(fmt_period(p) for p in periods)
        if method != "mstl" and len(periods) > 1:
            text += f"; {method.upper()} uses the shortest, {fmt_period(periods[0])} (MSTL uses all)"
            periods = periods[:1]
        notes.append(f"detected period(s): {text}" if periods else "no seasonal period detected")
    ints = sorted({int(round(p)) for p in periods if round(p) >= 2})
    if given and any(p != int(p) for p in periods):
        notes.append("fractional periods rounded to whole periods: " + ", ".join(str(p) for p in ints))
    need = {p: 2 * p + (1 if method == "mstl" else 0) for p in ints}   # MSTL wants more than two seasons
    usable = [p for p in ints if n >= need[p]]
    for p in ints:
        if p not in usable:
            notes.append(f"period {p} needs two full seasons ({need[p]} observations), the series has {n}: "
                         f"its seasonal part is left out")
    if method in ("stl", "classical") and len(usable) > 1:
        notes.append(f"{method.upper()} takes one period: using {usable[0]} (MSTL handles several)")
        usable = usable[:1]
    for p in usable:
        if n < 4 * p:
            notes.append(f"period {p} spans only {n // p} full seasons: its seasonal component is an "
                         "average of few values and may follow noise (residuals and anomalies less reliable)")
    return usable


def _trend_only(x: np.ndarray, freq: str | None) -> np.ndarray:
    """Hodrick–Prescott trend (the mean for fewer than 4 values)."""
    if len(x) < 4:
        return np.full(len(x), float(np.mean(x)) if len(x) else np.nan)
    from statsmodels.tsa.filters.hp_filter import hpfilter

    _, trend = hpfilter(x, lamb=hp_lambda(freq))
    return np.asarray(trend, dtype="float64")


def _classical(y: pd.Series, period: int, model: str) -> pd.DataFrame:
    from statsmodels.tsa.seasonal import seasonal_decompose

    res = seasonal_decompose(y.to_numpy(), model=model, period=period, extrapolate_trend="freq")
    trend, seasonal = np.asarray(res.trend), np.asarray(res.seasonal)
    x = y.to_numpy()
    resid = x / (trend * seasonal) if model == "multiplicative" else x - trend - seasonal
    return pd.DataFrame({"trend": trend, "seasonal": seasonal, "resid": resid}, index=y.index)


def _stl_fit(x: np.ndarray, period: int, robust: bool, seasonal: int = 13):
    """STL as R's ``stl`` sets it up: local-constant seasonal smoothing (a season position is a moving
    average over seasons, so a long period with few seasons is not interpolated through noise) and
    LOESS evaluated every ~10% of each window (30-50x faster for long periods, same result). The
    seasonal window of 13 seasons (statsmodels: 7) keeps the pattern from chasing noise, which would
    shrink the residuals and make ordinary points look like anomalies."""
    from statsmodels.tsa.seasonal import STL

    jumps = dict(seasonal_jump=max(1, math.ceil(seasonal / 10)), trend_jump=max(1, math.ceil(0.15 * period)),
                 low_pass_jump=max(1, math.ceil(period / 10)))
    return STL(x, period=period, seasonal=seasonal, seasonal_deg=0, robust=robust, **jumps).fit()


def _stl(y: pd.Series, period: int, robust: bool) -> pd.DataFrame:
    res = _stl_fit(y.to_numpy(), period, robust)
    return pd.DataFrame({"trend": res.trend, "seasonal": res.seasonal, "resid": res.resid}, index=y.index)


def _mstl(y: pd.Series, periods: list[int], robust: bool, iterate: int = 2) -> pd.DataFrame:
    """MSTL (Bandara, Hyndman & Bergmeir 2021) as statsmodels runs it: STL per period, shortest first,
    each on the series without the other seasonal components, ``iterate`` rounds; seasonal windows
    13, 17, 21 … Written out here so each period gets its own LOESS settings (see :func:`_stl_fit`)."""
    periods = sorted(periods)
    x = y.to_numpy(dtype="float64")
    seasonal = np.zeros((len(periods), len(x)))
    deseas = x.copy()
    for _ in range(iterate if len(periods) > 1 else 1):
        for i, p in enumerate(periods):
            deseas = deseas + seasonal[i]
            res = _stl_fit(deseas, p, robust, seasonal=13 + 4 * i)
            seasonal[i] = res.seasonal
            deseas = deseas - seasonal[i]
    out = pd.DataFrame({"trend": np.asarray(res.trend)}, index=y.index)
    for i, p in enumerate(periods):
        out[f"seasonal_{p}"] = seasonal[i]
    out["resid"] = deseas - out["trend"].to_numpy()
    return out
