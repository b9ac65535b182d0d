"""Frequency inference and snapping dates onto a regular grid.

Aliases used throughout SalesCast (pandas 2.x spellings): ``h`` (hourly), ``min`` multiples, ``D``,
``B`` (business days), ``W-SUN`` .. ``W-SAT`` (weeks labelled by their last day), ``MS``, ``QS-JAN`` ..,
``YS-JAN`` .. (periods labelled by their first day, which is the contract's "period start").
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, DataError

DAY_NS = 86_400 * 10**9
WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
LABELS = {"h": "hourly", "D": "daily", "B": "business-daily", "W": "weekly", "MS": "monthly", "QS": "quarterly",
          "YS": "yearly", "min": "minutes"}


def describe(freq: str) -> str:
    base = freq.split("-")[0].lstrip("0123456789")
    return LABELS.get(base, freq)


def normalize_freq(freq: str) -> str:
    """Turn any pandas alias the analyst may type into SalesCast's canonical one (ConfigError if unknown)."""
    f = freq.strip()
    up = f.upper()
    simple = {"H": "h", "1H": "h", "HOURLY": "h", "D": "D", "DAILY": "D", "B": "B", "W": "W-SUN", "WEEKLY": "W-SUN",
              "M": "MS", "ME": "MS", "MS": "MS", "BM": "MS", "BMS": "MS", "MONTHLY": "MS",
              "Q": "QS-JAN", "QE": "QS-JAN", "QS": "QS-JAN", "QUARTERLY": "QS-JAN",
              "Y": "YS-JAN", "A": "YS-JAN", "YE": "YS-JAN", "YS": "YS-JAN", "AS": "YS-JAN", "YEARLY": "YS-JAN",
              "T": "min", "MIN": "min"}
    if up in simple:
        return simple[up]
    if up.startswith("W-") and up[2:] in WEEKDAYS:
        return up
    for prefix, step in (("QS-", 3), ("Q-", 3), ("QE-", 3), ("YS-", 12), ("AS-", 12), ("Y-", 12), ("A-", 12), ("YE-", 12)):
        if up.startswith(prefix) and up[len(prefix):] in MONTHS:
            m = MONTHS.index(up[len(prefix):])
            start = m if prefix in ("QS-", "YS-", "AS-") else (m + 1) % 12  # Q-DEC ends in Dec, starts in Jan
            if step == 3:
                start = start % 3
            return ("QS-" if step == 3 else "YS-") + MONTHS[start]
    try:
        off = pd.tseries.frequencies.to_offset(f)
    except ValueError:
        raise ConfigError(f"unknown frequency '{freq}'; use e.g. h, D, B, W-SUN, MS, QS-JAN or YS-JAN") from None
    name = off.freqstr
    if name.endswith(("h", "min", "s")) or name in ("D", "B"):
        return name
    raise ConfigError(f"unsupported frequency '{freq}'; use e.g. h, D, B, W-SUN, MS, QS-JAN or YS-JAN")


def nominal_ns(freq: str) -> float:
    """Approximate length of one period, for comparing coarseness."""
    if freq.startswith("W"):
        return 7 * DAY_NS
    if freq.startswith("MS"):
        return 30.44 * DAY_NS
    if freq.startswith("QS"):
        return 91.3 * DAY_NS
    if freq.startswith("YS"):
        return 365.25 * DAY_NS
    if freq == "B":
        return 1.4 * DAY_NS  # 5 per week: coarser than D for this comparison
    return float(pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).value)


