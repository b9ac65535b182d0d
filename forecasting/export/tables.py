"""CSV and Excel writers that are safe to open in a spreadsheet.

Formula injection: a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage
return, which some spreadsheets strip before parsing) is run as a formula by Excel, LibreOffice and
Google Sheets. Such text cells get a leading ``'`` so they show as text; plain numbers written as text
(``-12.5``, ``+3``) are left alone, and numeric cells are never touched.
Column names are user strings too (the analyst's headers) and are neutralised the same way.
"""
from __future__ import annotations

import io
import re
from typing import Any, Mapping

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise(value: Any) -> Any:
    """Make one cell value inert: ``"=HYPERLINK(…)"`` → ``"'=HYPERLINK(…)"``; numbers pass through."""
    if not isinstance(value, str) or not value or not value.startswith(_TRIGGERS):
        return value
    if _PLAIN_NUMBER.match(value.strip()):
        return value
    return "'" + value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name neutralised (numeric/date columns untouched)."""
    out = df.copy()
    out.columns = [neutralise(str(c)) if not isinstance(c, str) else neutralise(c) for c in out.columns]
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype) or isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object).map(neutralise)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (RFC 4180 line ends, no index) of ``df`` with formula triggers neutralised.

    CRLF line ends make the writer quote fields holding a bare ``\\r`` as well as ``\\n``."""
    return safe_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def sheet_name(name: str, taken: set[str] | None = None) -> str:
    """An Excel sheet name: no ``[]:*?/\\``, at most 31 characters, unique among ``taken``."""
    base = _SHEET_BAD.sub("_", str(name)).strip("'") or "sheet"
    base = base[:31]
    taken = taken if taken is not None else set()
    name, i = base, 2
    while name.lower() in taken:
        suffix = f" ({i})"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    taken.add(name.lower())
    return name


def to_excel_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """One .xlsx workbook with a sheet per frame (in order), text cells neutralised.

    Empty mappings still give a valid workbook with an explanatory sheet."""
    buf = io.BytesIO()
    taken: set[str] = set()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        if not sheets:
            pd.DataFrame({"note": ["nothing to export yet"]}).to_excel(xw, sheet_name="empty", index=False)
        for name, frame in sheets.items():
            sn = sheet_name(name, taken)
            safe_frame(_excel_ready(frame)).to_excel(xw, sheet_name=sn, index=False)
            ws = xw.sheets[sn]
            for cell in ws[1]:
                cell.font = cell.font.copy(bold=True)
            ws.freeze_panes = "A2"
    return buf.getvalue()


def _excel_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Excel cannot store tz-aware datetimes or nested objects: make them plain."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_localize(None)
        elif s.dtype == object:
            out[col] = s.map(lambda v: v if isinstance(v, (str, int, float, bool, type(None), pd.Timestamp))
                             else str(v))
    return out
