"""Reading a file into a raw table: format, encoding and CSV dialect sniffing, number cleaning.

The result is a :class:`RawTable` whose columns are as the analyst wrote them: dates not yet parsed,
numbers already numeric (decimal commas, thousands separators, currency symbols and NA tokens handled).
Text columns come back as pandas categoricals (pyarrow dictionary encoding), which keeps million-row
files fast and small.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from forecasting.data.numbers import clean_numbers
from forecasting.data.reshape import combine_date_parts, melt_date_header
from forecasting.errors import DataError

NA_TOKENS = ["", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL", "Null", "None", "none",
             "-", "--", "?", "#VALUE!", "#DIV/0!"]
DELIMITERS = [",", ";", "\t", "|"]
SNIFF_BYTES = 64 * 1024
COMMON_ENCODINGS = {"cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "latin_1", "iso8859_15",
                    "iso8859_2", "mac_roman", "cp850", "cp437", "shift_jis", "cp932", "euc_jp", "gb2312", "gb18030",
                    "gbk", "big5", "euc_kr", "cp949", "koi8_r", "utf_16", "utf_32"}
# Polish/Czech letters (ł ś ź ż ą Ł …) read as cp1252 become these symbols next to letters
_CP1250_IN_CP1252 = re.compile(r"(?<=[A-Za-zÀ-ÿ])[¹³¿Ÿœ£¥Œ¼¾ºšžŠŽ]|[¹³¿Ÿœ£¥Œ¼¾º](?=[A-Za-zÀ-ÿ])")


@dataclass
class RawTable:
    df: pd.DataFrame
    source: str = ""
    kind: str = "csv"                    # csv | excel | parquet
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_line: int = 2                  # file line (1-based) of df row 0, for messages

    def line_of(self, index: int) -> int:
        return int(index) + self.first_line


SourceType = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]


def source_bytes(source: SourceType, filename: str | None = None) -> tuple[bytes, str]:
    """The file's bytes and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename or "upload"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise DataError(f"file not found: {path}")
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a file")
        return path.read_bytes(), filename or path.name
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return data, filename or getattr(source, "name", "upload")
    raise DataError(f"cannot read from a {type(source).__name__}")


def detect_kind(data: bytes, name: str) -> str:
    ext = Path(name).suffix.lower()
    if data[:4] == b"PAR1" or ext == ".parquet":
        return "parquet"
    if data[:4] == b"PK\x03\x04":
        if ext in (".xlsx", ".xlsm") or b"xl/" in data[:4096]:
            return "excel"
        raise DataError(f"{name} is a zip archive; unzip it and upload the CSV, Excel or Parquet file inside")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(f"{name} is an old Excel .xls (or other OLE) file; save it as .xlsx or CSV")
    if ext in (".xlsx", ".xlsm"):
        raise DataError(f"{name} is named .xlsx but is not an Excel workbook")
    if data[:2] == b"\x1f\x8b":
        raise DataError(f"{name} is gzip-compressed; decompress it first")
    return "csv"


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode a text file; returns (text, encoding). Raises DataError for binary content."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise DataError(f"{name}: invalid {enc} text at byte {exc.start}") from None
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        # UTF-16 without a byte-order mark: every other byte is zero for ASCII text
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.3 * len(head) / 2 and even == 0:
            enc = "utf-16-le"
        elif even > 0.3 * len(head) / 2 and odd == 0:
            enc = "utf-16-be"
        else:
            pos = head.index(b"\x00")
            raise DataError(f"{name} looks like a binary file, not text (a zero byte at byte {pos}); "
                            "upload a CSV, TSV, Excel (.xlsx) or Parquet file")
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: invalid {enc} text at byte {exc.start}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    # guess from the start of the file and the neighbourhood of the first non-UTF-8 byte
    sample = data[:SNIFF_BYTES] + b"\n" + data[max(0, first_bad - SNIFF_BYTES):first_bad + SNIFF_BYTES]
    # charset-normalizer ranks every code page; on short samples it may prefer an exotic one (hp_roman8
    # for "Köln" in cp1252), so take its best guess among the encodings spreadsheets actually write
    matches = list(from_bytes(sample))
    best_chaos = min((m.chaos for m in matches), default=0.0)
    tied = [m.encoding for m in matches if m.chaos <= best_chaos + 1e-9 and m.encoding in COMMON_ENCODINGS]
    common = [m.encoding for m in matches if m.encoding in COMMON_ENCODINGS]
    if "cp1252" in tied or "cp1250" in tied:  # Western or Central European: the letters decide
        central = len(_CP1250_IN_CP1252.findall(sample.decode("cp1252", "replace")))
        common = ["cp1250" if central else "cp1252"]
    candidates = common[:1] + ["cp1252", "latin-1"]
    for enc in dict.fromkeys(candidates):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    raise DataError(f"{name}: cannot decode the text: byte {first_bad} is not UTF-8 and the encoding "
                    f"could not be recognised; save the file as UTF-8")  # pragma: no cover (latin-1 decodes all)


