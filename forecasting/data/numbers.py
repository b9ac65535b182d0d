"""Numbers written as text: decimal commas, thousands separators, currency and percent signs, accounting
negatives, yes/no flags. Works on the distinct values of a column only (categories), so it is fast."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from forecasting.data.sniff import RawTable

CURRENCY = "$€£¥₹₽₩¤"


def clean_numbers(raw: RawTable, decimal_comma_hint: bool) -> None:
    """Turn text columns that hold numbers into float columns, in place, with notes and warnings."""
    df = raw.df
    dtypes = df.dtypes      # numeric columns skipped without building a Series each (files may be 100,000 wide)
    for col in [c for c, t in zip(df.columns, dtypes) if isinstance(t, pd.CategoricalDtype) or t == object]:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            values = pd.Series(s.cat.categories.astype(str))
        elif s.dtype == object:
            values = pd.Series(pd.unique(s.dropna().astype(str)))
        else:
            continue
        if len(values) == 0:
            continue
        parsed, how = parse_number_text(values, decimal_comma_hint)
        if parsed is None:
            parsed, how = parse_flag_text(values)
        if parsed is None:
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            num = parsed.to_numpy()[s.cat.codes.to_numpy()]
            num[s.cat.codes.to_numpy() < 0] = np.nan
        else:
            mapping = dict(zip(values, parsed))
            num = s.astype(str).map(mapping).where(s.notna()).to_numpy(dtype=float)
        bad = s.notna().to_numpy() & np.isnan(num)
        if bad.any():
            idx = np.flatnonzero(bad)
            raw.warnings.append(f"column '{col}': {len(idx)} value(s) are not numbers and are treated as missing "
                                f"(e.g. '{s.iloc[idx[0]]}' on line {raw.line_of(idx[0])})")
        df[col] = num
        if how:
            raw.notes.append(f"column '{col}': {how}")


YES = {"yes", "y", "true", "t", "ja", "j", "oui", "si", "sí", "x", "on", "wahr"}
NO = {"no", "n", "false", "f", "nein", "non", "off", "falsch"}


def parse_flag_text(values: pd.Series) -> tuple[pd.Series | None, str]:
    """yes/no, true/false, ja/nein … flag columns (promotion, holiday) as 1/0."""
    low = values.str.strip().str.lower()
    if not low.isin(YES | NO).all() or not low.isin(YES).any() or not low.isin(NO).any():
        return None, ""
    return low.isin(YES).astype(float), "yes/no read as 1/0"


def parse_number_text(values: pd.Series, decimal_comma_hint: bool) -> tuple[pd.Series | None, str]:
    """Parse distinct text values as numbers. None when the column is not numeric (under 90% parse)."""
    v = values.str.strip()
    low = v.str.lower()
    v = v.where(~low.isin(["inf", "+inf", "-inf", "infinity", "-infinity"]), low)
    stripped = v.str.replace(f"[{CURRENCY}\\s\u00a0'%]", "", regex=True)
    stripped = stripped.str.replace(r"^\((.*)\)$", r"-\1", regex=True)  # accounting negatives (1,234)
    has_currency = bool(v.str.contains(f"[{CURRENCY}]", regex=True).any())
    has_pct = bool(v.str.endswith("%").any())
    looks = stripped.str.fullmatch(r"[+-]?[\d.,]*\d[\d.,]*([eE][+-]?\d+)?|[+-]?(inf|infinity)")
    if looks.mean() < 0.9:
        return None, ""
    both = stripped.str.contains(",") & stripped.str.contains(r"\.")
    comma_only = stripped.str.contains(",") & ~both
    dot_only = stripped.str.contains(r"\.") & ~both
    if both.any():
        last_comma = stripped[both].str.rfind(",")
        last_dot = stripped[both].str.rfind(".")
        decimal = "," if (last_comma > last_dot).mean() > 0.5 else "."
    elif comma_only.any():
        thousands_like = stripped[comma_only].str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+").all()
        decimal = "." if thousands_like and not decimal_comma_hint else ","
    else:
        multi_dot = dot_only.any() and stripped[dot_only].str.fullmatch(r"[+-]?\d{1,3}(\.\d{3}){2,}").all()
        decimal = "," if multi_dot else "."
    if decimal == ",":
        text = stripped.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = stripped.str.replace(",", "", regex=False)
    out = pd.to_numeric(text, errors="coerce")
    if out.notna().mean() < 0.9:
        return None, ""
    how = []
    if decimal == "," and (comma_only.any() or both.any()):
        how.append("decimal comma")
    if (decimal == "." and (comma_only.any() or both.any())) or (decimal == "," and both.any()):
        how.append("thousands separators removed")
    if has_currency:
        how.append("currency symbols removed")
    if has_pct:
        how.append("percent signs removed")
    return out.astype(float), ", ".join(how) + (" when reading numbers" if how else "")
