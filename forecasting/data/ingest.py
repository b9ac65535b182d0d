"""Ingest: any sales file the analyst has -> one validated long frame (:class:`Dataset`).

    ds = load("sales.csv")                                   # everything detected
    ds = load(data, filename="sales.xlsx", sheet="2024", date_col="Datum", id_cols=[])   # one series

Steps: read the raw table (:mod:`forecasting.data.sniff`), guess the column roles (:func:`detect_columns`;
every guess can be overridden), parse dates (:mod:`forecasting.data.dates`), reshape a wide file, infer
the frequency and snap dates to its grid (:mod:`forecasting.data.frequency`), combine rows sharing a
series and period (sum by default, mean on request) and check the result. Everything done is written to
``Dataset.notes``; anything suspicious to :attr:`IngestReport.warnings`. Work is vectorised on integer
codes (no Python loop per row), so a million-row file takes about as long as pyarrow needs to read it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, ID_SEPARATOR, SINGLE_SERIES_ID, Y, Dataset
from forecasting.data.dates import DATE_NAME, looks_like_dates, parse_dates
from forecasting.data.frequency import describe, infer_freq, nominal_ns, normalize_freq, snap
from forecasting.data.sniff import RawTable, SourceType, list_sheets, read_raw
from forecasting.errors import ConfigError, DataError
from forecasting.progress import ProgressCallback, report

__all__ = ["load", "load_report", "build", "detect_columns", "list_sheets", "read_raw", "ColumnGuess",
           "IngestReport"]

TARGET_NAME = re.compile(r"sales|units|unit_sales|qty|quantity|demand|target|^y$|value|revenue|amount|volume|"
                         r"orders|count|sold|turnover|umsatz|menge|absatz|ventas|passengers|visitors|traffic",
                         re.IGNORECASE)
COVARIATE_NAME = re.compile(r"price|promo|discount|holiday|temp|weather|rain|event|flag|^is_|^has_|cost|rate|"
                            r"percent|pct|index|stock|open|closed|weekday|dow", re.IGNORECASE)
ID_NAME = re.compile(r"(^|_|\b)(id|store|shop|sku|product|item|article|region|category|location|branch|customer|"
                     r"code|series|country|city|channel|segment|brand|warehouse|dept|department|ean|upc|gtin|plu|material|"
                     r"artikel|filiale|kunde|tienda|magasin)s?($|_|\b)",
                     re.IGNORECASE)
WIDE_TARGET = "value"
WIDE_ID = "series"


@dataclass
class ColumnGuess:
    """What :func:`detect_columns` guessed, with the candidates a mapping form offers."""
    date_col: str | None
    target_col: str | None
    id_cols: list[str]
    covariates: list[str]
    layout: str                                    # "long" | "wide"
    series_cols: list[str] = field(default_factory=list)      # wide layout: one column per series
    date_candidates: list[str] = field(default_factory=list)   # only the date-typed ones when there are any
    numeric_cols: list[str] = field(default_factory=list)
    text_cols: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """A Dataset plus what ingest found on the way (for the quality report and ``validate``)."""
    dataset: Dataset
    layout: str
    n_input_rows: int
    duplicates: int                                # input rows combined into another (series, period)
    combined_by_series: pd.Series                  # unique_id -> rows combined
    inferred_freq: str
    warnings: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------
# column roles


def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)


def _kind(dtype) -> str:
    """text | datetime | bool | int | float | other, from a dtype alone (no Series built)."""
    if isinstance(dtype, pd.CategoricalDtype) or dtype == object or pd.api.types.is_string_dtype(dtype):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "other"


def _maybe_dates(df: pd.DataFrame, cols: list, kinds: dict) -> list:
    """Columns worth parsing as dates. Numbers count only when named like a date or holding YYYYMMDD values
    (checked on all integer columns at once): a wide file of numbers does not parse each column."""
    out = []
    ints = [c for c in cols if kinds[c] == "int" and not DATE_NAME.search(str(c))]
    yyyymmdd: set = set()
    if ints:
        block = df[ints]
        lo, hi = block.min().to_numpy(), block.max().to_numpy()
        yyyymmdd = {c for c, a, b in zip(ints, lo, hi) if 19000101 <= a and b <= 21001231}
    for c in cols:
        k = kinds[c]
        if k in ("datetime", "text") or (k in ("int", "float") and DATE_NAME.search(str(c))) or c in yyyymmdd:
            out.append(c)
    return out


def _nunique(s: pd.Series) -> int:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return int(len(s.cat.categories))
    return int(s.nunique())


def detect_columns(df: pd.DataFrame) -> ColumnGuess:
    """Guess the date, target, id and covariate columns and the layout of a raw table."""
    n = len(df)
    cols = list(df.columns)
    dtypes = df.dtypes                              # one pass over the columns' types: files may be 100,000 wide
    by_dtype: dict = {}
    kinds = {}
    for c, t in zip(cols, dtypes):
        k = by_dtype.get(t)
        if k is None:
            k = by_dtype[t] = _kind(t)
        kinds[c] = k
    maybe_date = _maybe_dates(df, cols, kinds)
    # a date-typed column (Parquet, Excel, the API's parsed timestamps) is chosen before any text, so text
    # columns are not parsed as dates then (they were the cost of reading a small table); the
    # classification of the other columns does not depend on it
    date_cands = [c for c in maybe_date if kinds[c] == "datetime"] or \
        [c for c in maybe_date if looks_like_dates(df[c], str(c))]
    if not date_cands:  # a date column with many bad values still is the date column: say which rows
        date_cands = [c for c in maybe_date if DATE_NAME.search(str(c)) and looks_like_dates(df[c], str(c), 0.5)]
    dt_typed = [c for c in date_cands if kinds[c] == "datetime"]
    hinted = [c for c in date_cands if DATE_NAME.search(str(c))]
    date_col = (dt_typed or hinted or date_cands or [None])[0]
    rest = [c for c in cols if c != date_col]
    text = [c for c in rest if kinds[c] == "text"]
    numeric = [c for c in rest if kinds[c] in ("int", "float", "bool")]
    ids = [c for c in text if 1 <= _nunique(df[c]) <= max(1, n // 2)]
    for c in numeric:  # integer codes named like ids: store 1, 2, 3
        if kinds[c] == "int" and ID_NAME.search(str(c)) and not TARGET_NAME.search(str(c)) \
                and _nunique(df[c]) <= max(1, n // 2):
            ids.append(c)
    id_set = set(ids)
    numeric = [c for c in numeric if c not in id_set]
    unused = [c for c in text if c not in id_set]
    non_cov = [c for c in numeric if not COVARIATE_NAME.search(str(c)) and kinds[c] != "bool"]
    hinted_target = [c for c in non_cov if TARGET_NAME.search(str(c))]
    if not ids and not hinted_target and len(non_cov) >= 2:
        series = set(non_cov)
        return ColumnGuess(date_col, None, [], [c for c in numeric if c not in series], "wide", series_cols=non_cov,
                           date_candidates=date_cands, numeric_cols=numeric, text_cols=text, unused=unused)
    target = (hinted_target or non_cov or numeric or [None])[0]
    covs = [c for c in numeric if c != target]
    return ColumnGuess(date_col, target, ids, covs, "long", date_candidates=date_cands, numeric_cols=numeric,
                       text_cols=text, unused=unused)


# ----------------------------------------------------------------------------------------------------
# public entry points


def load(source: SourceType, *, filename: str | None = None, date_col: str | None = None,
         target_col: str | None = None, id_cols: list[str] | None = None, freq: str | None = None,
         agg: str = "sum", sheet: str | None = None, layout: str | None = None,
         progress: ProgressCallback | None = None) -> Dataset:
    """Read a CSV/TSV/Excel/Parquet file (path, bytes or file-like) into a validated :class:`Dataset`.

    ``id_cols=None`` detects the id columns, ``[]`` makes one series of all rows (aggregated per date).
    ``freq`` coarser than the data's aggregates to it; ``agg`` is ``"sum"`` or ``"mean"``.
    Raises :class:`DataError` / :class:`ConfigError` with a message meant for the analyst."""
    return load_report(source, filename=filename, date_col=date_col, target_col=target_col, id_cols=id_cols,
                       freq=freq, agg=agg, sheet=sheet, layout=layout, progress=progress).dataset


def load_report(source: SourceType, *, filename: str | None = None, date_col: str | None = None,
                target_col: str | None = None, id_cols: list[str] | None = None, freq: str | None = None,
                agg: str = "sum", sheet: str | None = None, layout: str | None = None,
                progress: ProgressCallback | None = None) -> IngestReport:
    """Like :func:`load`, but returns the :class:`IngestReport` (duplicates combined, warnings)."""
    report(progress, "ingest", 0, 4, "reading the file")
    raw = read_raw(source, filename=filename, sheet=sheet)
    return build(raw, date_col=date_col, target_col=target_col, id_cols=id_cols, freq=freq, agg=agg,
                 layout=layout, progress=progress)


def build(raw: RawTable, *, date_col: str | None = None, target_col: str | None = None,
          id_cols: list[str] | None = None, freq: str | None = None, agg: str = "sum",
          layout: str | None = None, progress: ProgressCallback | None = None) -> IngestReport:
    """Turn a raw table into the long frame, with the given (or detected) column roles."""
    if agg not in ("sum", "mean"):
        raise ConfigError(f"unknown aggregation '{agg}'; use sum or mean")
    df = raw.df
    name = raw.source
    for c in [date_col, target_col, *(id_cols or [])]:
        if c is not None and c not in df.columns:
            raise DataError(f"{name} has no column '{c}'; its columns are {list(map(str, df.columns))}")
    report(progress, "ingest", 1, 4, "detecting columns")
    guess = detect_columns(df)
    date_col = date_col or guess.date_col
    if date_col is None:
        raise DataError(f"{name}: no column holds dates (columns: {', '.join(map(str, df.columns))}); "
                        "name the date column", setting="date_col")
    if date_col == guess.date_col or date_col not in guess.series_cols:
        guess.series_cols = [c for c in guess.series_cols if c != date_col]
    use_wide = layout == "wide" or (layout is None and target_col is None and id_cols is None
                                    and guess.layout == "wide" and guess.date_col == date_col)
    warnings = list(raw.warnings)
    notes = list(raw.notes)
    n_input = len(df)

    parsed = parse_dates(df[date_col], str(date_col))
    if parsed.ok_share < 0.5:
        first = df[date_col].dropna()
        example = f" (e.g. '{first.iloc[0]}' on line {raw.line_of(first.index[0])})" if len(first) else ""
        raise DataError(f"{name}: column '{date_col}' does not hold dates{example}; "
                        "name the date column", setting="date_col")
    if parsed.out_of_range is not None and len(parsed.out_of_range):
        far = parsed.out_of_range
        shown = ", ".join(f"line {raw.line_of(i)} ('{df[date_col].iloc[i]}')" for i in far[:3])
        raise DataError(f"{name}: {len(far)} date(s) in column '{date_col}' lie outside the range SalesCast can "
                        f"compute with ({pd.Timestamp.min.date()} to {pd.Timestamp.max.date()}): {shown}"
                        + (" …" if len(far) > 3 else "") + "; correct or remove them")
    if parsed.warning:
        warnings.append(parsed.warning)
    ds_values = parsed.values
    notes.append(f"dates in column '{date_col}' read as {parsed.how}")
    bad = ds_values.isna().to_numpy()
    keep = None
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = ", ".join(f"line {raw.line_of(i)} ('{df[date_col].iloc[i]}')" for i in idx[:3])
        if len(idx) > max(1, 0.01 * n_input):
            raise DataError(f"{name}: {len(idx)} row(s) of column '{date_col}' are not readable dates: {shown}"
                            + (" …" if len(idx) > 3 else ""))
        warnings.append(f"{len(idx)} row(s) without a readable date in '{date_col}' were left out: {shown}")
        keep = ~bad

    if use_wide:
        series_cols = guess.series_cols
        if not series_cols:
            raise DataError(f"{name}: no numeric column to forecast (columns: {', '.join(map(str, df.columns))})")
        in_series = set(series_cols)
        covs = [c for c in guess.covariates if c not in in_series and c != date_col]
        frame, codes, labels, id_values = _melt_wide(df, series_cols, covs, ds_values, keep)
        if guess.unused:
            notes.append(f"column(s) not used (text): {', '.join(map(str, guess.unused))}")
        if covs:
            notes.append(f"covariate column(s) shared by every series: {', '.join(map(str, covs))}")
        out_target, out_ids, lay = WIDE_TARGET, [WIDE_ID], "wide"
        notes.append(f"wide layout: {len(series_cols)} series columns ({', '.join(map(str, series_cols[:8]))}"
                     + (" …" if len(series_cols) > 8 else "") + ")")
    else:
        target_col = target_col or guess.target_col
        if target_col is None:
            raise DataError(f"{name}: no numeric column to forecast (columns: {', '.join(map(str, df.columns))}); "
                            "name the target", setting="target_col")
        if id_cols is None:
            id_cols = [c for c in guess.id_cols if c not in (date_col, target_col)]
        if date_col in id_cols or target_col in id_cols or target_col == date_col:
            raise ConfigError("the date, target and id columns must be different columns")
        y = df[target_col]
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            first = y.dropna()
            example = f" (e.g. '{first.iloc[0]}' on line {raw.line_of(first.index[0])})" if len(first) else ""
            raise DataError(f"{name}: target column '{target_col}' is not numeric{example}")
        roles = {date_col, target_col, *id_cols}
        not_cov = roles | set(guess.id_cols)          # sets: a file may have 100,000 columns
        numeric = set(guess.numeric_cols)
        covs = [c for c in df.columns if c not in not_cov and c in numeric]
        used = roles | set(covs)
        ignored = [c for c in df.columns if c not in used]
        if ignored:
            notes.append(f"column(s) not used (text, not ids): {', '.join(map(str, ignored))}")
        codes, labels, id_values = _series_codes(df, id_cols, warnings)
        frame = {DS: ds_values.to_numpy(), Y: y.to_numpy(dtype="float64", na_value=np.nan)}
        for c in covs:
            frame[c] = df[c].to_numpy(dtype="float64", na_value=np.nan)
        if keep is not None:
            frame, codes = {k: v[keep] for k, v in frame.items()}, codes[keep]
        out_target, out_ids, lay = target_col, list(id_cols), "long"
    _check_values(frame, out_target, raw, keep)
    report(progress, "ingest", 2, 4, "inferring the frequency")
    frame, codes, labels, id_values = _sort_by_label(frame, codes, labels, id_values)
    chosen = normalize_freq(freq) if freq else None
    try:
        same = codes[1:] == codes[:-1]
        inferred = infer_freq(codes, frame[DS], same)
    except DataError:
        if chosen is None:
            raise
        inferred = chosen  # one date per series: nothing to infer from, the analyst's choice stands
    if chosen is None:
        chosen = inferred
    else:
        if nominal_ns(chosen) < nominal_ns(inferred) * 0.99 and not (chosen == "D" and inferred == "B"):
            raise ConfigError(f"the data is {describe(inferred)} ({inferred}); it cannot be made finer ({chosen}). "
                              f"Choose {inferred} or a coarser frequency")
        if chosen != inferred:
            notes.append(f"aggregated from {describe(inferred)} ({inferred}) to {describe(chosen)} ({chosen}) with {agg}")
    notes.append(f"frequency {chosen} ({describe(chosen)})" + ("" if freq else ", inferred from the dates"))
    day_grid = chosen == "D" and not (frame[DS].view("i8") % 86_400_000_000_000).any()
    snapped = frame[DS] if day_grid else snap(pd.Series(frame[DS]), chosen).to_numpy()
    moved = 0 if day_grid else int((snapped != frame[DS]).sum())
    if moved and chosen == inferred:
        notes.append(f"{moved} date(s) moved to the label of their {describe(chosen)} period")
    frame[DS] = snapped
    report(progress, "ingest", 3, 4, "combining rows")
    with np.errstate(over="ignore", invalid="ignore"):
        frame, codes, combined = _combine(frame, codes, covs, agg)  # (recomputes "same": snapping may merge rows)
    _check_combined(frame, codes, labels, out_target, agg, name)
    dup_total = int(combined.sum())
    combined_s = pd.Series(combined, index=labels, name="combined")
    if dup_total:
        notes.append(f"{dup_total} row(s) shared a series and period with another row and were combined "
                     f"({agg} of the target, mean of the covariates)")
    frame = pd.DataFrame({ID: np.asarray(labels, dtype=object)[codes], **frame}, copy=False)
    if frame[Y].isna().all():
        raise DataError(f"{name}: the target column '{out_target}' has no values (all {n_input} rows are missing)")
    id_map = None
    if out_ids:
        id_map = pd.DataFrame({ID: labels})
        for c, vals in zip(out_ids, id_values):
            id_map[c] = vals
    ds = Dataset(df=frame, freq=chosen, date_col=str(date_col), target_col=str(out_target), id_cols=out_ids,
                 id_map=id_map, covariates=list(map(str, covs)), source=name, notes=notes)
    if len(frame) < 2:
        raise DataError(f"{name}: only one period remains after combining rows; forecasting needs at least two")
    report(progress, "ingest", 4, 4, f"{len(labels)} series, {len(frame)} rows")
    return IngestReport(ds, lay, n_input, dup_total, combined_s, inferred, warnings)


# ----------------------------------------------------------------------------------------------------
# helpers (vectorised on integer codes)


def _series_codes(df: pd.DataFrame, id_cols: list[str], warnings: list[str]):
    """Integer code per row, the unique_id label per code, and the original id values per code."""
    if not id_cols:
        return np.zeros(len(df), dtype=np.int64), np.array([SINGLE_SERIES_ID], dtype=object), []
    per_col_codes, per_col_uniques = [], []
    for c in id_cols:
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, uniques = s.cat.codes.to_numpy().astype(np.int64), np.asarray(s.cat.categories.astype(str))
        else:
            codes, uniques = pd.factorize(s)
            uniques = np.asarray(pd.Index(uniques).astype(str), dtype=object)
        if (codes < 0).any():
            warnings.append(f"{int((codes < 0).sum())} row(s) have no value in id column '{c}'; "
                            "they form the series '(missing)'")
            uniques = np.append(uniques.astype(object), "(missing)")
            codes = np.where(codes < 0, len(uniques) - 1, codes)
        per_col_codes.append(codes)
        per_col_uniques.append(np.asarray(uniques, dtype=object))
    if len(id_cols) == 1:
        used = np.bincount(per_col_codes[0], minlength=len(per_col_uniques[0])) > 0
        if used.all():  # the common case: codes straight from the dictionary, no re-coding pass
            return per_col_codes[0], per_col_uniques[0].astype(object), [per_col_uniques[0]]
    combo = per_col_codes[0].copy()
    for k, uq in zip(per_col_codes[1:], per_col_uniques[1:]):
        combo = combo * len(uq) + k
    _, codes = np.unique(combo, return_inverse=True)
    _, first = np.unique(codes, return_index=True)
    id_values = [uq[k[first]] for k, uq in zip(per_col_codes, per_col_uniques)]
    labels = id_values[0].astype(object)
    for v in id_values[1:]:
        labels = np.char.add(np.char.add(labels.astype(str), ID_SEPARATOR), v.astype(str)).astype(object)
    return codes.astype(np.int64), labels.astype(object), id_values


def _melt_wide(df, series_cols, covs, ds_values, keep):
    """Stack one block per series column; shared covariates are repeated for every series."""
    d = ds_values.to_numpy()
    dtypes = df.dtypes
    for c in series_cols:
        t = dtypes[c]
        if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
            raise DataError(f"series column '{c}' is not numeric")
    n = len(df)
    mask = np.ones(n, dtype=bool) if keep is None else keep
    m = int(mask.sum())
    block = df[series_cols].to_numpy(dtype="float64", na_value=np.nan)[mask]   # one block: [rows, series]
    frame = {DS: np.tile(d[mask], len(series_cols)), Y: block.T.reshape(-1)}
    for c in covs:
        frame[c] = np.tile(df[c].to_numpy(dtype="float64", na_value=np.nan)[mask], len(series_cols))
    codes = np.repeat(np.arange(len(series_cols), dtype=np.int64), m)
    labels = np.asarray([str(c) for c in series_cols], dtype=object)
    return frame, codes, labels, [labels.copy()]


def _check_values(frame: dict, target: str, raw: RawTable, keep) -> None:
    """Infinities are an error (a broken export), reported with the line of the first one."""
    for c, v in frame.items():
        if c == DS:
            continue
        inf = np.isinf(v)
        if inf.any():
            rows = np.flatnonzero(keep) if keep is not None else np.arange(len(raw.df))
            i = int(np.flatnonzero(inf)[0]) % len(rows)  # a wide frame stacks one block per series
            col = target if c == Y else c
            raise DataError(f"{raw.source}: column '{col}' holds {int(inf.sum())} infinite value(s), "
                            f"first on line {raw.line_of(rows[i])}")


def _check_combined(frame: dict, codes: np.ndarray, labels: np.ndarray, target: str, agg: str, name: str) -> None:
    """Rows combined into one period can overflow (two values of 1e308 sum to inf): say which series."""
    for c, v in frame.items():
        if c == DS:
            continue
        inf = np.isinf(v)
        if inf.any():
            i = int(np.flatnonzero(inf)[0])
            col = target if c == Y else c
            raise DataError(f"{name}: combining the rows of series '{labels[codes[i]]}' on "
                            f"{pd.Timestamp(frame[DS][i]).date()} ({agg} of column '{col}') overflows: the values "
                            f"are too large to add up ({int(inf.sum())} period(s)); check the source for broken "
                            "numbers such as 1e308")


def _sort_by_label(frame, codes, labels, id_values):
    """Renumber codes in label order and sort rows by (label, date): the contract's order."""
    order = np.argsort(labels.astype(str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    codes = rank[codes]
    labels = labels[order]
    id_values = [v[order] for v in id_values]
    ds_i8 = frame[DS].view("i8")
    dc = np.diff(codes)
    if len(codes) > 1 and np.all(dc >= 0) and np.all((np.diff(ds_i8) >= 0) | (dc > 0)):
        return frame, codes, labels, id_values
    idx = np.lexsort((ds_i8, codes))
    return {k: v[idx] for k, v in frame.items()}, codes[idx], labels, id_values


def _combine(frame: dict, codes: np.ndarray, covs: list, agg: str):
    """Combine rows sharing (series, period) (columns as arrays, sorted by code and date)."""
    # sorted by (code, date) already: _sort_by_label sorted it and snapping keeps dates in order
    ds_i8 = frame[DS].view("i8")
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    dup = np.zeros(len(codes), dtype=bool)
    dup[1:] = (codes[1:] == codes[:-1]) & (ds_i8[1:] == ds_i8[:-1])
    combined = np.bincount(codes[dup], minlength=n_codes)
    if not dup.any():
        return frame, codes, combined
    group = np.cumsum(~dup) - 1
    g = pd.DataFrame({k: v for k, v in frame.items() if k != DS}, copy=False).groupby(group, sort=False)
    ycol = g[Y].sum(min_count=1) if agg == "sum" else g[Y].mean()
    out = {DS: frame[DS][~dup], Y: ycol.to_numpy()}
    for c in covs:
        out[c] = g[c].mean().to_numpy()
    return out, codes[~dup], combined
