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
_LEADING_SPACE = re.compile(r"^[ \u00a0\u2000-\u200b\u3000\ufeff]+(?=[=+\-@\t\r])")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise(value: Any) -> Any:
    """Make one cell value inert: ``"=HYPERLINK(…)"`` → ``"'=HYPERLINK(…)"``; numbers pass through."""
    if not isinstance(value, str) or not value:
        return value
    if not value.startswith(_TRIGGERS) and not _LEADING_SPACE.match(value):  # " =1+1" runs in some spreadsheets
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


def to_excel_bytes(sheets: Mapping[str, pd.DataFrame], neutralise: bool = True) -> bytes:
    """One .xlsx workbook with a sheet per frame (in order); every text cell is stored as text, never as a
    formula, and is also neutralised (a leading ``'``) unless ``neutralise=False``.

    Empty mappings still give a valid workbook with an explanatory sheet."""
    buf = io.BytesIO()
    taken: set[str] = set()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        if not sheets:
            pd.DataFrame({"note": ["nothing to export yet"]}).to_excel(xw, sheet_name="empty", index=False)
        for name, frame in sheets.items():
            sn = sheet_name(name, taken)
            ready = _excel_ready(frame)
            (safe_frame(ready) if neutralise else ready).to_excel(xw, sheet_name=sn, index=False)
            ws = xw.sheets[sn]
            _text_as_text(ws)
            for cell in ws[1]:
                cell.font = cell.font.copy(bold=True)
            ws.freeze_panes = "A2"
    return buf.getvalue()


def _text_as_text(ws) -> None:
    """openpyxl turns any string starting with ``=`` into a formula: store it as a string instead."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


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


# ---------------------------------------------------------------- result tables

LOWER_IS_BETTER = ("mae", "rmse", "mape", "smape", "mase", "rmsse", "wape", "pinball")
RANK_METRICS = ("mase", "rmsse", "wape", "mae", "rmse", "smape")


def rank_metric(metrics: pd.DataFrame) -> str | None:
    """The metric models are ranked by: the first of MASE, RMSSE, WAPE, MAE … that has values."""
    for m in RANK_METRICS:
        if m in metrics.columns and metrics[m].notna().any():
            return m
    return None


def win_counts(metrics: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """How many series each model wins (lowest ``metric``; ties go to the model listed first).

    Returns ``model, wins, share`` sorted by wins; models that never win are listed with 0."""
    metric = metric or rank_metric(metrics)
    models = list(pd.unique(metrics["model"])) if "model" in metrics else []
    if metric is None or metrics.empty:
        return pd.DataFrame({"model": models, "wins": 0, "share": 0.0})
    valid = metrics.dropna(subset=[metric])
    best = valid.loc[valid.groupby("unique_id", sort=False)[metric].idxmin(), "model"]
    counts = best.value_counts().reindex(models, fill_value=0)
    out = pd.DataFrame({"model": counts.index, "wins": counts.to_numpy().astype(int)})
    n = max(int(valid["unique_id"].nunique()), 1)
    out["share"] = out["wins"] / n
    return out.sort_values("wins", ascending=False, kind="stable").reset_index(drop=True)


def quality_table(dataset) -> pd.DataFrame:
    """Per-series data quality (the Data page's report: span, gaps, missing, zeros, negatives, outliers)."""
    from forecasting.data.quality import quality_report

    return dataset.restore_ids(quality_report(dataset).summary)


def quality_findings(dataset) -> pd.DataFrame:
    """The quality report's findings (check, series, severity, count, message, fix), analyst's ids."""
    from forecasting.data.quality import quality_report

    return dataset.restore_ids(quality_report(dataset).findings_frame())


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Dict/list cells (model settings) become JSON text so every writer can store them."""
    import json

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, (dict, list, tuple))).any():
            out[col] = out[col].map(lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list, tuple)) else v)
    return out


def _restore(dataset, frame: pd.DataFrame) -> pd.DataFrame:
    out = dataset.restore_ids(frame.rename(columns={"ds": "date"}))
    if "level" in out.columns and dataset.id_cols:     # a hierarchy's nodes: the level beside the id columns
        cols = [c for c in out.columns if c != "level"]
        k = len(dataset.id_cols)
        out = out[cols[:k] + ["level"] + cols[k:]]
    return _flat(out)


def export_tables(dataset, forecast_result=None, backtest_result=None,
                  quality: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The frames every download is built from, with the analyst's id columns and ``date``.

    Keys (also the Excel sheet names): ``forecasts``, ``metrics``, ``leaderboard``, ``backtest``,
    ``settings``, ``data quality`` — only those with content."""
    out: dict[str, pd.DataFrame] = {}
    if forecast_result is not None:
        out["forecasts"] = _restore(dataset, forecast_result.forecasts)
    if backtest_result is not None:
        out["metrics"] = _restore(dataset, backtest_result.metrics)
        if backtest_result.summary is not None and len(backtest_result.summary):
            out["leaderboard"] = _flat(backtest_result.summary)
        by_level = (backtest_result.info or {}).get("summary_by_level")
        if by_level:
            out["leaderboard by level"] = _flat(pd.DataFrame(by_level))
        out["backtest"] = _restore(dataset, backtest_result.forecasts)
    settings = getattr(forecast_result, "settings", None) if forecast_result is not None else None
    if settings is not None and len(settings):
        out["settings"] = _restore(dataset, settings)
    elif backtest_result is not None:
        cols = [c for c in ("unique_id", "model", "settings", "fallback", "notes") if c in backtest_result.metrics]
        out["settings"] = _restore(dataset, backtest_result.metrics[cols])
    out["data quality"] = _flat(quality) if quality is not None else quality_table(dataset)
    return out
