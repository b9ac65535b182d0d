"""Reshaping raw tables whose dates are spread over columns, before column roles are guessed:

- year and month (or quarter, or week) in two columns -> one date column;
- one column per date (``store, 2024-01, 2024-02, …``) -> rows of (date, value);
- a year per row with month columns (``Jahr, Jan, …, Dez``) -> rows of (year-month, value).

Each works in place on a :class:`~forecasting.data.sniff.RawTable` and adds a note saying what it did."""
from __future__ import annotations

from typing import TYPE_CHECKING

import re

import pandas as pd

if TYPE_CHECKING:
    from forecasting.data.sniff import RawTable

_YEAR = re.compile(r"^(year|yr|jahr|ano|año|annee|année|fiscal_year)$", re.I)
_PARTS = [("month", re.compile(r"^(month|mon|monat|mes|mois|mm)$", re.I), 12),
          ("quarter", re.compile(r"^(quarter|qtr|q|quartal|trimestre)$", re.I), 4),
          ("week", re.compile(r"^(week|wk|kw|woche|semana|semaine|iso_week)$", re.I), 53)]
_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"])}
_MONTHS |= {"mär": 3, "mrz": 3, "mai": 5, "okt": 10, "dez": 12,                      # German
            "fév": 2, "fev": 2, "avr": 4, "aoû": 8, "aou": 8, "déc": 12,             # French (juin/juil below)
            "ene": 1, "abr": 4, "ago": 8, "dic": 12, "gen": 1, "mag": 5, "giu": 6, "lug": 7, "set": 9, "ott": 10}


def _month_number(label: str) -> int | None:
    low = label.strip().lower().rstrip(".")
    if low.startswith("juil"):
        return 7
    if low.startswith("juin"):
        return 6
    return _MONTHS.get(low[:3])


def combine_date_parts(raw: RawTable) -> None:
    """Year and month (or quarter, or week) in separate columns become one date column, in place.

    Without this the year column alone would look like the date and silently sum twelve months a year."""
    df = raw.df
    if any(pd.api.types.is_datetime64_any_dtype(df[c]) for c in df.columns):
        return
    year = next((c for c in df.columns if _YEAR.match(str(c).strip())), None)
    if year is None or not pd.api.types.is_numeric_dtype(df[year]):
        return
    y = pd.to_numeric(df[year], errors="coerce")
    if not y.dropna().between(1900, 2100).all():
        return
    for kind, pat, top in _PARTS:
        part = next((c for c in df.columns if pat.match(str(c).strip())), None)
        if part is None:
            continue
        v = df[part]
        if not pd.api.types.is_numeric_dtype(v):
            v = v.astype(str).str.strip().str.lower().str.replace(r"^q", "", regex=True)
            v = v.map(_month_number).where(v.map(_month_number).notna(), pd.to_numeric(v, errors="coerce")) \
                if kind == "month" else pd.to_numeric(v, errors="coerce")
        v = pd.to_numeric(v, errors="coerce")
        if v.notna().mean() < 0.9 or not v.dropna().between(1, top).all():
            continue
        yy = y.astype("Int64").astype("string")
        vv = v.astype("Int64").astype("string").str.zfill(2)
        text = {"month": yy + "-" + vv, "quarter": yy + " Q" + vv.str.lstrip("0"), "week": yy + "-W" + vv}[kind]
        name = f"{year}-{part}"
        raw.df = df.drop(columns=[year, part])
        raw.df.insert(0, name, text.astype("category"))
        raw.notes.append(f"columns '{year}' and '{part}' combined into the date column '{name}'")
        return


def melt_date_header(raw: RawTable) -> None:
    """One column per date (``store, 2024-01, 2024-02, …``) becomes rows (``store, date, value``), in place."""
    from forecasting.data.dates import parse_dates

    df = raw.df
    _melt_month_columns(raw)
    if raw.df is not df:
        return
    names = pd.Series([str(c) for c in df.columns])
    parsed = parse_dates(names.where(~names.str.fullmatch(r"\d{1,4}"), ""), "date").values  # "1", "2024" alone: no
    is_date = parsed.notna().to_numpy()
    if is_date.sum() < 3 or is_date.mean() < 0.5:
        return
    date_cols = [c for c, d in zip(df.columns, is_date) if d]
    others = [c for c, d in zip(df.columns, is_date) if not d]
    if any(not pd.api.types.is_numeric_dtype(df[c]) for c in date_cols):
        return
    long = df.melt(id_vars=others, value_vars=date_cols, var_name="date", value_name="value")
    mapping = dict(zip(date_cols, parsed[is_date]))
    long["date"] = long["date"].map(mapping).astype("datetime64[ns]")
    for c in others:
        if long[c].dtype == object:
            long[c] = long[c].astype("category")
    raw.df = long
    raw.notes.append(f"{len(date_cols)} date columns in the header ({date_cols[0]} … {date_cols[-1]}) turned "
                     "into rows: columns 'date' and 'value'")


def _melt_month_columns(raw: RawTable) -> None:
    """``year, Jan, Feb, …, Dec`` (a year per row, a month per column) becomes ``year-month, value`` rows."""
    df = raw.df
    year = next((c for c in df.columns if _YEAR.match(str(c).strip())), None)
    months = {c: _month_number(str(c)) for c in df.columns
              if _month_number(str(c)) and re.fullmatch(r"[^\W\d_]{3,9}\.?", str(c).strip())
              and pd.api.types.is_numeric_dtype(df[c])}
    if year is None or len(months) < 6 or not pd.api.types.is_numeric_dtype(df[year]):
        return
    others = [c for c in df.columns if c != year and c not in months]
    long = df.melt(id_vars=[year, *others], value_vars=list(months), var_name="_month", value_name="value")
    y = pd.to_numeric(long[year], errors="coerce").astype("Int64").astype("string")
    m = long["_month"].map(months).astype("Int64").astype("string").str.zfill(2)
    name = f"{year}-month"
    long.insert(0, name, (y + "-" + m).astype("category"))
    raw.df = long.drop(columns=[year, "_month"])
    raw.notes.append(f"month columns ({', '.join(map(str, list(months)[:3]))} …) with '{year}' turned into rows: "
                     f"columns '{name}' and 'value'")