def sniff_delimiter(sample: str) -> str:
    """The delimiter giving the same number (>1) of fields on most of the first lines."""
    lines = [ln for ln in sample.splitlines()[:60] if ln.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the last line of a cut sample may be partial
    best, best_score = ",", (0.0, 0)
    for d in DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = d, score
    return best


def header_line(sample: str, delim: str) -> int:
    """Index of the header line: title lines above it ("Sales export", blank lines) have fewer fields."""
    lines = sample.splitlines()[:60]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]
    counts = [len(r) if ln.strip() else 0 for r, ln in zip(csv.reader(lines, delimiter=delim), lines)]
    nonzero = [c for c in counts if c]
    if not nonzero:
        return 0
    mode = max(set(nonzero), key=nonzero.count)
    return next((i for i, c in enumerate(counts) if c == mode), 0)


def read_csv_bytes(data: bytes | str, name: str, delim: str, skip: int = 0) -> RawTable:
    """Read UTF-8 CSV (bytes, or a file path pyarrow reads itself) with pyarrow, multi-threaded, retrying
    columns as text where typing fails."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = data[:SNIFF_BYTES] if isinstance(data, bytes) else _read_head(data)
    bad_rows: list = []

    def on_bad_row(row) -> str:
        bad_rows.append(row)
        return "error"

    # a line with an odd number of quotes continues on the next line: slower, newline-aware parsing
    quoted_newlines = b'"' in head and any(ln.count(b'"') % 2 for ln in head.split(b"\n")[:-1])
    parse = pacsv.ParseOptions(delimiter=delim, newlines_in_values=quoted_newlines, invalid_row_handler=on_bad_row)
    read = pacsv.ReadOptions(skip_rows=skip)
    column_types: dict = {}
    notes = [] if delim == "," else [f"columns separated by {'a tab' if delim == chr(9) else repr(delim)}"]
    if skip:
        notes.append(f"{skip} line(s) above the header skipped")
    for _attempt in range(64):
        convert = pacsv.ConvertOptions(null_values=NA_TOKENS, strings_can_be_null=True, quoted_strings_can_be_null=True,
                                       column_types=column_types, timestamp_parsers=[pacsv.ISO8601])
        try:
            table = pacsv.read_csv(pa.BufferReader(data) if isinstance(data, bytes) else data,
                                   read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "invalid UTF8" in msg or "invalid utf8" in msg.lower():
                raise _InvalidUTF8(msg) from None
            if bad_rows:
                row = bad_rows[0]
                where = f"line {_line_number(data if isinstance(data, bytes) else Path(data).read_bytes(), row)}"
                raise DataError(f"{name}: {where} has {row.actual_columns} field(s) but the header has "
                                f"{row.expected_columns} (ragged rows; check the delimiter and quoting)") from None
            m = re.search(r"In CSV column #(\d+): .*conversion error", msg)
            header = _header(head, delim, skip)
            if m and int(m.group(1)) < len(header) and header[int(m.group(1))] not in column_types:
                column_types[header[int(m.group(1))]] = pa.string()
                continue
            if "Empty CSV file" in msg:
                raise DataError(f"{name} is empty") from None
            raise DataError(f"{name}: cannot read it as CSV ({msg.splitlines()[0][:200]})") from None
        aware = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is not None]
        if not aware:
            break
        # time-zone-aware timestamps: pyarrow converts them to UTC; read them as text so dates.py
        # can keep whole local days (daily data) or convert to UTC (hourly data)
        column_types.update({c: pa.string() for c in aware})
    else:  # pragma: no cover - 64 retries means a pathological file
        raise DataError(f"{name}: cannot read it as CSV")
    import pyarrow.compute as pc

    for i, f in enumerate(table.schema):  # text -> dictionary -> pandas categorical: no object per row
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            table = table.set_column(i, f.name, pc.dictionary_encode(table.column(i)))
    table = _fix_names(table, notes)
    df = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    for f in table.schema:
        if pa.types.is_null(f.type):  # an all-empty column: missing numbers, not text
            df[f.name] = np.nan
    _check_header(df, name)
    raw = RawTable(df, name, "csv", notes, first_line=skip + 2)
    clean_numbers(raw, decimal_comma_hint=delim in (";", "\t"))
    return raw


class _InvalidUTF8(Exception):
    """pyarrow met bytes that are not UTF-8 past the checked prefix: transcode and read again."""


def _read_head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES)


def _header(data: bytes, delim: str, skip: int = 0) -> list[str]:
    first = data.split(b"\n", skip + 1)[skip].decode("utf-8", "replace").rstrip("\r")
    return next(csv.reader([first], delimiter=delim), [])


def _fix_names(table, notes: list[str]):
    """Unnamed columns get a name (or go, when empty); repeated names get a suffix."""
    names, keep, seen = [], [], {}
    for i, n in enumerate(table.schema.names):
        col = table.column(i)
        if not n.strip():
            if col.null_count == len(col):
                notes.append(f"an empty column without a name (position {i + 1}) was ignored")
                continue
            n = f"column_{i + 1}"
            notes.append(f"the column at position {i + 1} has no name; called it '{n}'")
        base, k = n, 2
        while n in seen:
            n, k = f"{base}_{k}", k + 1
        if n != base:
            notes.append(f"column name '{base}' repeats; the repeat is called '{n}'")
        seen[n] = True
        names.append(n)
        keep.append(i)
    if len(keep) != table.num_columns:
        table = table.select(keep)
    return table.rename_columns(names)


def _check_header(df: pd.DataFrame, name: str) -> None:
    """A first line of numbers or dates is data, not column names."""
    cols = [str(c) for c in df.columns]
    looks_data = [bool(re.fullmatch(r"\s*[-+]?[\d.,]+\s*|\s*\d{1,4}[-/.]\d{1,2}([-/.]\d{1,4})?.*", c)) for c in cols]
    if len(cols) >= 2 and sum(looks_data) >= len(cols) - 1 and looks_data[0]:
        raise DataError(f"{name}: the first line ({', '.join(cols[:4])}) looks like data, not column names; "
                        "add a header line such as date,store,units")


def _line_number(data: bytes, row) -> int | str:
    """The file line of a row pyarrow rejected (its own number is unknown when reading in parallel)."""
    if row.number is not None and row.number >= 0:
        return row.number
    pos = data.find(row.text.encode("utf-8")) if row.text else -1
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else "?"


def _is_date_objects(s: pd.Series) -> bool:
    import datetime as dt

    first = s.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], dt.date) and not isinstance(first.iloc[0], dt.datetime)


def read_excel(data: bytes, name: str, sheet: str | None) -> RawTable:
    sheets = list_sheets(data, name)
    if sheet is not None and sheet not in sheets:
        raise DataError(f"{name} has no sheet '{sheet}'; its sheets are {sheets}")
    use = sheet if sheet is not None else sheets[0]
    try:
        top = pd.read_excel(io.BytesIO(data), sheet_name=use, engine="openpyxl", header=None, nrows=30)
        filled = top.notna().sum(axis=1)
        # the header is the first full row: report titles and blank rows above it are skipped
        skip = int(np.flatnonzero(filled.to_numpy() == filled.max())[0]) if len(top) else 0
        df = pd.read_excel(io.BytesIO(data), sheet_name=use, engine="openpyxl", na_values=NA_TOKENS,
                           keep_default_na=True, header=skip)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{name}: cannot read sheet '{use}' ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c) for c in df.columns]
    df = df.loc[:, [not c.startswith("Unnamed:") or df[c].notna().any() for c in df.columns]]
    df = df.dropna(how="all")
    notes = [f"sheet '{use}'" + (f" of {len(sheets)}" if len(sheets) > 1 else "")]
    if skip:
        notes.append(f"{skip} row(s) above the header skipped")
    for c in df.columns:  # text columns as categoricals, like the CSV reader's; mixed columns stay objects
        if df[c].dtype == object and df[c].dropna().map(type).eq(str).all():
            df[c] = df[c].astype("category")
    raw = RawTable(df.reset_index(drop=True), name, "excel", notes, first_line=skip + 2)
    clean_numbers(raw, decimal_comma_hint=False)
    return raw


def list_sheets(source: SourceType, filename: str | None = None) -> list[str]:
    """The sheet names of an Excel workbook (for the page's sheet choice and ``--sheet``)."""
    import openpyxl

    data, name = source_bytes(source, filename)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        names = list(wb.sheetnames)
        wb.close()
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{name}: not a readable Excel workbook ({type(exc).__name__})") from None
    return names


def read_parquet(data: bytes, name: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:
        raise DataError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0][:160]})") from None
    df = table.to_pandas()
    for c in df.columns:
        if df[c].dtype == object and not _is_date_objects(df[c]):
            df[c] = df[c].astype("category")
    df.columns = [str(c) for c in df.columns]
    raw = RawTable(df, name, "parquet", [])
    clean_numbers(raw, decimal_comma_hint=False)
    return raw