def infer_freq(codes: np.ndarray, ds: np.ndarray, same: np.ndarray | None = None) -> str:
    """Infer the frequency from series codes and dates sorted by (code, date); duplicates allowed.

    ``same`` (``codes[1:] == codes[:-1]``) may be passed when the caller has it already."""
    ds = ds.astype("datetime64[ns]").view("i8")
    if same is None:
        same = codes[1:] == codes[:-1]
    diff = ds[1:] - ds[:-1]
    steps = diff[same & (diff > 0)]
    if len(steps) == 0:
        raise DataError("cannot infer the frequency: every series has a single date; give the frequency",
                        setting="freq")
    probe = steps[:: max(1, len(steps) // 200_000)]  # the modal step of a large file from a slice of it
    vals, counts = np.unique(probe, return_counts=True)
    modal = int(vals[np.argmax(counts)])
    if modal >= 27 * DAY_NS:  # monthly or coarser: few rows, calendar checks on every distinct date
        dt = pd.DatetimeIndex(pd.unique(ds).view("datetime64[ns]"))
        months = dt.year * 12 + dt.month - 1
        mstep = np.diff(np.sort(np.unique(months)))
        mvals, mcounts = np.unique(mstep, return_counts=True)
        mmodal = int(mvals[np.argmax(mcounts)]) if len(mvals) else 1
        month = int(pd.Series(dt.month).mode().iloc[0]) - 1
        ends = bool(dt.is_month_end.all()) and not bool((dt.day == 1).all())  # 31 Mar labels Jan-Mar
        if mmodal >= 12 and modal >= 360 * DAY_NS:
            return "YS-" + MONTHS[(month - 11) % 12 if ends else month]
        if mmodal == 3 or (mmodal > 1 and mmodal % 3 == 0 and modal < 360 * DAY_NS):
            return "QS-" + MONTHS[((month - 2) % 12 if ends else month) % 3]
        return "MS"
    weekday = (ds // DAY_NS + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday); integer maths, no calendar
    if modal == 7 * DAY_NS:
        return "W-" + WEEKDAYS[int(np.bincount(weekday[:: max(1, len(ds) // 200_000)], minlength=7).argmax())]
    if modal == DAY_NS:
        if not (weekday >= 5).any() and (steps == 3 * DAY_NS).any():
            return "B"
        return "D"
    if modal % DAY_NS == 0 and modal < 7 * DAY_NS:
        return f"{modal // DAY_NS}D"
    return pd.tseries.frequencies.to_offset(pd.Timedelta(modal)).freqstr


def snap(ds: pd.Series, freq: str) -> pd.Series:
    """Map dates to the label of their period on the ``freq`` grid (month start, week end day …)."""
    if freq.startswith("MS") or freq.startswith("QS") or freq.startswith("YS"):
        y = ds.dt.year.to_numpy()
        m = ds.dt.month.to_numpy() - 1
        idx = y * 12 + m
        if freq.startswith("QS"):
            a = MONTHS.index(freq.split("-")[1]) if "-" in freq else 0
            idx = a + ((idx - a) // 3) * 3
        elif freq.startswith("YS"):
            a = MONTHS.index(freq.split("-")[1]) if "-" in freq else 0
            idx = a + ((idx - a) // 12) * 12
        out = (idx // 12 - 1970) * 12 + idx % 12
        return pd.Series(out.astype("datetime64[M]").astype("datetime64[ns]"), index=ds.index)
    if freq.startswith("W"):
        end_day = WEEKDAYS.index(freq.split("-")[1]) if "-" in freq else 6
        day = ds.dt.normalize()
        ahead = (end_day - day.dt.dayofweek) % 7
        return day + pd.to_timedelta(ahead, unit="D")
    if freq == "B":
        day = ds.dt.normalize()
        back = np.clip(day.dt.dayofweek.to_numpy() - 4, 0, None)  # Sat -> Fri, Sun -> Fri
        return day - pd.to_timedelta(back, unit="D")
    if freq == "D":
        return ds.dt.normalize()
    off = pd.tseries.frequencies.to_offset(freq)
    return ds.dt.floor(off)


def coarser_choices(freq: str) -> list[str]:
    """The frequencies an analyst can aggregate ``freq`` data to (including ``freq`` itself)."""
    order = ["h", "D", "B", "W-SUN", "MS", "QS-JAN", "YS-JAN"]
    base = nominal_ns(freq)
    out = [freq] + [f for f in order if nominal_ns(f) > base and f != freq]
    if freq == "B":
        out = [f for f in out if f != "D"]
    return out


def full_range(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=freq)


def period_index(ds: pd.Series | pd.DatetimeIndex, freq: str) -> np.ndarray:
    """An integer period number per date on the ``freq`` grid (consecutive periods differ by one).

    Used to count and locate gaps and to give seasonal positions without building a grid per series."""
    d = pd.DatetimeIndex(ds)
    if freq.startswith("MS"):
        return (d.year * 12 + d.month - 1).to_numpy(dtype=np.int64)
    if freq.startswith("QS"):
        a = MONTHS.index(freq.split("-")[1]) if "-" in freq else 0
        return ((d.year * 12 + d.month - 1 - a) // 3).to_numpy(dtype=np.int64)
    if freq.startswith("YS"):
        return d.year.to_numpy(dtype=np.int64)
    if freq == "B":
        days = d.to_numpy().astype("datetime64[D]")
        return np.busday_count(np.datetime64("1970-01-05"), days).astype(np.int64)
    if freq.startswith("W"):
        return (d.normalize().to_numpy().view("i8") // DAY_NS + 3) // 7  # 1970-01-01 is a Thursday
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).value
    return d.to_numpy().view("i8") // step


# base alias (prefix, upper case, anchor dropped) -> season length
_SEASONS: dict[str, int] = {
    "Y": 1, "A": 1, "YS": 1, "AS": 1, "BY": 1, "BYS": 1, "BA": 1, "BAS": 1,
    "Q": 4, "QS": 4, "BQ": 4, "BQS": 4,
    "M": 12, "MS": 12, "ME": 12, "BM": 12, "BMS": 12, "BME": 12, "SM": 24, "SMS": 24,
    "W": 52,
    "D": 7, "B": 5, "C": 5,
    "H": 24, "BH": 24,
    "T": 60, "MIN": 60, "S": 60,
}


def season_length_for(freq: str | None) -> int:
    """The default season length for a frequency alias: 12 for monthly, 4 quarterly, 7 daily, 52 weekly …

    Unknown or missing frequencies give 1 (no seasonality)."""
    if not freq:
        return 1
    alias = str(freq).split("-")[0].upper()
    match = re.fullmatch(r"(\d*)([A-Z]+)", alias)
    if not match:
        return 1
    mult, base = match.groups()
    season = _SEASONS.get(base, 1)
    if mult and int(mult) > 1 and season > 1:
        season = max(1, round(season / int(mult)))
    return season


def max_horizon(last: pd.Timestamp, freq: str) -> int:
    """The most periods of ``freq`` after ``last`` that stay within pandas' dates (up to 2262-04-11)."""
    from pandas.tseries.frequencies import to_offset

    off = to_offset(freq)
    room = pd.Timestamp.max.value - pd.Timestamp(last).value
    h = int(room // max(nominal_ns(freq) * 0.97, 1.0)) + 2     # a little above the answer, then walk down
    lo, hi = 0, h
    while lo < hi:                                              # largest h with last + h periods in range
        mid = (lo + hi + 1) // 2
        try:
            ok = pd.Timestamp(last) + mid * off <= pd.Timestamp.max
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            ok = False
        if ok:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_horizon(last: pd.Timestamp, freq: str, horizon: int) -> None:
    """Refuse a horizon that runs past the last date pandas can hold, naming the largest that fits."""
    from forecasting.errors import ConfigError

    top = max_horizon(last, freq)
    if horizon > top:
        raise ConfigError(f"a horizon of {horizon:,} {describe(freq)} periods after {pd.Timestamp(last).date()} "
                          f"reaches past {pd.Timestamp.max.date()}, the last date SalesCast can compute with; "
                          f"the largest horizon that fits is {top:,}")
