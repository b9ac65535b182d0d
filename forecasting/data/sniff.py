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

from forecasting.data.limits import Limits
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


def nul_error(name: str, line: int, column: str | None = None) -> DataError:
    where = f" (column '{column}')" if column is not None else ""
    return DataError(f"{name}: line {line}{where} holds a zero byte (NUL), which text never contains: the file "
                     "is damaged or was cut and joined; remove the zero byte(s) and save the file again")


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
            controls = sum(head.count(bytes([b])) for b in (*range(0, 9), *range(14, 32)))
            if controls <= max(2, len(head) // 1000):   # text with a stray zero byte: same answer as deeper
                raise nul_error(name, head.count(b"\n", 0, pos) + 1)
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


def read_csv_bytes(data: bytes | str, name: str, delim: str, skip: int = 0, limits: Limits | None = None) -> RawTable:
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
    limits = limits or Limits.from_env()
    read = pacsv.ReadOptions(skip_rows=skip)
    if _has_long_line(data, read.block_size):   # pyarrow fails on (and can hang after) a line longer than its block
        length, line = _longest_line(data)
        if length > limits.max_line_mb << 20:
            raise _long_line(name, length, line, limits)
        read = pacsv.ReadOptions(skip_rows=skip, block_size=2 * length + (1 << 20))
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
            if "straddl" in msg or "block size" in msg:  # a line longer than pyarrow's block (1 MB)
                length, line = _longest_line(data)
                if length > limits.max_line_mb << 20 or read.block_size > 2 * length:
                    raise _long_line(name, length, line, limits) from None
                read = pacsv.ReadOptions(skip_rows=skip, block_size=2 * length + (1 << 20))
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

    # text -> dictionary -> pandas categorical: no object per row (one new table, not one per column)
    if any(pa.types.is_string(f.type) or pa.types.is_large_string(f.type) for f in table.schema):
        table = pa.table([pc.dictionary_encode(c) if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
                          else c for c in table.columns], names=table.schema.names)
    _check_timestamps(table, name, first_line=skip + 2)
    table = _fix_names(table, notes)
    df = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    for f in table.schema:
        if pa.types.is_null(f.type):  # an all-empty column: missing numbers, not text
            df[f.name] = np.nan
    _check_header(df, name)
    raw = RawTable(df, name, "csv", notes, first_line=skip + 2)
    clean_numbers(raw, decimal_comma_hint=delim in (";", "\t"))
    return raw


def _has_long_line(data: bytes | str, block: int) -> bool:
    """Whether a line may be longer than ``block`` bytes: true when some aligned span of ``block // 2``
    bytes holds no newline (a longer line covers one). One ``memchr`` per span: about free."""
    import mmap

    half = max(block // 2, 1)
    if isinstance(data, bytes):
        view, close = data, None
    else:
        fh = open(data, "rb")
        if os.fstat(fh.fileno()).st_size == 0:
            fh.close()
            return False
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        close = (view, fh)
    try:
        n = len(view)
        for start in range(0, max(n - half, 0), half):
            if view.find(b"\n", start, start + half) < 0:
                return True
        return False
    finally:
        if close:
            for c in close:
                c.close()


def _longest_line(data: bytes | str) -> tuple[int, int]:
    """(length in bytes, 1-based line number) of the longest line, read in chunks."""
    import numpy as np

    best, best_line, line, carry = 0, 1, 1, 0
    fh = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")
    with fh:
        while True:
            chunk = fh.read(16 << 20)
            if not chunk:
                break
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if len(nl):
                lengths = np.diff(nl, prepend=-1)
                lengths[0] += carry
                k = int(lengths.argmax())
                if lengths[k] > best:
                    best, best_line = int(lengths[k]), line + k
                line += len(nl)
                carry = len(chunk) - int(nl[-1]) - 1
            else:
                carry += len(chunk)
            if carry > best:
                best, best_line = carry, line
    return best, best_line


def _long_line(name: str, length: int, line: int, limits: Limits) -> DataError:
    mb = length / (1 << 20)
    return DataError(f"{name}: line {line} is {mb:,.0f} MB long (more than the limit of {limits.max_line_mb} MB "
                         "for one line); a sales file has short lines: it is not a CSV file, or a quote (\") "
                         "opened on that line is never closed. Raise the limit with the setting "
                         f"{Limits.setting('max_line_mb')} if the line is real")


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


def read_excel(data: bytes, name: str, sheet: str | None, limits: Limits | None = None) -> RawTable:
    """Read one sheet in openpyxl's streaming (read-only) mode, within ``limits``.

    The archive is checked first (the uncompressed size of each member, the cells of the sheet and of
    its widest row), then rows are read one at a time and counted, so a small file that expands to
    gigabytes is refused before it is parsed, not after the machine runs out of memory."""
    import openpyxl

    limits = limits or Limits.from_env()
    sheets = list_sheets(data, name)
    if sheet is not None and sheet not in sheets:
        raise DataError(f"{name} has no sheet '{sheet}'; its sheets are {sheets}")
    use = sheet if sheet is not None else sheets[0]
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            ws = wb[use]
            _precheck_sheet(wb, ws, name, use, limits)
            rows = _sheet_rows(ws, name, use, limits)
        finally:
            wb.close()
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{name}: cannot read sheet '{use}' ({type(exc).__name__}: {str(exc)[:200]})") from None
    df, skip = _frame_from_rows(rows)
    del rows
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


def check_archive(data: bytes, name: str, limits: Limits | None = None) -> None:
    """Refuse a workbook (a zip archive) with a member that expands beyond the limit, before openpyxl
    opens it: opening alone scans every sheet for its dimension. zipfile stops reading a member at its
    declared size, so the declared sizes bound what can be read."""
    import zipfile

    limits = limits or Limits.from_env()
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{name}: not a readable Excel workbook ({str(exc)[:120]})") from None
    cap = limits.max_unzipped_mb << 20
    for info in infos:
        if info.file_size > cap:
            raise _too_big(name, f"its part '{info.filename}' expands to {info.file_size / (1 << 20):,.0f} MB",
                           "max_unzipped_mb", limits.max_unzipped_mb, " MB")
    total = sum(i.file_size for i in infos)
    if total > 2 * cap:
        raise _too_big(name, f"its parts expand to {total / (1 << 20):,.0f} MB in all", "max_unzipped_mb",
                       2 * limits.max_unzipped_mb, " MB (twice the limit per part)")


def _too_big(name: str, what: str, limit_name: str, limit: int, unit: str = "") -> DataError:
    return DataError(f"{name}: {what}, more than the limit of {limit:,}{unit}; split the file, or raise the "
                     f"limit with the setting {Limits.setting(limit_name)}")


def _precheck_sheet(wb, ws, name: str, sheet: str, limits: Limits) -> None:
    """Refuse an archive whose members expand beyond the limit, or a sheet with too many cells (counted
    on the uncompressed XML as it streams, before openpyxl builds a single cell)."""
    zf = wb._archive
    path = getattr(ws, "_worksheet_path", None)
    if not path:
        return
    cell_tag = re.compile(rb"<(?:\w+:)?c[\s/>]")
    row_tag = re.compile(rb"<(?:\w+:)?row[\s/>]")
    total = widest = in_row = 0
    tail = b""
    with zf.open(path) as fh:
        while True:
            chunk = fh.read(4 << 20)
            if not chunk:
                break
            buf = tail + chunk
            cut = buf.rfind(b"<")            # a tag cut by the chunk boundary is counted with the next chunk
            if cut < 0 or len(chunk) < 4 << 20:
                cut = len(buf)
            buf, tail = buf[:cut], buf[cut:]
            pieces = row_tag.split(buf)
            for k, piece in enumerate(pieces):
                if k:
                    widest, in_row = max(widest, in_row), 0
                n = len(cell_tag.findall(piece)) if b":c" in piece else \
                    piece.count(b"<c ") + piece.count(b"<c>") + piece.count(b"<c/>")
                in_row += n
                total += n
            if total > limits.max_cells:
                raise _too_big(name, f"sheet '{sheet}' holds more than {limits.max_cells:,} cells", "max_cells",
                               limits.max_cells)
            if max(widest, in_row) > limits.max_columns:
                raise _too_big(name, f"sheet '{sheet}' has a row of more than {limits.max_columns:,} cells",
                               "max_columns", limits.max_columns)


def _sheet_rows(ws, name: str, sheet: str, limits: Limits) -> list[tuple]:
    """The sheet's rows as value tuples, counted as they stream (padding included)."""
    ws.reset_dimensions()   # the declared dimension may lie ("A1:XFD1048576"): size rows by their cells
    rows: list[tuple] = []
    cells = 0
    max_rows = min(limits.max_rows, 1_048_576)
    for row in ws.iter_rows(values_only=True):
        if len(row) > limits.max_columns:
            raise _too_big(name, f"sheet '{sheet}' has more than {limits.max_columns:,} columns", "max_columns",
                           limits.max_columns)
        cells += max(len(row), 1)
        if cells > limits.max_cells:
            raise _too_big(name, f"sheet '{sheet}' holds more than {limits.max_cells:,} cells", "max_cells",
                           limits.max_cells)
        if len(rows) >= max_rows:
            raise _too_big(name, f"sheet '{sheet}' has more than {max_rows:,} rows", "max_rows", max_rows)
        rows.append(row)
    return rows


def _frame_from_rows(rows: list[tuple]) -> tuple[pd.DataFrame, int]:
    """Header row (the first full row among the first 30: titles above it are skipped), then the data,
    typed as ``pandas.read_excel`` would (NA tokens missing, columns of numbers or dates typed)."""
    width = max((len(r) for r in rows), default=0)
    top = rows[:30]
    filled = [sum(v is not None and v != "" for v in r) for r in top]
    skip = filled.index(max(filled)) if filled else 0
    header = list(rows[skip]) + [None] * (width - len(rows[skip])) if rows else []
    names, seen = [], {}
    for i, h in enumerate(header):
        n = f"Unnamed: {i}" if h is None or (isinstance(h, str) and not h.strip()) else str(h)
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n]}"
        else:
            seen[n] = 0
        names.append(n)
    body = rows[skip + 1:]
    df = pd.DataFrame.from_records([r + (None,) * (width - len(r)) if len(r) < width else r for r in body],
                                   columns=names, nrows=len(body)) if body else pd.DataFrame(columns=names)
    na = set(NA_TOKENS)
    for c in df.columns:
        s = df[c]
        if s.dtype == object:
            is_na = s.map(lambda v: isinstance(v, str) and v.strip() in na)
            if is_na.any():
                s = s.mask(is_na, None)
            df[c] = s.infer_objects()
            if df[c].dtype == object and s.map(lambda v: v is None or isinstance(v, (int, float))).all() \
                    and s.notna().any():
                df[c] = pd.to_numeric(s, errors="coerce")
    return df, skip


