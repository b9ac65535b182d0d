"""A catalog of hostile and broken input files, each with the outcome SalesCast must give.

Every file is generated when the test runs (the large ones are a few MB on disk that expand to gigabytes,
or a single 200 MB line), nothing is committed. A case names the CLI command and flags, the exit code,
a substring of stderr (the one ``error:`` line) and optionally a check on the written output.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

MB = 1 << 20
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@dataclass
class Case:
    name: str
    make: Callable[[Path], Path]              # writes the input file into the folder, returns its path
    command: list[str]                        # CLI arguments after the file ({out} = an output path)
    rc: int
    stderr: list[str] = field(default_factory=list)     # substrings of stderr (case-insensitive)
    env: dict = field(default_factory=dict)   # settings (limits) for this run
    out: str = "out.csv"
    check: Callable[[Path, str], None] | None = None    # (output path, stdout) -> assert
    slow: bool = False


# ---------------------------------------------------------------------------------------------- makers

def daily_rows(n: int = 30, stores=("A", "B")) -> list[str]:
    return [f"{d:%Y-%m-%d},{s},{i % 7 + 1}" for s in stores
            for i, d in enumerate(pd.date_range("2024-01-01", periods=n, freq="D"))]


def csv_file(name: str, lines: list[str] | Callable[[], list[str]], header="date,store,units"):
    def make(folder: Path) -> Path:
        body = lines() if callable(lines) else lines
        p = folder / name
        p.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
        return p
    return make


def bytes_file(name: str, make_bytes: Callable[[], bytes]):
    def make(folder: Path) -> Path:
        p = folder / name
        p.write_bytes(make_bytes())
        return p
    return make


def _workbook_parts() -> dict[str, bytes]:
    """The members of a small valid workbook (one sheet) written by openpyxl."""
    buf = io.BytesIO()
    pd.DataFrame({"date": ["2024-01-01"], "units": [1]}).to_excel(buf, index=False, sheet_name="Sheet1")
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def xlsx_with_sheet(rows: Callable[[], object], dimension: str | None = None) -> Callable[[], bytes]:
    """An .xlsx whose sheet XML is streamed from ``rows()`` (an iterable of bytes chunks), compressed
    as it is written: a few MB of file can declare a sheet of hundreds of MB."""
    def make() -> bytes:
        parts = _workbook_parts()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for n, data in parts.items():
                if n == "xl/worksheets/sheet1.xml":
                    with zf.open(n, "w", force_zip64=True) as fh:
                        fh.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="' + MAIN_NS.encode()
                                 + b'">' + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"")
                                 + b"<sheetData>")
                        for chunk in rows():
                            fh.write(chunk)
                        fh.write(b"</sheetData></worksheet>")
                else:
                    zf.writestr(n, data)
        return out.getvalue()
    return make


def _cell(ref: str, value) -> bytes:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()
    return f'<c r="{ref}"><v>{value}</v></c>'.encode()


def sheet_rows(n_rows: int, extra_cols: int = 0):
    """Header (date, units, …) then ``n_rows`` daily rows; dates as text."""
    def rows():
        head = [_cell("A1", "date"), _cell("B1", "units")] + [_cell(f"{_col(3 + j)}1", f"x{j}") for j in range(extra_cols)]
        yield b'<row r="1">' + b"".join(head) + b"</row>"
        start = pd.Timestamp("2024-01-01")
        batch = []
        for i in range(n_rows):
            r = i + 2
            d = (start + pd.Timedelta(days=i)).strftime("%Y-%m-%d") if i < 60_000 else "2024-01-01"
            cells = [_cell(f"A{r}", d), _cell(f"B{r}", i % 9)] + [_cell(f"{_col(3 + j)}{r}", j) for j in range(extra_cols)]
            batch.append(b'<row r="%d">' % r + b"".join(cells) + b"</row>")
            if len(batch) >= 5000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)
    return rows


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def bomb_rows(total_mb: int):
    """``total_mb`` MB of identical rows: compresses about 200:1."""
    chunk = b'<row><c t="n"><v>1</v></c></row>' * 32768
    def rows():
        for _ in range(int(total_mb * MB / len(chunk)) + 1):
            yield chunk
    return rows


def wide_row(n_cells: int):
    def rows():
        yield b'<row r="1">' + b"".join(b"<c><v>1</v></c>" for _ in range(n_cells)) + b"</row>"
    return rows


def parquet_file(name: str, table_fn: Callable[[], object], **write_kw):
    def make(folder: Path) -> Path:
        import pyarrow.parquet as pq

        p = folder / name
        pq.write_table(table_fn(), p, **write_kw)
        return p
    return make


def nested_table(kind: str):
    def make():
        import pyarrow as pa

        n = 30
        cols = {"date": pa.array(pd.date_range("2024-01-01", periods=n).to_numpy()), "units": list(range(n))}
        cols["meta"] = ([{"a": i, "b": "x"} for i in range(n)] if kind == "struct" else [[i, i + 1] for i in range(n)])
        return pa.table(cols)
    return make


def many_row_groups():
    import pyarrow as pa

    n = 200
    return pa.table({"date": pa.array(pd.date_range("2024-01-01", periods=n).to_numpy()), "units": list(range(n))})


def far_dates_parquet():
    import datetime as dt

    import pyarrow as pa

    d = [dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(20)] + [dt.datetime(9999, 12, 31)]
    return pa.table({"date": pa.array(d, type=pa.timestamp("us")), "units": list(range(21))})


def long_line_csv(line_mb: float):
    def make(folder: Path) -> Path:
        p = folder / f"line{line_mb:g}mb.csv"
        with open(p, "w") as fh:
            fh.write("date,store,units\n")
            fh.write("2024-01-01," + "A" * int(line_mb * MB) + ",1\n")
            for line in daily_rows(20, ("B",)):
                fh.write(line + "\n")
        return p
    return make


def nul_csv(deep: bool):
    def make(folder: Path) -> Path:
        rows = daily_rows(6000 if deep else 20, ("A",))   # deep: past the first 64 KB the sniffer reads
        k = len(rows) - 5 if deep else 3
        d, s, u = rows[k].split(",")
        rows[k] = f"{d},B\x00X,{u}"
        p = folder / ("nul_deep.csv" if deep else "nul_early.csv")
        p.write_text("date,store,units\n" + "\n".join(rows) + "\n")
        return p
    return make


def hostile_ids_csv(folder: Path) -> Path:
    dates = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = pd.DataFrame([{"date": f"{d:%Y-%m-%d}", "store": i, "units": (k + j) % 5 + 1}
                          for j, i in enumerate(HOSTILE_IDS) for k, d in enumerate(dates)])
    p = folder / "hostile_ids.csv"
    frame.to_csv(p, index=False)
    return p


HOSTILE_IDS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/x","click")', "+SUM(1,2)", " =1+1", "@A1"]


def wide_csv(n_cols: int):
    def make(folder: Path) -> Path:
        p = folder / f"wide{n_cols}.csv"
        rng = np.random.default_rng(0)
        vals = rng.integers(0, 9, size=(12, n_cols))
        with open(p, "w") as fh:
            fh.write("date," + ",".join(f"s{i}" for i in range(n_cols)) + "\n")
            for r, d in enumerate(pd.date_range("2024-01-01", periods=12, freq="MS")):
                fh.write(f"{d:%Y-%m-%d}," + ",".join(map(str, vals[r])) + "\n")
        return p
    return make


# ---------------------------------------------------------------------------------------------- checks

def json_out(check: Callable[[dict], None]):
    def run(_out: Path, stdout: str) -> None:
        check(json.loads(stdout))
    return run


def xlsx_text_not_formulas(out: Path, _stdout: str) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(out)
    values = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                values.append(cell.value)
    for hostile in HOSTILE_IDS:
        assert hostile in values, f"id {hostile!r} not stored as the exact text"
    # the raw XML: no <f> element anywhere
    with zipfile.ZipFile(out) as zf:
        for n in zf.namelist():
            if n.startswith("xl/worksheets/"):
                assert b"<f>" not in zf.read(n) and b"<f " not in zf.read(n)


def csv_raw(out: Path, _stdout: str) -> None:
    ids = set(pd.read_csv(out, keep_default_na=False)["store"])
    assert set(HOSTILE_IDS) <= ids, ids


def csv_safe(out: Path, _stdout: str) -> None:
    ids = set(pd.read_csv(out, keep_default_na=False)["store"])
    assert {"'" + i for i in HOSTILE_IDS} <= ids, ids


# ---------------------------------------------------------------------------------------------- the catalog

def catalog() -> list[Case]:
    v = ["validate", "--json"]
    fc = ["forecast", "--horizon", "3", "--model", "naive", "--engine", "serial", "--output", "{out}"]
    return [
        # resource exhaustion: spreadsheets that expand, Parquet footers, CSV lines
        Case("xlsx_member_expands_to_600MB", bytes_file("bomb.xlsx", xlsx_with_sheet(bomb_rows(600))), v, 2,
             ["sheet1.xml' expands to 60", "SALESCAST_MAX_UNZIPPED_MB"], slow=True),
        Case("xlsx_more_cells_than_the_limit", bytes_file("cells.xlsx", xlsx_with_sheet(sheet_rows(60_000))), v, 2,
             ["more than 100,000 cells", "SALESCAST_MAX_CELLS"], env={"SALESCAST_MAX_CELLS": "100000"}),
        Case("xlsx_one_row_wider_than_excel", bytes_file("wide.xlsx", xlsx_with_sheet(wide_row(20_000))), v, 2,
             ["more than 16,384 cells", "SALESCAST_MAX_COLUMNS"]),
        Case("xlsx_dimension_lies", bytes_file("dim.xlsx", xlsx_with_sheet(sheet_rows(40), "A1:XFD1048576")), v, 0,
             check=json_out(lambda j: (j["n_rows"] == 40 and j["freq"] == "D") or (_ for _ in ()).throw(
                 AssertionError(j)))),
        Case("parquet_struct_column", parquet_file("struct.parquet", nested_table("struct")), v, 2,
             ["'meta' (struct)", "nested"]),
        Case("parquet_list_column", parquet_file("list.parquet", nested_table("list")), v, 2,
             ["'meta' (list)", "nested"]),
        Case("parquet_many_row_groups", parquet_file("groups.parquet", many_row_groups, row_group_size=10), v, 2,
             ["20 row groups", "SALESCAST_MAX_ROW_GROUPS"], env={"SALESCAST_MAX_ROW_GROUPS": "5"}),
        Case("csv_200MB_single_line", long_line_csv(200), v, 2, ["line 2 is 200 mb long", "quote"], slow=True),
        Case("csv_2MB_line_is_read", long_line_csv(2), v, 0,
             check=json_out(lambda j: j["n_series"] == 2 or (_ for _ in ()).throw(AssertionError(j)))),
        Case("csv_100k_columns", wide_csv(100_000), v, 0, slow=True,
             check=json_out(lambda j: (j["n_series"] == 100_000 and j["layout"] == "wide")
                            or (_ for _ in ()).throw(AssertionError({k: j[k] for k in ("n_series", "layout")})))),
        # silent corruption: far dates, mixed formats, overflow, NUL bytes
        Case("date_year_9999", csv_file("y9999.csv", daily_rows(20, ("A",)) + ["9999-01-01,A,5"]), v, 2,
             ["line 22", "9999-01-01", "outside the range"]),
        Case("date_year_0001", csv_file("y0001.csv", daily_rows(20, ("A",)) + ["0001-01-01,A,5"]), v, 2,
             ["line 22", "0001-01-01", "outside the range"]),
        Case("date_year_9999_text_column", csv_file("y9999t.csv", [r + ",x" for r in daily_rows(20, ("A",))]
                                                    + ["31.12.9999,A,5,x"], "date,store,units,note"), v, 2,
             ["line 22", "31.12.9999", "outside the range"]),
        Case("date_year_9999_parquet", parquet_file("far.parquet", far_dates_parquet), v, 2,
             ["row 21", "9999-12-31", "outside the range"]),
        Case("dates_iso_mixed_with_dotted",
             csv_file("mixed.csv", [(f"{d:%Y-%m-%d}" if k % 2 else f"{d:%d.%m.%Y}") + f",{k}"
                                    for k, d in enumerate(pd.date_range("2024-03-01", periods=40))], "date,units"),
             v, 0, check=json_out(lambda j: (j["freq"] == "D" and j["missing_dates"] == 0
                                             and any("mixes formats" in w for w in j["warnings"]))
                                  or (_ for _ in ()).throw(AssertionError(j)))),
        Case("value_1_7e308_validate", csv_file("big.csv", [r if k != 5 else r.rsplit(",", 1)[0] + ",1.7e308"
                                                            for k, r in enumerate(daily_rows(30))]), v, 0,
             check=json_out(lambda j: (any("too large" in w and "A (1 value" in w
                                                                    for w in j["warnings"]))
                            or (_ for _ in ()).throw(AssertionError(j)))),
        Case("value_1_7e308_forecast", csv_file("big.csv", [r if k != 5 else r.rsplit(",", 1)[0] + ",1.7e308"
                                                            for k, r in enumerate(daily_rows(30))]), fc, 0,
             ["1 series hold values too large", "A (1 value(s) up to 1.7e+308)"]),
        Case("values_that_overflow_when_combined",
             csv_file("sum.csv", daily_rows(20, ("A",)) + ["2024-01-03,A,1.7e308", "2024-01-03,A,1.7e308"]), v, 2,
             ["series 'A'", "2024-01-03", "overflows"]),
        Case("nul_byte_early", nul_csv(False), v, 2, ["line 5", "zero byte (nul)"]),
        Case("nul_byte_deep", nul_csv(True), v, 2, ["line 5997", "zero byte (nul)"]),
        # tracebacks: horizon, outputs
        Case("horizon_100000", csv_file("h.csv", daily_rows(30)), [*fc[:2], "100000", *fc[3:]], 2,
             ["largest horizon that fits is 86,999"]),
        # injection: spreadsheets store text as text; CSV raw unless --safe-csv
        Case("hostile_ids_xlsx", hostile_ids_csv, fc, 0, out="out.xlsx", check=xlsx_text_not_formulas),
        Case("hostile_ids_csv_raw", hostile_ids_csv, fc, 0, check=csv_raw),
        Case("hostile_ids_csv_safe", hostile_ids_csv, [*fc, "--safe-csv"], 0, check=csv_safe),
    ]