def read_raw(source: SourceType, *, filename: str | None = None, sheet: str | None = None) -> RawTable:
    """Read any supported file into a :class:`RawTable` (no column roles decided yet)."""
    fast = _read_utf8_csv_path(source, filename)
    if fast is not None:
        return _check_rows(fast, fast.source)
    data, name = source_bytes(source, filename)
    if not data or data.isspace():
        raise DataError(f"{name} is empty")
    kind = detect_kind(data, name)
    if kind == "excel":
        raw = read_excel(data, name, sheet)
    elif kind == "parquet":
        raw = read_parquet(data, name)
    else:
        text_enc = None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
            text_enc = "utf-8-sig"
        elif b"\x00" not in data[:SNIFF_BYTES] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:  # a prefix only: pyarrow checks the rest, and invalid UTF-8 there is transcoded below
                data[:1 << 20].decode("utf-8")
                text_enc = "utf-8"
            except UnicodeDecodeError as exc:
                if len(data) > 1 << 20 and exc.start >= (1 << 20) - 4:  # a character cut by the prefix
                    text_enc = "utf-8"
        if text_enc is None:  # transcode to UTF-8 for pyarrow
            text, text_enc = decode_text(data, name)
            data = text.encode("utf-8")
        if not data or data.isspace():
            raise DataError(f"{name} is empty")
        head = data[:SNIFF_BYTES].decode("utf-8", "ignore")
        delim = sniff_delimiter(head)
        skip = header_line(head, delim)
        try:
            raw = read_csv_bytes(data, name, delim, skip=skip)
        except _InvalidUTF8:
            text, text_enc = decode_text(data, name)
            raw = read_csv_bytes(text.encode("utf-8"), name, delim, skip=skip)
        if text_enc not in ("utf-8",):
            raw.notes.insert(0, f"text encoding {text_enc}")
    return _check_rows(raw, name)


def _check_rows(raw: RawTable, name: str) -> RawTable:
    combine_date_parts(raw)
    melt_date_header(raw)
    if raw.df.shape[1] == 0:
        raise DataError(f"{name} has no columns")
    if len(raw.df) == 0:
        raise DataError(f"{name} has a header ({', '.join(map(str, raw.df.columns[:6]))}) but no data rows")
    if len(raw.df) == 1:
        raise DataError(f"{name} has a single data row; forecasting needs at least two dates")
    return raw


def _read_utf8_csv_path(source, filename: str | None) -> RawTable | None:
    """A plain UTF-8 CSV on disk: pyarrow reads the file itself (no copy of it in Python memory).

    None for anything else (Excel, Parquet, other encodings, bytes): the general path handles those."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(source)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    head = _read_head(str(path))
    name = filename or path.name
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head or head.isspace() \
            or detect_kind(head, name) != "csv":
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return None
        text = head[:exc.start].decode("utf-8")
    delim = sniff_delimiter(text)
    try:
        return read_csv_bytes(str(path), name, delim, skip=header_line(text, delim))
    except _InvalidUTF8:
        return None