def list_sheets(source: SourceType, filename: str | None = None) -> list[str]:
    """The sheet names of an Excel workbook (for the page's sheet choice and ``--sheet``)."""
    import openpyxl

    data, name = source_bytes(source, filename)
    check_archive(data, name)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        names = list(wb.sheetnames)
        wb.close()
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{name}: not a readable Excel workbook ({type(exc).__name__})") from None
    return names


def read_parquet(data: bytes, name: str, limits: Limits | None = None) -> RawTable:
    """Read a Parquet file after checking its footer: flat columns only, rows and row groups within limits."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    limits = limits or Limits.from_env()
    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
        meta, schema = pf.metadata, pf.schema_arrow
    except Exception as exc:
        raise DataError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0][:160]})") from None
    nested = [f"'{f.name}' ({_arrow_kind(f.type)})" for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise DataError(f"{name}: column(s) {', '.join(nested[:5])}{' …' if len(nested) > 5 else ''} hold nested "
                        "values; SalesCast reads flat tables: one number, text or date per cell. Flatten them "
                        "(or leave them out) when writing the file")
    if meta.num_row_groups > limits.max_row_groups:
        raise _too_big(name, f"it has {meta.num_row_groups:,} row groups", "max_row_groups", limits.max_row_groups)
    if meta.num_rows > limits.max_rows:
        raise _too_big(name, f"it has {meta.num_rows:,} rows", "max_rows", limits.max_rows)
    try:
        table = pf.read()
    except (MemoryError, DataError):
        raise
    except Exception as exc:
        raise DataError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0][:160]})") from None
    _check_timestamps(table, name, first_line=1, unit="row")
    df = table.to_pandas()
    for c in df.columns:
        if df[c].dtype == object and not _is_date_objects(df[c]):
            df[c] = df[c].astype("category")
    df.columns = [str(c) for c in df.columns]
    raw = RawTable(df, name, "parquet", [])
    clean_numbers(raw, decimal_comma_hint=False)
    return raw


def _arrow_kind(t) -> str:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_map(t):
        return "map"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    return str(t)


# pandas keeps timestamps as int64 nanoseconds: 1677-09-21 .. 2262-04-11
NS_MIN, NS_MAX = pd.Timestamp.min, pd.Timestamp.max


def _check_timestamps(table, name: str, first_line: int, unit: str = "line") -> None:
    """A date outside pandas' range would wrap around when converted (9999 -> 1816): refuse it with its
    line and value instead."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for f in table.schema:
        if not (pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)):
            continue
        col = table.column(f.name)
        as_s = col.cast(pa.timestamp("s", f.type.tz) if pa.types.is_timestamp(f.type) else pa.timestamp("s")) \
            if not (pa.types.is_timestamp(f.type) and f.type.unit == "ns") else None
        if as_s is None:
            continue                                  # nanoseconds: in range by construction
        secs = pc.cast(as_s, pa.int64())
        lo, hi = NS_MIN.value // 10**9 + 1, NS_MAX.value // 10**9
        bad = pc.or_(pc.less(secs, lo), pc.greater(secs, hi))
        idx = pc.indices_nonzero(pc.fill_null(bad, False))
        if len(idx):
            i = idx[0].as_py()
            value = col[i].as_py()
            raise DataError(f"{name}: {unit} {i + first_line} has the date {value} in column '{f.name}', outside "
                            f"the range SalesCast can compute with ({NS_MIN.date()} to {NS_MAX.date()}); "
                            f"{len(idx)} such row(s): correct or remove them")


