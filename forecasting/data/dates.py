"""Robust date parsing: decide the format from the data, parse distinct values only (fast).

Handles ISO dates and timestamps, day-first vs month-first (decided from values > 12, else from the
regularity of the resulting dates), ``YYYY-MM``, ``YYYY Mon`` / ``Mon YYYY``, ``YYYYMMDD`` integers,
quarters (``1998 Q1``, ``Q1 1998``, ``1998-Q1``), ISO weeks (``2020-W05``), year numbers, Excel serial
numbers and time zones (local wall dates kept for whole days, otherwise converted to UTC).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

DATE_NAME = re.compile(r"(^|[^a-z])(date|datum|fecha|ds|day|time|timestamp|period|month|week|year|quarter|"
                       r"jahr|monat|mois|dia|zeit|when|dt)([^a-z]|$)", re.IGNORECASE)
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_TZ = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_THREE_PARTS = re.compile(r"\d{1,4}[-/. ]+[A-Za-z]{3,9}\.?[-/., ]+\d{1,4}|[A-Za-z]{3,9}\.?[-/. ]+\d{1,2}(?:st|nd|rd|th)?[-/., ]+\d{2,4}|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


@dataclass
class ParsedDates:
    values: pd.Series        # datetime64[ns], tz-naive, NaT where unparseable
    how: str                 # human description of the format, for notes
    ok_share: float          # share of non-missing inputs that parsed
    out_of_range: np.ndarray | None = None   # positions of dates outside pandas' range (year 0001, 9999)
    warning: str = ""        # e.g. the column mixes date formats


# pandas holds dates as int64 nanoseconds: 1677-09-22 .. 2262-04-11. A date outside is refused, never moved.
FIRST_YEAR, LAST_YEAR = 1678, 2261
_YMD = re.compile(r"^\s*[+-]?(\d{4,})[-/.]\d{1,2}[-/.]\d{1,2}(?:$|[ T])")
_DMY = re.compile(r"^\s*\d{1,2}[-/.]\d{1,2}[-/.](\d{4,})(?:$|[ T])")
_ISO_DAY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T].*)?$")
_DM = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}([ T].*)?$")


def _out_of_range(uniq: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Distinct values that did not parse because their year is outside pandas' range."""
    bad = parsed.isna().to_numpy() & (uniq != "").to_numpy()
    if not bad.any():
        return np.zeros(len(uniq), dtype=bool)
    cand = uniq[bad]
    ymd, dmy = cand.str.extract(_YMD)[0], cand.str.extract(_DMY)[0]
    year = pd.to_numeric(pd.Series(np.where(ymd.notna(), ymd, dmy), index=cand.index), errors="coerce")
    out = np.zeros(len(uniq), dtype=bool)
    out[np.flatnonzero(bad)] = ((year < FIRST_YEAR) | (year > LAST_YEAR)).to_numpy()
    return out


