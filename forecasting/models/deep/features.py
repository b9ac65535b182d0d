"""Calendar features known in advance: seasonal positions (as sine/cosine pairs) and national holidays.

Holidays come from the ``holidays`` package (country selectable by ISO code, e.g. ``US``, ``GB``, ``DE``).
Features are computed once per distinct date, then looked up, so many series cost no more than one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError


def period_days(freq: str) -> float:
    """Approximate length of one period in days (e.g. 1 for "D", 7 for "W-SUN", ~30 for "MS")."""
    try:
        two = pd.date_range("2001-01-01", periods=2, freq=freq)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"unknown frequency '{freq}': {exc}") from None
    return (two[1] - two[0]) / pd.Timedelta(days=1)


def _cyclic(values: np.ndarray, period: float, name: str) -> tuple[list[np.ndarray], list[str]]:
    angle = 2 * np.pi * np.asarray(values, dtype=float) / period
    return [np.sin(angle), np.cos(angle)], [f"{name}_sin", f"{name}_cos"]


def holiday_countries() -> dict[str, str]:
    """ISO 3166 alpha-2 code -> country name, for every country the ``holidays`` package has a calendar
    for (what ``holiday_country`` accepts), sorted by name."""
    import holidays
    from holidays.registry import COUNTRIES

    supported = holidays.list_supported_countries()
    names = {entry[1]: key.replace("_", " ").title() for key, entry in COUNTRIES.items()
             if len(entry) > 1 and entry[1] in supported}
    codes = {c: names.get(c, c) for c in supported if len(c) == 2}
    return dict(sorted(codes.items(), key=lambda kv: kv[1]))


def country_code(country: str) -> str:
    """The ISO code of a ``holiday_country`` setting, or :class:`ConfigError` when ``holidays`` has none."""
    import holidays

    code = str(country).strip().upper()
    supported = holidays.list_supported_countries()
    if code not in supported:
        raise ConfigError(f"unknown holiday_country '{country}'; use an ISO 3166 code such as US, GB, DE, FR "
                          f"({len(supported)} supported, see holidays.list_supported_countries())")
    return code


def holiday_calendar(country: str, years: range):
    import holidays

    return holidays.country_holidays(country_code(country), years=years)


def calendar_features(dates: pd.DatetimeIndex, freq: str, holiday_country: str | None = None
                      ) -> tuple[np.ndarray, list[str]]:
    """(len(dates), F) float32 features for ``dates`` and their names; depends only on the date."""
    uniq, inverse = np.unique(np.asarray(dates, dtype="datetime64[ns]"), return_inverse=True)
    d = pd.DatetimeIndex(uniq)
    days = period_days(freq)
    cols: list[np.ndarray] = []
    names: list[str] = []

    def add(pair: tuple[list[np.ndarray], list[str]]) -> None:
        cols.extend(pair[0])
        names.extend(pair[1])

    if days < 1:
        add(_cyclic(d.hour + d.minute / 60, 24, "hour"))
    if days <= 1:
        add(_cyclic(d.dayofweek, 7, "dow"))
    if days <= 7:
        add(_cyclic(d.dayofyear - 1, 365.25, "doy"))
    elif days <= 31:
        add(_cyclic(d.month - 1, 12, "month"))
    elif days <= 92:
        add(_cyclic(d.quarter - 1, 4, "quarter"))

    if holiday_country and days <= 31 and len(d):
        cal = holiday_calendar(holiday_country, range(d.min().year - 1, d.max().year + 2))
        hol_days = pd.DatetimeIndex(sorted(pd.Timestamp(x) for x in cal.keys()))
        if days <= 1:
            day = d.normalize()
            cols.append(day.isin(hol_days).astype(float))
            cols.append((day + pd.Timedelta(days=1)).isin(hol_days).astype(float))
            names += ["holiday", "holiday_eve"]
        else:
            # holidays falling inside the period [d, next period start), scaled to about [0, 1]
            ends = d + pd.tseries.frequencies.to_offset(freq)
            hd = hol_days.values
            count = np.searchsorted(hd, ends.values) - np.searchsorted(hd, d.values)
            cols.append(np.minimum(count, 3) / 3.0)
            names.append("holidays_in_period")

    if not cols:
        return np.zeros((len(inverse), 0), dtype=np.float32), []
    table = np.stack(cols, axis=1).astype(np.float32)
    return table[inverse.reshape(-1)], names