def read_raw(source: SourceType, *, filename: str | None = None, sheet: str | None = None,
             min_rows: int = 2) -> RawTable:
    """Read any supported file into a :class:`RawTable` (no column roles decided yet). ``min_rows``: fewer data
    rows are refused (2 for sales history; a side table such as a stock file may hold one)."""
    fast = _read_utf8_csv_path(source, filename)
    if fast is not None:
        return _check_rows(fast, fast.source, min_rows)
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
    return _check_rows(raw, name, min_rows)


def _check_rows(raw: RawTable, name: str, min_rows: int = 2) -> RawTable:
    _check_nul(raw, name)
    combine_date_parts(raw)
    melt_date_header(raw)
    if raw.df.shape[1] == 0:
        raise DataError(f"{name} has no columns")
    if len(raw.df) == 0:
        raise DataError(f"{name} has a header ({', '.join(map(str, raw.df.columns[:6]))}) but no data rows")
    if len(raw.df) == 1 and min_rows > 1:
        raise DataError(f"{name} has a single data row; forecasting needs at least two dates")
    return raw


def _check_nul(raw: RawTable, name: str) -> None:
    """A zero byte anywhere (a column name, an id deep in the file) is refused like one near the start."""
    df = raw.df
    for i, c in enumerate(df.columns):
        if "\x00" in str(c):
            raise nul_error(name, raw.first_line - 1, str(c).replace("\x00", "\\0"))
    for c in [c for c, t in zip(df.columns, df.dtypes) if isinstance(t, pd.CategoricalDtype) or t == object]:
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            if cats.dtype != object and not pd.api.types.is_string_dtype(cats.dtype):
                continue
            hit = np.flatnonzero(pd.Series(cats.astype(str)).str.contains("\x00", regex=False).to_numpy())
            if len(hit):
                row = int(np.flatnonzero(np.isin(s.cat.codes.to_numpy(), hit))[0])
                raise nul_error(name, raw.line_of(row), str(c))
        elif s.dtype == object:
            has = s.map(lambda v: isinstance(v, str) and "\x00" in v).to_numpy()
            if has.any():
                raise nul_error(name, raw.line_of(int(np.flatnonzero(has)[0])), str(c))


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
