"""Seasonal periods: what the calendar suggests, what the data shows, and the seasonal indices.

Detection works on the series with its slow trend removed (a centred moving average as long as the
longest calendar period). A period is *found* when the autocorrelation at its lag is significant and
stands out as a peak, and the periodogram has a peak at one of its first three harmonics. Calendar
periods (7 and 365.25 for daily data, 12 for monthly …) are checked first; strong periodogram peaks
that no calendar period explains are checked the same way and reported as ``source="data"``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.explore.prep import prepare

# (periods per year, calendar seasonal periods) per pandas offset class, for one unit of the offset
_CALENDAR: dict[str, tuple[float, tuple[float, ...]]] = {
    "Minute": (525_960.0, (60.0, 1440.0)),
    "Hour": (8766.0, (24.0, 168.0)),
    "Day": (365.25, (7.0, 365.25)),
    "BusinessDay": (261.0, (5.0, 261.0)),
    "CustomBusinessDay": (261.0, (5.0, 261.0)),
    "Week": (365.25 / 7, (365.25 / 7,)),
    "SemiMonthBegin": (24.0, (24.0,)),
    "SemiMonthEnd": (24.0, (24.0,)),
    "MonthBegin": (12.0, (12.0,)),
    "MonthEnd": (12.0, (12.0,)),
    "BusinessMonthBegin": (12.0, (12.0,)),
    "BusinessMonthEnd": (12.0, (12.0,)),
    "QuarterBegin": (4.0, (4.0,)),
    "QuarterEnd": (4.0, (4.0,)),
    "BQuarterBegin": (4.0, (4.0,)),
    "BQuarterEnd": (4.0, (4.0,)),
    "YearBegin": (1.0, ()),
    "YearEnd": (1.0, ()),
}


ACF_MIN = 0.1      # the autocorrelation at the period's lag must exceed this (and 1.96 / sqrt(n))
PEAK_MIN = 0.1     # … and stand this far above the lowest autocorrelation of the preceding 3/4 season
POWER_MIN = 6.0    # periodogram power at a harmonic of the period, over the median power


def _offset_info(freq: str | None) -> tuple[float, tuple[float, ...]] | None:
    if not freq:
        return None
    try:
        off = pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        return None
    info = _CALENDAR.get(type(off).__name__)
    if info is None:
        return None
    n = max(1, abs(int(getattr(off, "n", 1) or 1)))
    per_year, periods = info
    return per_year / n, tuple(p / n for p in periods if p / n >= 2)


def fmt_period(p: float) -> str:
    """A period for people: 12, 7, 365.25, 52.18 (two decimals at most)."""
    return f"{p:.2f}".rstrip("0").rstrip(".")


def calendar_periods(freq: str | None) -> list[float]:
    """Seasonal periods the calendar suggests for ``freq`` (e.g. ``[7, 365.25]`` for ``"D"``)."""
    info = _offset_info(freq)
    return list(info[1]) if info else []


def periods_per_year(freq: str | None) -> float | None:
    """How many periods of ``freq`` make a year (365.25 for ``"D"``, 12 for ``"MS"``); None if unknown."""
    info = _offset_info(freq)
    return info[0] if info else None


@dataclass
class PeriodCandidate:
    period: float          # in periods of the series' frequency (may be fractional: 365.25)
    source: str            # "calendar" or "data"
    acf: float             # autocorrelation of the detrended series at the period's lag
    power_ratio: float     # periodogram power at the period (best of 3 harmonics) / median power
    found: bool            # passed both checks
    reason: str = ""       # why not found, in words


@dataclass
class PeriodDetection:
    periods: list[float]                       # found periods, shortest first
    candidates: list[PeriodCandidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n: int = 0
    has_calendar: bool = False                 # the frequency suggests calendar periods

    @property
    def season_length(self) -> int:
        """The default season length for models: the shortest calendar period found; a period found in
        the data only when the frequency has no calendar periods; 1 when none was found."""
        calendar = sorted(c.period for c in self.candidates if c.found and c.source == "calendar")
        data = sorted(c.period for c in self.candidates if c.found and c.source == "data")
        if calendar:
            return int(round(calendar[0]))
        if data and not self.has_calendar:
            return int(round(data[0]))
        return 1


def _acf(x: np.ndarray, nlags: int) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size)
    r = np.fft.irfft(f * np.conj(f), size)[: nlags + 1]
    return r / r[0] if r[0] > 0 else np.zeros(nlags + 1)


def _detrend(x: np.ndarray, window: int) -> np.ndarray:
    """x minus its centred moving average of ``window`` (shorter at the ends), or its linear fit."""
    if window >= 3:
        n = len(x)
        c = np.concatenate(([0.0], np.cumsum(x)))
        i = np.arange(n)
        lo = np.maximum(0, i - (window - 1) // 2 - (1 if window % 2 == 0 else 0))
        hi = np.minimum(n, i + window // 2 + (0 if window % 2 == 0 else 1))
        return x - (c[hi] - c[lo]) / (hi - lo)
    t = np.arange(len(x))
    return x - np.polyval(np.polyfit(t, x, 1), t)


def _position_means(z: np.ndarray, period: float) -> np.ndarray:
    """The mean of each season position, repeated along the series (a fixed seasonal pattern)."""
    lag = int(round(period))
    pos = np.arange(len(z)) % lag
    means = np.bincount(pos, weights=z, minlength=lag) / np.maximum(np.bincount(pos, minlength=lag), 1)
    return means[pos]


def _check(period: float, acf: np.ndarray, power: np.ndarray, n: int) -> tuple[float, float, bool, str]:
    lags = [math.floor(period), math.ceil(period)] if period != int(period) else [int(period)]
    lags = [lag for lag in lags if 2 <= lag < len(acf)]
    if not lags:
        return float("nan"), float("nan"), False, "lag beyond the series"
    r = float(max(acf[lag] for lag in lags))
    lag = lags[int(np.argmax([acf[lag] for lag in lags]))]
    trough = float(acf[max(1, lag // 4): lag].min()) if lag >= 2 else r
    med = float(np.median(power[1:])) if len(power) > 2 else 0.0
    ratios = []
    for k in (1, 2, 3):
        if 2 * k > period:   # harmonic above the Nyquist frequency
            break
        b = k * n / period
        lo, hi = max(1, math.floor(b) - 1), min(len(power) - 1, math.ceil(b) + 1)
        if lo <= hi:
            ratios.append(float(power[lo: hi + 1].max()) / med if med > 0 else float("inf"))
    ratio = max(ratios) if ratios else float("nan")
    thr = max(ACF_MIN, 1.96 / math.sqrt(n))
    if not r > thr:
        return r, ratio, False, f"autocorrelation {r:.2f} at lag {lag} is not significant (needs > {thr:.2f})"
    if not r - trough > PEAK_MIN:
        return r, ratio, False, f"no autocorrelation peak at lag {lag}"
    if not ratio > POWER_MIN:
        return r, ratio, False, f"no periodogram peak at period {fmt_period(period)}"
    return r, ratio, True, ""


def detect_periods(y: pd.Series | np.ndarray, freq: str | None = None, max_periods: int = 3) -> PeriodDetection:
    """Find the seasonal periods of ``y``: calendar periods confirmed by the data, then data-only ones.

    A period is only checked when the series holds two full seasons of it; otherwise a note says so."""
    prep = prepare(y, freq)
    x = prep.y.to_numpy(dtype="float64")
    n = len(x)
    cal = calendar_periods(freq)
    out = PeriodDetection([], [], list(prep.notes), n, bool(cal))
    if n < 8 or np.std(x) == 0:
        out.notes.append(f"too few or constant values ({n}) to look for seasonal periods")
        return out
    testable = [p for p in cal if n >= 2 * p]
    for p in cal:
        if p not in testable:
            out.notes.append(f"period {fmt_period(p)} not checked: it needs two full seasons "
                             f"({math.ceil(2 * p)} observations), the series has {n}")
    window = int(round(max(testable))) if testable else 0
    z = _detrend(x, window)
    nlags = min(n - 1, int(math.ceil(max(testable + [2.0]))) + 2, n // 2 + 2)
    nlags = max(nlags, min(n - 1, n // 2))
    acf, power = _acf(z, nlags), np.abs(np.fft.rfft(z - z.mean())) ** 2
    for p in testable:
        r, ratio, ok, why = _check(p, acf, power, n)
        out.candidates.append(PeriodCandidate(p, "calendar", r, ratio, ok, why))
        if ok and n >= 4 * p:  # take a well-estimated season out, so it cannot mask a weaker one
            z = z - _position_means(z, p)
            acf, power = _acf(z, nlags), np.abs(np.fft.rfft(z - z.mean())) ** 2
    found = [c.period for c in out.candidates if c.found]
    # strong periodogram peaks that the calendar does not explain
    med = float(np.median(power[1:])) if len(power) > 2 else 0.0
    order = np.argsort(power[2:])[::-1][:5] + 2 if len(power) > 3 else []
    for k in order:
        p = n / k
        if med <= 0 or power[k] / med < 10 or p < 2 or p > n / 4:
            continue  # weak, or fewer than four cycles in the data
        if k + 1 < len(power) and not (power[k] >= power[k - 1] and power[k] >= power[k + 1]):
            continue  # the shoulder of another peak
        if any(abs(p - c.period) / c.period < 0.1 for c in out.candidates):
            continue
        if any(abs(q / p - round(q / p)) < 0.05 * q / p for q in found):
            continue  # a harmonic of a period already found
        # refine: the ACF peak near the periodogram estimate
        lo, hi = max(2, int(p * 0.9)), min(len(acf) - 1, int(math.ceil(p * 1.1)))
        if lo > hi:
            continue
        lag = lo + int(np.argmax(acf[lo: hi + 1]))
        if lag + 1 >= len(acf) or not acf[lag - 1] < acf[lag] > acf[lag + 1]:
            continue  # the autocorrelation does not peak there
        r, ratio, ok, why = _check(float(lag), acf, power, n)
        if ok and not any(abs(lag - c.period) / c.period < 0.1 for c in out.candidates):
            out.candidates.append(PeriodCandidate(float(lag), "data", r, ratio, ok, why))
            found.append(float(lag))
    strongest = sorted((c for c in out.candidates if c.found), key=lambda c: -c.acf)[:max_periods]
    out.periods = sorted(c.period for c in strongest)
    return out


def suggest_season_length(y: pd.Series | np.ndarray, freq: str | None = None) -> int:
    """The season length models should use by default (see :attr:`PeriodDetection.season_length`):
    the shortest calendar period of ``freq`` that the data confirms (7 for daily data with a weekly
    pattern, 12 for monthly …). Periods seen only in the data (a 19-month swing) are not used as a
    default when the calendar has periods: on M3 they were cycles, not seasons.

    Returns 1 (no seasonality) when no period is found or the series is too short to check one
    (fewer than two full seasons). Fast (FFT-based) and never raises on gaps or short input."""
    try:
        return detect_periods(y, freq).season_length
    except Exception:  # a default must never break the caller
        return 1


def seasonal_indices(seasonal: pd.Series, period: int, freq: str | None = None,
                     multiplicative: bool = False) -> pd.DataFrame:
    """One index per season position: the average seasonal effect (additive: units above/below the
    trend, summing to 0; multiplicative: a factor, averaging 1).

    Positions are calendar labels when the period matches the calendar (months, weekdays, quarters,
    hours), otherwise 1..period counted from the first date."""
    period = int(period)
    labels, order = _position_labels(seasonal.index, period, freq)
    frame = pd.DataFrame({"position": labels, "value": seasonal.to_numpy(dtype="float64")})
    table = frame.groupby("position", sort=False)["value"].agg(["mean", "count"]).reset_index()
    if order is not None:
        table["_o"] = table["position"].map({lab: i for i, lab in enumerate(order)})
        table = table.sort_values("_o").drop(columns="_o")
    else:
        table = table.sort_values("position")
    idx = table["mean"].to_numpy()
    table["index"] = idx / idx.mean() if multiplicative and idx.mean() != 0 else idx - idx.mean()
    return table[["position", "index", "count"]].rename(columns={"count": "n"}).reset_index(drop=True)


def _position_labels(index, period: int, freq: str | None) -> tuple[list, list | None]:
    if isinstance(index, pd.DatetimeIndex) and freq:
        info = _offset_info(freq)
        cls = type(pd.tseries.frequencies.to_offset(freq)).__name__ if info else ""
        if cls.startswith(("Month", "BusinessMonth")) and period == 12:
            order = [pd.Timestamp(2000, m, 1).strftime("%b") for m in range(1, 13)]
            return list(index.strftime("%b")), order
        if cls == "Day" and period == 7:
            order = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            return list(index.strftime("%a")), order
        if cls.startswith(("Quarter", "BQuarter")) and period == 4:
            return [f"Q{q}" for q in index.quarter], ["Q1", "Q2", "Q3", "Q4"]
        if cls == "Hour" and period == 24:
            return [f"{h:02d}:00" for h in index.hour], [f"{h:02d}:00" for h in range(24)]
    pos = np.arange(len(index)) % period + 1
    return list(pos), None


def dataset_season_length(dataset) -> tuple[int, str]:
    """The season length models use by default for a dataset, and why.

    The period detector of the Explore step (periodogram and ACF, cross-checked with the calendar) runs on
    the total over all series; the shortest calendar period it confirms is used. When it confirms none
    (too short a history, or no seasonal pattern) the season length is 1, unless the history is too short to
    check at all, in which case the calendar default stands (the models fall back on their own when a season
    cannot be fitted)."""
    from forecasting.data.frequency import season_length_for

    calendar = season_length_for(dataset.freq)
    total = dataset.df.groupby("ds")["y"].sum(min_count=1)
    if dataset.freq:
        try:
            total = total.asfreq(dataset.freq)
        except (ValueError, TypeError):
            pass
    if calendar > 1 and total.notna().sum() < 2 * calendar:
        return calendar, f"calendar default for frequency {dataset.freq} (history too short to confirm it)"
    try:
        m = int(detect_periods(total, dataset.freq).season_length)
    except Exception:  # a default must never break the caller
        return calendar, f"calendar default for frequency {dataset.freq}"
    if m == calendar:
        return m, f"detected on the total of all series (calendar period of {dataset.freq})"
    return m, f"detected on the total of all series (calendar default would be {calendar})"