def parse_dates(s: pd.Series, name: str = "") -> ParsedDates:
    """Parse a column of dates written in any of the supported ways."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
        how = "dates"
        if getattr(s.dt, "tz", None) is not None:
            out, how = _from_aware(s)
        return ParsedDates(out if out.dtype == "datetime64[ns]" else out.astype("datetime64[ns]"), how, 1.0)
    if pd.api.types.is_bool_dtype(s):
        return ParsedDates(pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), "not dates", 0.0)
    if pd.api.types.is_numeric_dtype(s):
        return _parse_numeric(s, name)
    codes, uniques = pd.factorize(s.astype("string") if not isinstance(s.dtype, pd.CategoricalDtype) else s)
    uniq = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.strip()
    warning: list[str] = []
    parsed, how = parse_unique_strings(uniq, warning)
    vals = parsed.to_numpy(dtype="datetime64[ns]")
    out = np.where(codes >= 0, vals[np.maximum(codes, 0)], np.datetime64("NaT"))
    res = pd.Series(out, index=s.index, dtype="datetime64[ns]")
    n_in = int((codes >= 0).sum())
    far = _out_of_range(uniq, parsed)
    far_rows = np.flatnonzero(far[np.maximum(codes, 0)] & (codes >= 0)) if far.any() else None
    ok = float((res.notna().sum() + (len(far_rows) if far_rows is not None else 0)) / n_in) if n_in else 0.0
    return ParsedDates(res, how, ok, far_rows, "; ".join(warning))


def _from_aware(s: pd.Series) -> tuple[pd.Series, str]:
    local = s.dt.tz_localize(None)
    if (local == local.dt.normalize()).all():
        return local, "time zone dropped (whole local days kept)"
    return s.dt.tz_convert("UTC").dt.tz_localize(None), "times converted to UTC"


def _parse_numeric(s: pd.Series, name: str) -> ParsedDates:
    v = s.dropna()
    if len(v) == 0:
        return ParsedDates(pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), "not dates", 0.0)
    arr = v.to_numpy(dtype=float)
    whole = bool(np.all(arr == np.round(arr)))
    lo, hi = float(arr.min()), float(arr.max())
    nat = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if whole and 19000101 <= lo and hi <= 21001231:
        out = pd.to_datetime(s.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce")
        return ParsedDates(out, "YYYYMMDD numbers", float(out.notna().sum() / len(v)))
    if whole and 1900 <= lo and hi <= 2100 and DATE_NAME.search(name or ""):
        out = pd.to_datetime(s.astype("Int64").astype("string"), format="%Y", errors="coerce")
        return ParsedDates(out, "years", float(out.notna().sum() / len(v)))
    if 20000 <= lo and hi <= 80000 and DATE_NAME.search(name or ""):
        out = EXCEL_EPOCH + pd.to_timedelta(s.astype(float), unit="D")
        out = out.dt.round("s")
        return ParsedDates(out, "Excel serial day numbers", 1.0)
    return ParsedDates(nat, "not dates", 0.0)


_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^\d{8}$"), "yyyymmdd"),
    (re.compile(r"^\d{4}\s*[-/ ]?\s*q[1-4]$", re.I), "year_quarter"),
    (re.compile(r"^q[1-4]\s*[-/ ]?\s*\d{4}$", re.I), "quarter_year"),
    (re.compile(r"^\d{4}-?w\d{1,2}(-?[1-7])?$", re.I), "iso_week"),
    (re.compile(r"^\d{4}[-/.]\d{1,2}$"), "year_month"),
    (re.compile(r"^\d{4}[-\s/]?" + _MONTH + "$", re.I), "year_mon"),
    (re.compile(r"^" + _MONTH + r"[-\s/,]*\d{4}$", re.I), "mon_year"),
    (re.compile(r"^" + _MONTH + r"[-\s/]\d{2}$", re.I), "mon_yy"),
    (re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}([ T].*)?$"), "dmy_or_mdy"),
    (re.compile(r"^\d{4}$"), "year"),
]


def parse_unique_strings(u: pd.Series, warnings: list[str] | None = None) -> tuple[pd.Series, str]:
    """Parse distinct date strings; returns datetime64 values aligned with ``u`` and a description.

    ``warnings`` (a list) receives a line when the column mixes formats."""
    nat = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
    sample = u[u != ""]
    if len(sample) == 0:
        return nat, "not dates"
    probe = sample.iloc[: 2000]
    kind = None
    for pat, k in PATTERNS:
        if probe.str.match(pat).mean() >= 0.9:
            kind = k
            break
    if kind == "yyyymmdd":
        return pd.to_datetime(u, format="%Y%m%d", errors="coerce"), "YYYYMMDD"
    if kind in ("year_quarter", "quarter_year"):
        m = u.str.extract(r"(?i)(\d{4})\s*[-/ ]?\s*q([1-4])") if kind == "year_quarter" else \
            u.str.extract(r"(?i)q([1-4])\s*[-/ ]?\s*(\d{4})")[[1, 0]].set_axis([0, 1], axis=1)
        year = pd.to_numeric(m[0], errors="coerce")
        month = (pd.to_numeric(m[1], errors="coerce") - 1) * 3 + 1
        return _ym(year, month), "quarters (YYYY Qn)"
    if kind == "iso_week":
        m = u.str.extract(r"(?i)^(\d{4})-?w(\d{1,2})(?:-?([1-7]))?$")
        txt = m[0] + "-W" + m[1].str.zfill(2) + "-" + m[2].fillna("1")
        return pd.to_datetime(txt, format="%G-W%V-%u", errors="coerce"), "ISO weeks"
    if kind == "year_month":
        m = u.str.extract(r"^(\d{4})[-/.](\d{1,2})$")
        return _ym(pd.to_numeric(m[0], errors="coerce"), pd.to_numeric(m[1], errors="coerce")), "YYYY-MM months"
    if kind in ("year_mon", "mon_year", "mon_yy"):
        if kind == "mon_yy":
            m = u.str.extract(r"(?i)^([a-z]{3})[a-z]*\.?[-\s/](\d{2})$")
            year = 2000 + pd.to_numeric(m[1], errors="coerce")
            year = year.where(year <= pd.Timestamp.now().year + 30, year - 100)
            mon = m[0]
        elif kind == "year_mon":
            m = u.str.extract(r"(?i)^(\d{4})[-\s/]?([a-z]{3})")
            year, mon = pd.to_numeric(m[0], errors="coerce"), m[1]
        else:
            m = u.str.extract(r"(?i)^([a-z]{3})[a-z]*\.?[-\s/,]*(\d{4})$")
            year, mon = pd.to_numeric(m[1], errors="coerce"), m[0]
        month = mon.str.lower().map({k: i + 1 for i, k in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])})
        return _ym(year, month), "month names"
    if kind == "dmy_or_mdy":
        return _day_month(u)
    if kind == "year":
        return pd.to_datetime(u, format="%Y", errors="coerce"), "years"
    iso_m, dm_m = probe.str.match(_ISO_DAY), probe.str.match(_DM)
    if iso_m.any() and dm_m.any() and (iso_m | dm_m).mean() >= 0.9:
        return _iso_and_day_month(u, warnings)
    return _iso_or_mixed(u)


def _iso_and_day_month(u: pd.Series, warnings: list[str] | None) -> tuple[pd.Series, str]:
    """ISO dates mixed with ``dd.mm.yyyy`` (or ``mm/dd/yyyy``): each format group parsed on its own; day-first
    or month-first decided for the second group alone (a day above 12, else the reading that gives the more
    regular calendar together with the ISO dates, else the separator)."""
    iso_mask, dm_mask = u.str.match(_ISO_DAY), u.str.match(_DM)
    out = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
    out[iso_mask] = pd.to_datetime(u[iso_mask], format="ISO8601", errors="coerce").astype("datetime64[ns]")
    dm = u[dm_mask]
    dmy, mdy, a, b, sep = _dm_readings(dm)
    iso_vals = out[iso_mask].dropna()
    if (a > 12).any() and not (b > 12).any():
        pick, why = dmy, "a day above 12 comes first"
    elif (b > 12).any() and not (a > 12).any():
        pick, why = mdy, "a day above 12 comes second"
    else:
        irr_d = _irregularity(pd.concat([iso_vals, dmy]))
        irr_m = _irregularity(pd.concat([iso_vals, mdy]))
        if irr_d != irr_m:
            pick, why = (dmy, "it fits the calendar of the ISO dates") if irr_d < irr_m else \
                (mdy, "it fits the calendar of the ISO dates")
        else:
            dayfirst = len(sep.dropna()) > 0 and sep.dropna().iloc[0] in (".", "-")
            pick, why = (dmy, "assumed from the '.'/'-' separator") if dayfirst else (mdy, "assumed")
    order = "day-first" if pick is dmy else "month-first"
    out[dm_mask] = pick
    ex_iso, ex_dm = u[iso_mask].iloc[0], dm.iloc[0]
    if warnings is not None:
        warnings.append(f"the date column mixes formats: {int(iso_mask.sum())} distinct value(s) like '{ex_iso}' "
                        f"and {int(dm_mask.sum())} like '{ex_dm}' (read {order}: {why}); check the source")
    return out, f"mixed formats: ISO dates and {order} dates ({why})"


def _dm_readings(u: pd.Series):
    """Both readings (day-first, month-first) of ``d.m.y`` / ``m/d/y`` strings, the two numbers and separator."""
    m = u.str.extract(r"^(\d{1,2})([/.-])(\d{1,2})[/.-](\d{2,4})(?:[ T](.*))?$")
    a, b = pd.to_numeric(m[0], errors="coerce"), pd.to_numeric(m[2], errors="coerce")
    year = pd.to_numeric(m[3], errors="coerce")
    short = m[3].str.len() == 2
    year = year.where(~short, 2000 + year)
    year = year.where(~short | (year <= pd.Timestamp.now().year + 30), year - 100)
    time = m[4].fillna("")

    def build(day: pd.Series, month: pd.Series) -> pd.Series:
        ok = year.notna() & month.between(1, 12) & day.between(1, 31) & year.between(FIRST_YEAR, LAST_YEAR)
        out = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
        if ok.any():
            base = pd.to_datetime({"year": year[ok].astype(int), "month": month[ok].astype(int),
                                   "day": day[ok].astype(int)}, errors="coerce")
            t = time[ok]
            if (t != "").any():
                base = base + pd.to_timedelta(t.where(t != "", "00:00:00").str.replace(r"^(\d{1,2}:\d{2})$", r"\1:00",
                                                                                      regex=True), errors="coerce")
            out[ok] = base
        return out

    return build(a, b), build(b, a), a, b, m[1]


def _ym(year: pd.Series, month: pd.Series) -> pd.Series:
    ok = year.notna() & month.between(1, 12)
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    if ok.any():
        y, m = year[ok].astype(int), month[ok].astype(int)
        out[ok] = pd.to_datetime({"year": y, "month": m, "day": 1})
    return out


def _day_month(u: pd.Series) -> tuple[pd.Series, str]:
    dmy, mdy, a, b, sep = _dm_readings(u)

    if (a > 12).any() and not (b > 12).any():
        return dmy, "day-first dates (a day above 12 comes first)"
    if (b > 12).any() and not (a > 12).any():
        return mdy, "month-first dates (a day above 12 comes second)"
    if dmy.notna().sum() != mdy.notna().sum():
        return (dmy, "day-first dates") if dmy.notna().sum() > mdy.notna().sum() else (mdy, "month-first dates")
    # ambiguous everywhere: pick the reading that gives the more regular calendar
    if _irregularity(dmy) < _irregularity(mdy):
        return dmy, "day-first dates (ambiguous; chosen because it gives a regular calendar)"
    if _irregularity(mdy) < _irregularity(dmy):
        return mdy, "month-first dates (ambiguous; chosen because it gives a regular calendar)"
    sep = sep.dropna()
    dayfirst = len(sep) > 0 and sep.iloc[0] in (".", "-")
    return (dmy, "day-first dates (ambiguous; assumed from the '.'/'-' separator)") if dayfirst else \
        (mdy, "month-first dates (ambiguous; assumed)")


def _irregularity(d: pd.Series) -> int:
    v = np.sort(d.dropna().unique())
    if len(v) < 3:
        return 0
    return int(len(np.unique(np.diff(v))))


def _iso_or_mixed(u: pd.Series) -> tuple[pd.Series, str]:
    has_tz = u.str.contains(_TZ, regex=True)
    if has_tz.mean() > 0.5:
        wall = pd.to_datetime(u.str.replace(_TZ, "", regex=True), format="ISO8601", errors="coerce")
        if wall.notna().mean() >= 0.9 and (wall.dropna() == wall.dropna().dt.normalize()).all():
            return wall, "time zone dropped (whole local days kept)"
        utc = pd.to_datetime(u, format="ISO8601", errors="coerce", utc=True)
        return utc.dt.tz_localize(None), "times converted to UTC"
    iso = pd.to_datetime(u, format="ISO8601", errors="coerce")
    if iso.notna().mean() >= 0.9:
        return iso, "ISO dates"
    # free formats ("Jan 5, 2020", "5 January 2020", "2020/1/5 10:00"): only for text with three date parts
    free = u.str.contains(_THREE_PARTS, regex=True) & iso.isna()
    if not free.any():
        return iso, "ISO dates"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mixed = pd.to_datetime(u[free], format="mixed", errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return iso, "ISO dates"
    if getattr(mixed.dt, "tz", None) is not None:
        mixed = mixed.dt.tz_localize(None)
    out = iso.copy()
    out[free] = mixed.astype("datetime64[ns]")
    return out, "ISO dates" if iso.notna().sum() >= mixed.notna().sum() else "dates (free format)"


def looks_like_dates(s: pd.Series, name: str = "", threshold: float = 0.9) -> bool:
    """Quick check on a sample: do most values of this column parse as dates?"""
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if pd.api.types.is_float_dtype(s) and not DATE_NAME.search(name or ""):
        return False
    sample = s.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype):
        sample = pd.Series(s.cat.categories[:500])
    sample = sample.iloc[:500]
    if len(sample) == 0:
        return False
    if pd.api.types.is_numeric_dtype(sample) and not pd.api.types.is_bool_dtype(sample):
        return parse_dates(sample, name).ok_share >= threshold
    if sample.astype(str).str.fullmatch(r"\s*[+-]?\d+([.,]\d+)?\s*").mean() > 0.5 and \
            not sample.astype(str).str.fullmatch(r"\d{8}|\d{4}").all():
        return False
    return parse_dates(sample.astype(str), name).ok_share >= threshold
